"""The errors a tool call can end in, and how database errors map onto them.

    AtomsError (code INTERNAL)             - anything unexpected; its message is generic, never the cause
     +-- ValidationError (VALIDATION_ERROR) - a bad argument; the message says what to fix
     +-- NotFoundError (NOT_FOUND)          - no such project/item visible to the caller
     +-- PermissionDeniedError (PERMISSION_DENIED) - the caller's role is too low
     +-- ConflictError (CONFLICT)           - the change collides with existing state
     +-- RateLimitedError (RATE_LIMITED)    - too many calls; carries retry_after_seconds
     +-- UnauthenticatedError (UNAUTHENTICATED) - no, expired or unacceptable token

Database errors are mapped by SQLSTATE through `SQLSTATE_TO_ERROR` (`from_database_error`). Only our own
SQLSTATEs carry the database's primary message through (the RPCs word them for the user); anything else
becomes an `AtomsError` with a generic message, so no SQL text, constraint or table name ever leaks.
NOT_FOUND and CONFLICT may carry structured `details`: the RPC puts a JSON object in the error's DETAIL (a deleted
item's `{id, deleted_at, deleted_by}`, a refused delete's impact).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, cast

import psycopg

__all__ = [
    "SQLSTATE_TO_ERROR",
    "AtomsError",
    "ConflictError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "UnauthenticatedError",
    "ValidationError",
    "from_database_error",
]

INTERNAL_MESSAGE = "The server could not complete the request. Try again; if it persists, report it."
TIMEOUT_MESSAGE = "The request took too long and was stopped. Narrow it (filters, smaller limit or depth) and retry."


class AtomsError(Exception):
    """Base of every atoms error; as itself it is the INTERNAL error with a generic message."""

    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str = INTERNAL_MESSAGE, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_error(self) -> dict[str, Any]:
        """The `error` object of a failed call's envelope `{status: "error", error}`."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            error["details"] = self.details
        return error


class ValidationError(AtomsError):
    """An argument is invalid; the message names the field and what to fix."""

    code = "VALIDATION_ERROR"


class NotFoundError(AtomsError):
    """The project or item does not exist or is not visible to the caller (never "forbidden")."""

    code = "NOT_FOUND"


class PermissionDeniedError(AtomsError):
    """The caller is a member but their role is too low for this tool."""

    code = "PERMISSION_DENIED"


class ConflictError(AtomsError):
    """The change collides with existing state (duplicate, concurrent change)."""

    code = "CONFLICT"


class RateLimitedError(AtomsError):
    """Too many calls in the window; `retry_after_seconds` says when the next one is allowed."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after_seconds: int, details: Any = None) -> None:
        super().__init__(message, details=details)
        self.retry_after_seconds = retry_after_seconds

    def to_error(self) -> dict[str, Any]:
        error = super().to_error()
        error["retryAfterSeconds"] = self.retry_after_seconds
        return error


class UnauthenticatedError(AtomsError):
    """No token, an expired or forged one, or one that is not a signed-in user's."""

    code = "UNAUTHENTICATED"


SQLSTATE_TO_ERROR: dict[str, type[AtomsError]] = {
    "22023": ValidationError,  # invalid_parameter_value: our require_* helpers
    "22P02": ValidationError,  # invalid_text_representation (a cast the helpers did not pre-empt)
    "22001": ValidationError,  # string_data_right_truncation
    "22P05": ValidationError,  # untranslatable_character: an escaped U+0000 that text cannot hold
    "22021": ValidationError,  # character_not_in_repertoire: bytes that are not UTF-8
    "PT404": NotFoundError,
    "42501": PermissionDeniedError,
    "PT409": ConflictError,
    "23505": ConflictError,  # unique_violation
    "PT429": RateLimitedError,
    "28000": UnauthenticatedError,
}

# SQLSTATEs whose message is written by our own SQL for the user; everything else is replaced.
_OWN_MESSAGES = {"22023", "PT404", "42501", "PT409", "PT429", "28000"}
_GENERIC = {
    "22P02": "An argument has the wrong format. Check ids (UUID), keys (like REQ-001) and enum values.",
    "22001": "An argument is too long. Shorten it and try again.",
    "22P05": "An argument contains U+0000 (NUL), which text cannot hold. Remove it and try again.",
    "22021": "An argument is not valid UTF-8 text. Send Unicode text and try again.",
    "23505": "That already exists. Fetch the current state and try again.",
}


def from_database_error(error: psycopg.Error) -> AtomsError:
    """The atoms error for a database error, exposing its message only for our own SQLSTATEs."""
    sqlstate = error.sqlstate or ""
    cls = SQLSTATE_TO_ERROR.get(sqlstate, AtomsError)
    if cls is AtomsError:
        return AtomsError(TIMEOUT_MESSAGE if sqlstate == "57014" else INTERNAL_MESSAGE)
    diag = error.diag
    if sqlstate in _OWN_MESSAGES and diag.message_primary:
        message = diag.message_primary
        if diag.message_hint:
            message = f"{message} ({diag.message_hint})"
    else:
        message = _GENERIC.get(sqlstate, INTERNAL_MESSAGE)
    if cls is RateLimitedError:
        return RateLimitedError(message, retry_after_seconds=_retry_after(diag.message_detail))
    if sqlstate in _DETAILED:
        return cls(message, details=_json_details(diag.message_detail))
    return cls(message)


# SQLSTATEs whose DETAIL, when it is a JSON object, is returned to the caller as error.details.
_DETAILED = {"PT404", "PT409"}


def _json_details(detail: str | None) -> dict[str, Any] | None:
    """The JSON object an RPC put in DETAIL, or None (no detail, or not a JSON object)."""
    if not detail:
        return None
    try:
        parsed: Any = json.loads(detail)
    except ValueError:
        return None
    return cast(dict[str, Any], parsed) if isinstance(parsed, dict) else None


def _retry_after(detail: str | None) -> int:
    """PT429 may carry the wait in DETAIL as a number of seconds; default to one minute."""
    try:
        return max(1, int(float(detail or "")))
    except ValueError:
        return 60
