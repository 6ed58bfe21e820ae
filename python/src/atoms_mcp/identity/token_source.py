"""Where the CLI and the stdio server get the user's access token, and how it stays fresh.

Resolution order (`resolve_token_source`): `ATOMS_ACCESS_TOKEN` (CI, scripts) → the credentials file written by
`atoms login` → an interactive browser login when a terminal is attached → a clear error.

`CredentialsTokenSource` refreshes a token that expires within 60 seconds before handing it out, saves the
rotated refresh token, and does so once per process however many calls wait (an asyncio lock: the first caller
refreshes, the others then find the fresh token). A refused or failed refresh ends in status "expired" with
"run `atoms login`", never an exception in the caller.

Claims are read here without verifying the signature, only to describe the token (whoami, status) and to refuse
tokens that are not a signed-in user's (`role` other than `authenticated`, e.g. a service_role key). The server
verifies every token it accepts; nothing here is an authorisation decision in favour of a token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from atoms_mcp.core.caller import StaticTokenSource, TokenSource
from atoms_mcp.identity.compact_jwt import unverified_claims
from atoms_mcp.identity.credentials import Credentials, CredentialsError, CredentialStore, LoginError
from atoms_mcp.settings import Settings

__all__ = [
    "REFRESH_BUFFER_SECONDS",
    "CredentialsTokenSource",
    "NotSignedInError",
    "SessionStatus",
    "default_token_source",
    "refusal_reason",
    "resolve_token_source",
]

logger = logging.getLogger(__name__)

REFRESH_BUFFER_SECONDS = 60
LOGIN_HINT = "run `atoms login` (or set ATOMS_ACCESS_TOKEN for CI)"

State = Literal["ok", "expired", "missing", "refused"]


class NotSignedInError(CredentialsError):
    """No token anywhere and no terminal to log in from."""


@dataclass(frozen=True, slots=True)
class SessionStatus:
    """What the credentials token source can say about its session, for `atoms whoami` and error messages."""

    state: State
    source: str
    message: str
    subject: str | None = None
    email: str | None = None
    expires_at: int | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    def line(self) -> str:
        """One line for people (the TokenSource protocol's `status()`)."""
        who = f" as {self.email or self.subject}" if self.state == "ok" and (self.email or self.subject) else ""
        return f"{self.message}{who} (credentials: {self.source})"


def refusal_reason(claims: dict[str, Any] | None) -> str | None:
    """Why atoms will not use a token with these claims (None: no objection on the client side)."""
    if claims is None:
        return "the token is not a JWT."
    role = claims.get("role")
    if role != "authenticated":
        return (
            f"the token's role is {role!r}: atoms only accepts a signed-in user's token (role 'authenticated'), "
            "never a service_role or anon key."
        )
    if not claims.get("sub"):
        return "the token names no user (no 'sub' claim)."
    return None


def _status_for(token: str, source: str, expires_at: int | None, now: float) -> SessionStatus:
    claims = unverified_claims(token)
    reason = refusal_reason(claims)
    claims = claims or {}
    subject, email = claims.get("sub"), claims.get("email")
    if expires_at is None and isinstance(claims.get("exp"), int | float):
        expires_at = int(claims["exp"])
    if reason:
        return SessionStatus("refused", source, f"refused: {reason}", subject, email, expires_at)
    if expires_at is not None and expires_at <= now:
        return SessionStatus("expired", source, f"the token has expired; {LOGIN_HINT}.", subject, email, expires_at)
    return SessionStatus("ok", source, "signed in", subject, email, expires_at)


RefreshFn = Callable[[Credentials], Awaitable[Credentials]]


async def _refresh_over_oauth(credentials: Credentials) -> Credentials:
    """The refresh-token grant (identity.refresh, loaded on first use: authlib and httpx2 cost startup time)."""
    from atoms_mcp.identity.refresh import refresh_credentials

    return await refresh_credentials(credentials)


class CredentialsTokenSource:
    """The token of `atoms login`, refreshed (single-flight) when it expires within the buffer."""

    def __init__(
        self,
        store: CredentialStore,
        credentials: Credentials | None = None,
        *,
        refresh_buffer_seconds: float = REFRESH_BUFFER_SECONDS,
        refresh: RefreshFn | None = None,
    ) -> None:
        self._store = store
        self._credentials = credentials  # None: read the file on the next call
        self._buffer = refresh_buffer_seconds
        self._refresh = refresh or _refresh_over_oauth
        self._lock = asyncio.Lock()
        # A session whose refresh was refused: never retried; a new `atoms login` (a new file) replaces it.
        self._dead: Credentials | None = None
        self._problem: str | None = None  # why the last call gave no token

    async def access_token(self) -> str | None:
        """A token valid for at least the buffer, refreshing it first if needed; None when there is none (then
        `status()` says why and what to run). Never raises for a refused or failed refresh."""
        async with self._lock:
            credentials = await self._current()
            if credentials is not None and credentials.needs_refresh(self._buffer):
                credentials = await self._refreshed(credentials)
            if credentials is None:
                return None
            self._problem = refusal_reason(unverified_claims(credentials.access_token))
            return None if self._problem else credentials.access_token

    async def _current(self) -> Credentials | None:
        if self._credentials is not None:
            return self._credentials
        try:
            on_disk = await asyncio.to_thread(self._store.load)
        except CredentialsError as error:
            self._problem = str(error)
            return None
        if on_disk is None:
            self._problem = f"not signed in; {LOGIN_HINT}."
            return None
        if self._dead is not None and on_disk.access_token == self._dead.access_token:
            return None  # still the session whose refresh was refused; _problem says so
        self._dead, self._credentials = None, on_disk
        return on_disk

    async def _refreshed(self, stale: Credentials) -> Credentials | None:
        # The OAuth client libraries load only when a session needs refreshing (a fast `atoms call` otherwise).
        import httpx2
        from authlib.integrations.base_client import OAuthError

        # Another atoms process may have refreshed (and rotated) already: prefer what is on disk.
        self._credentials = None
        try:
            on_disk = await asyncio.to_thread(self._store.load)
        except CredentialsError as error:
            self._problem = str(error)
            return None
        if on_disk is None:
            self._problem = f"the credentials file was removed (logged out); {LOGIN_HINT}."
            return None
        if on_disk.access_token != stale.access_token and not on_disk.needs_refresh(self._buffer):
            self._credentials = on_disk
            return on_disk
        try:
            fresh = await self._refresh(on_disk)
        except (OAuthError, LoginError) as error:
            # Another process may have rotated the refresh token a moment ago: its result is then on disk.
            with contextlib.suppress(CredentialsError):
                latest = await asyncio.to_thread(self._store.load)
                fresher = latest is not None and latest.access_token != on_disk.access_token
                if latest is not None and fresher and not latest.needs_refresh(self._buffer):
                    self._credentials = latest
                    return latest
            detail = f"{error.error}: {error.description}" if isinstance(error, OAuthError) else str(error)
            self._dead, self._problem = on_disk, f"the session expired or was revoked ({detail}); {LOGIN_HINT}."
            return None
        except (httpx2.HTTPError, ValueError) as error:
            logger.warning("token refresh failed: %s", error)
            if not on_disk.expires_within(0):
                self._credentials = on_disk
                return on_disk  # still valid for a few seconds; the next call retries the refresh
            self._problem = f"could not reach the authorization server to refresh the token ({error}); {LOGIN_HINT}."
            return None
        self._credentials = fresh
        try:
            await asyncio.to_thread(self._store.save, fresh)
        except (OSError, CredentialsError) as error:
            logger.warning("refreshed token not saved (the next process will need `atoms login`): %s", error)
        return fresh

    def status(self) -> str:
        """One line for people: who is signed in, or why not and what to run (the TokenSource protocol)."""
        return self.describe().line()

    def describe(self) -> SessionStatus:
        """The session's state (ok / expired / missing / refused) with the user and expiry; never raises."""
        source = str(self._store.path)
        try:
            credentials = self._credentials or self._store.load()
        except CredentialsError as error:
            return SessionStatus("refused", source, str(error))
        if credentials is None:
            return SessionStatus("missing", source, f"not signed in; {LOGIN_HINT}.")
        if self._dead is not None and credentials.access_token == self._dead.access_token:
            return SessionStatus("expired", source, self._problem or f"the session has ended; {LOGIN_HINT}.")
        status = _status_for(credentials.access_token, source, credentials.expires_at, time.time())
        if status.state == "expired" and credentials.refresh_token:
            if self._problem:  # the last refresh could not reach the server
                return SessionStatus("expired", source, self._problem, *_who(status))
            return SessionStatus("ok", source, "signed in (the token is refreshed on next use)", *_who(status))
        return status


def _who(status: SessionStatus) -> tuple[str | None, str | None, int | None]:
    return status.subject, status.email, status.expires_at


LoginFn = Callable[[Settings], Credentials]


def resolve_token_source(
    settings: Settings, *, interactive: bool | None = None, login: LoginFn | None = None
) -> TokenSource:
    """The token source for this process: env token → credentials file → interactive login → error.

    `interactive` defaults to "stdin is a terminal" (never true under `atoms serve` on stdio, whose stdin is the
    protocol).

    Raises:
        NotSignedInError: no token and no terminal to log in from.
        CredentialsError: the credentials file is unsafe or unreadable (the message says how to fix it).
        LoginError: the interactive login failed.
    """
    if settings.access_token:
        return StaticTokenSource(settings.access_token)
    store = CredentialStore(settings.state_dir)
    credentials = store.load()
    if credentials is not None:
        return CredentialsTokenSource(store, credentials)
    if interactive is None:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    if not interactive:
        raise NotSignedInError(
            f"not signed in: no ATOMS_ACCESS_TOKEN and no {store.path}. Run `atoms login` in a terminal, "
            "or set ATOMS_ACCESS_TOKEN (CI)."
        )
    if login is None:
        from atoms_mcp.identity.oauth_login import login  # the browser sign-in (and the MCP SDK's OAuth models)
    credentials = login(settings)
    store.save(credentials)
    return CredentialsTokenSource(store, credentials)


def default_token_source(settings: Settings) -> TokenSource:
    """The stdio token source: ATOMS_ACCESS_TOKEN, else the credentials file of `atoms login` (refreshed as needed).

    Never an interactive login (on stdio, stdin is the protocol) and never an exception: without a usable file
    the source reads the file again on each call, and its `status()` says what to run.
    """
    try:
        return resolve_token_source(settings, interactive=False)
    except CredentialsError:  # not signed in, or an unsafe file: reported by status() and on each call
        return CredentialsTokenSource(CredentialStore(settings.state_dir))
