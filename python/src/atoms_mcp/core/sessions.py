"""Server-owned session ids: what the audit log and the change history record as a call's session.

A recorded session id is `HMAC-SHA256(ATOMS_SESSION_KEY, user id ‖ transport session)`, truncated to 128 bits and
base32-encoded, so every instance sharing the key derives the same id for the same user and transport session, and
no client can choose (or forge a collision with) another user's id. The transport session is what the server
itself issued: the streamable HTTP session the SDK created, the stdio connection, the CLI process. A request with
no transport session gets a fresh server-generated one. Nothing the client sends (headers, JSON-RPC ids) is used.

The key: ATOMS_SESSION_KEY; under ATOMS_DEV=1 without it, one generated once into the state directory
(`session-key`, 0600); otherwise (a loopback server that is not in development mode) a random key per process.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from atoms_mcp.settings import Settings

__all__ = ["SESSION_KEY_NAME", "SessionIds", "new_transport_session"]

SESSION_KEY_NAME = "session-key"
PREFIX = "s_"


def new_transport_session() -> str:
    """A fresh server-generated transport session (a request that belongs to none)."""
    return secrets.token_hex(16)


class SessionIds:
    """Derives recorded session ids from a user and a transport session with one key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionIds:
        """The key of ``settings`` (see the module's docstring)."""
        if settings.session_key:
            return cls(settings.session_key.encode())
        if settings.dev:
            return cls(_state_key(settings.state_dir))
        return cls(secrets.token_bytes(32))

    def derive(self, user_id: str | None, transport_session: str) -> str:
        """The recorded session id of ``user_id`` (None: not identified) in ``transport_session``."""
        message = f"{user_id or ''}\x00{transport_session}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:16]
        return PREFIX + base64.b32encode(digest).decode().rstrip("=").lower()


def _state_key(state_dir: Path) -> bytes:
    """The development key in the state directory, created (0600) on first use."""
    path = state_dir / SESSION_KEY_NAME
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (FileNotFoundError, ValueError):
        pass
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key.hex())
    return key
