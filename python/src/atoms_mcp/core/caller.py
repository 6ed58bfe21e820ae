"""Who is calling, as the call pipeline sees it: a verified user, where a token comes from, and what verifies it.

The pipeline depends only on these shapes. `atoms_mcp.identity` provides the real verifier (JWT signature,
expiry, audience, role) and token sources (environment, the credentials file of `atoms login`); the adapters
hand them in. A user verified elsewhere (the HTTP transport's bearer-token check) is passed in as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["SIGN_IN_HINT", "StaticTokenSource", "TokenSource", "TokenStatus", "Verifier", "VerifiedUser"]

SIGN_IN_HINT = "Sign in with `atoms login`, or set ATOMS_ACCESS_TOKEN (local dev: `atoms dev token --user EMAIL`)."


@dataclass(frozen=True, slots=True)
class VerifiedUser:
    """A user whose token verified; `claims` become the database's `request.jwt.claims`."""

    user_id: str
    email: str | None
    expires_at: int | None
    claims: dict[str, Any]


@dataclass(frozen=True, slots=True)
class TokenStatus:
    """The answer of atoms_status: signed in or not, as whom, and what to do."""

    status: Literal["authenticated", "not_authenticated", "expired"]
    email: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        """The JSON object atoms_status returns."""
        return {"status": self.status, "email": self.email, "message": self.message}

    @classmethod
    def of(cls, user: VerifiedUser) -> TokenStatus:
        """The status of a user whose token has already been verified."""
        return cls("authenticated", user.email, f"Signed in as {user.email or user.user_id}.")


@runtime_checkable
class TokenSource(Protocol):
    """Where a stdio server or the CLI gets the user's access token (environment, credentials file, ...)."""

    async def access_token(self) -> str | None:
        """The current access token (refreshed if the source can), or None when signed out."""
        ...

    def status(self) -> str:
        """One line for people: where the token comes from and how to sign in again."""
        ...


class Verifier(Protocol):
    """Turns a token into a verified user (or refuses it with UnauthenticatedError)."""

    async def verify(self, token: str) -> VerifiedUser:
        """The verified user of ``token``; raises UnauthenticatedError when it is not acceptable."""
        ...

    async def status(self, token: str | None) -> TokenStatus:
        """authenticated / not_authenticated / expired for ``token``; never raises."""
        ...


class StaticTokenSource:
    """A fixed token, e.g. `ATOMS_ACCESS_TOKEN`."""

    def __init__(self, token: str | None, origin: str = "ATOMS_ACCESS_TOKEN") -> None:
        self._token = token or None
        self._origin = origin

    async def access_token(self) -> str | None:
        """The fixed token (None when there is none)."""
        return self._token

    def status(self) -> str:
        """Where the token comes from, or how to get one."""
        return f"token from {self._origin}" if self._token else f"no token ({SIGN_IN_HINT})"
