"""The credentials file written by `atoms login`: `<state_dir>/credentials.json`, owner-only.

Written atomically (a temp file in the same directory, fsync, `os.replace`, fsync of the directory) so a crash
never leaves half a file; the file is 0600 inside a 0700 directory. Reading refuses a file that group or others
can access, that another user owns, or that is a symbolic link, with the exact command that fixes it: a token
readable by others is a leaked token. (POSIX permissions; on Windows the checks are skipped.)
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

from atoms_mcp.core.errors import UnauthenticatedError

__all__ = [
    "CREDENTIALS_FILE",
    "CredentialStore",
    "Credentials",
    "CredentialsError",
    "InsecureCredentialsError",
    "LoginError",
]

CREDENTIALS_FILE = "credentials.json"
_MAX_FILE_BYTES = 1 << 20
_POSIX = os.name == "posix"


class CredentialsError(UnauthenticatedError):
    """The credentials file cannot be used; the message says how to fix it."""


class LoginError(UnauthenticatedError):
    """Signing in (or refreshing the session) failed; the message says why and what to do."""


class InsecureCredentialsError(CredentialsError):
    """The credentials file or its directory is accessible to other users (or is not ours)."""


class Credentials(BaseModel):
    """What `atoms login` keeps: the tokens plus what a refresh and a logout need without re-discovery."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: int = 1
    issuer: str = Field(description="The authorization server (ATOMS_AUTH_URL at login).")
    client_id: str
    token_endpoint: str
    revocation_endpoint: str | None = None
    resource: str | None = Field(default=None, description="RFC 8707 resource the token was requested for.")
    token_type: str = "Bearer"
    access_token: str
    refresh_token: str | None = None
    expires_at: int | None = Field(default=None, description="Access token expiry, seconds since the epoch.")
    scope: str | None = None
    obtained_at: int = Field(default_factory=lambda: int(time.time()))

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """True when the access token expires within `seconds` (a token without expiry never does)."""
        if self.expires_at is None:
            return False
        return self.expires_at - (time.time() if now is None else now) <= seconds

    def needs_refresh(self, buffer_seconds: float, now: float | None = None) -> bool:
        """True when the token expires within the buffer - or within half its lifetime if that is shorter, so a
        server issuing tokens shorter than the buffer does not get a refresh on every call."""
        if self.expires_at is None:
            return False
        lifetime = self.expires_at - self.obtained_at
        return self.expires_within(min(buffer_seconds, lifetime / 2) if lifetime > 0 else buffer_seconds, now)


class CredentialStore:
    """Load, save and delete `<state_dir>/credentials.json` safely."""

    def __init__(self, state_dir: Path) -> None:
        self.directory = Path(state_dir).expanduser()
        self.path = self.directory / CREDENTIALS_FILE

    def load(self) -> Credentials | None:
        """The stored credentials, or None when there is no file.

        Raises:
            InsecureCredentialsError: group/others can access the file, or it is a link or someone else's.
            CredentialsError: the file is not a valid credentials file.
        """
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:
            return None
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise InsecureCredentialsError(
                    f"{self.path} is a symbolic link; refusing to read it. Remove it and run `atoms login`."
                ) from None
            raise CredentialsError(f"cannot read {self.path}: {error.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            self._check_file(os.fstat(handle.fileno()))
            raw = handle.read(_MAX_FILE_BYTES + 1)
        self._check_directory()
        if len(raw) > _MAX_FILE_BYTES:
            raise CredentialsError(f"{self.path} is too large to be a credentials file; run `atoms login` again.")
        try:
            return Credentials.model_validate_json(raw)
        except PydanticValidationError:
            raise CredentialsError(
                f"{self.path} is not a valid credentials file; run `atoms logout` and `atoms login` again."
            ) from None

    def save(self, credentials: Credentials) -> Path:
        """Write the credentials atomically with mode 0600 (creating the directory with 0700).

        Raises:
            InsecureCredentialsError: the directory is accessible to group/others.
        """
        self._ensure_directory()
        data = credentials.model_dump_json(indent=2).encode() + b"\n"
        fd, temp_name = tempfile.mkstemp(dir=self.directory, prefix=".credentials.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                if _POSIX:
                    os.fchmod(handle.fileno(), 0o600)
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_name)
            raise
        self._fsync_directory()
        return self.path

    def delete(self) -> bool:
        """Remove the credentials file; False when there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        self._fsync_directory()
        return True

    # ---- permission checks ----

    def _check_file(self, info: os.stat_result) -> None:
        if not stat.S_ISREG(info.st_mode):
            raise InsecureCredentialsError(f"{self.path} is not a regular file; remove it and run `atoms login`.")
        if not _POSIX:
            return
        if info.st_uid != os.getuid():
            raise InsecureCredentialsError(
                f"{self.path} belongs to another user (uid {info.st_uid}); refusing to use it. "
                "Remove it and run `atoms login`."
            )
        if info.st_mode & 0o077:
            raise InsecureCredentialsError(
                f"{self.path} can be accessed by other users (mode {stat.S_IMODE(info.st_mode):04o}); refusing "
                f"to use it. Fix it with: chmod 600 {self.path}  (then consider `atoms logout` and `atoms login`: "
                "the tokens may have been read)"
            )

    def _check_directory(self) -> None:
        if not _POSIX:
            return
        info = os.stat(self.directory)
        if info.st_mode & 0o022 or info.st_uid != os.getuid():
            raise InsecureCredentialsError(
                f"{self.directory} can be changed by other users (mode {stat.S_IMODE(info.st_mode):04o}, uid "
                f"{info.st_uid}); refusing to use the credentials in it. Fix it with: chmod 700 {self.directory}"
            )

    def _ensure_directory(self) -> None:
        """Create the directory 0700; an existing one must at least not be writable by others."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._check_directory()

    def _fsync_directory(self) -> None:
        if not _POSIX:
            return
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
