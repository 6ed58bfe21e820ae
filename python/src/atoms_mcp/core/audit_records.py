"""What one audit record holds: tool arguments made fit for the log, JSON PostgreSQL accepts, and the minimal row
that replaces a record the database refused."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

__all__ = ["SANITISED_CODE", "json_safe", "sanitised_record", "sanitize_params"]

SECRET_KEY_PARTS = ("token", "secret", "password", "passwd", "authorization", "api_key", "apikey", "cookie", "jwt")
MAX_STRING = 500
MAX_ITEMS = 50
MAX_DEPTH = 4
SANITISED_CODE = "AUDIT_SANITISED"
_SAFE_TOOL_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def sanitize_params(value: Any, depth: int = 0) -> Any:
    """A copy of tool arguments fit for the audit log: secret-looking keys dropped, strings and lists cut."""
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return "…"
        mapping = cast(Mapping[object, Any], value)
        return {
            str(k)[:64]: sanitize_params(v, depth + 1)
            for k, v in mapping.items()
            if not any(part in str(k).lower() for part in SECRET_KEY_PARTS)
        }
    if isinstance(value, list | tuple):
        if depth >= MAX_DEPTH:
            return "…"
        sequence = cast(Sequence[Any], value)
        items = [sanitize_params(v, depth + 1) for v in sequence[:MAX_ITEMS]]
        if len(sequence) > MAX_ITEMS:
            items.append(f"… {len(sequence) - MAX_ITEMS} more")
        return items
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else value[:MAX_STRING] + "…"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": JSON has no such numbers
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_STRING]


_NOT_JSONB_TEXT = re.compile("[\x00\ud800-\udfff]")


def json_safe(value: Any) -> Any:
    """``value`` as JSON PostgreSQL accepts: NUL characters and unpaired surrogates become U+FFFD (jsonb refuses
    both) and NaN and infinities become text (JSON has no such numbers); any would otherwise reject the whole batch."""
    if isinstance(value, str):
        return _NOT_JSONB_TEXT.sub("\ufffd", value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {json_safe(str(k)): json_safe(v) for k, v in cast(Mapping[Any, Any], value).items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in cast(Sequence[Any], value)]
    return value


def sanitised_record(record: Mapping[str, Any], reason: str) -> dict[str, Any]:
    """The minimal row that replaces a record the database refused: which call it was (tool, user, session, time
    when they are well-formed) and that it was sanitised, with the database's reason."""
    tool = record.get("tool_name")
    called_at = record.get("called_at")
    minimal: dict[str, Any] = {
        "tool_name": (_SAFE_TOOL_NAME.sub("_", tool)[:128] or "_") if isinstance(tool, str) else "_",
        "status": "error",
        "error_code": SANITISED_CODE,
        "error_message": "The original audit record was refused by the database and replaced by this one.",
        "duration_ms": 0,
        "params": {"_sanitised": True, "reason": reason[:500]},
        "called_at": datetime.now(UTC).isoformat(),
    }
    if isinstance(called_at, str):
        minimal["params"]["called_at"] = called_at[:64]
    for key in ("session_id", "server_instance", "request_id"):
        if isinstance(record.get(key), str):
            minimal[key] = record[key][:200]
    return minimal
