"""Arguments checked against a tool's input model, and pydantic's errors turned into one actionable message.

The work is bounded: `check_structure` refuses arguments with too many keys or too deep a nesting before any model
sees them (one pass, stopping at the first excess), and with non-finite numbers (NaN, ±Infinity, 1e400), which JSON
cannot carry; `render_validation_error` is linear in the number of problems and renders the first
`MAX_PROBLEMS` of them, with a count of the rest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, cast

import pydantic

from atoms_mcp.core.errors import ValidationError
from atoms_mcp.core.models import ITEM_KEY_PATTERN, UUID_PATTERN

__all__ = [
    "MAX_PROBLEMS",
    "StructureError",
    "check_structure",
    "has_non_finite",
    "render_validation_error",
    "validate_arguments",
]

MAX_PROBLEMS = 20
_PATTERN_HINTS = {
    UUID_PATTERN: "must be a UUID such as a0000000-0000-4000-8000-000000000101",
    ITEM_KEY_PATTERN: "must be an item key such as REQ-001 or TC-012",
}
_UNION_TAGS = {"str", "int", "bool", "list", "dict", "float", "none"}


class StructureError(ValidationError):
    """The arguments exceed a structural cap (key count, nesting depth); ``reason`` names the cap."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_structure(arguments: Any, *, max_keys: int, max_depth: int) -> int:
    """The number of values in ``arguments`` (objects, lists and scalars), checked against the caps.

    Raises:
        StructureError: more than ``max_keys`` object keys in all, or nesting deeper than ``max_depth``
            (reason TOO_MANY_KEYS / TOO_DEEP); the walk stops at the first excess.
    """
    keys = 0
    values = 0
    stack: list[tuple[Any, int]] = [(arguments, 1)]
    while stack:
        value, depth = stack.pop()
        values += 1
        if isinstance(value, Mapping | list | tuple):
            if depth > max_depth:
                raise StructureError(f"Invalid arguments: nested deeper than {max_depth} levels.", reason="TOO_DEEP")
            if isinstance(value, Mapping):
                mapping = cast(Mapping[Any, Any], value)
                keys += len(mapping)
                if keys > max_keys:
                    raise StructureError(
                        f"Invalid arguments: more than {max_keys} keys in all.", reason="TOO_MANY_KEYS"
                    )
                stack.extend((child, depth + 1) for child in mapping.values())
            else:
                stack.extend((child, depth + 1) for child in cast(Sequence[Any], value))
    return values


def has_non_finite(value: Any) -> bool:
    """Whether ``value`` holds NaN or an infinity anywhere (JSON has no such numbers)."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return True
        if isinstance(item, Mapping):
            stack.extend(cast(Mapping[Any, Any], item).values())
        elif isinstance(item, list | tuple):
            stack.extend(cast(Sequence[Any], item))
    return False


def validate_arguments(model: type[pydantic.BaseModel], arguments: dict[str, Any]) -> pydantic.BaseModel:
    """The validated arguments.

    Raises:
        ValidationError: the arguments do not fit the model (or hold NaN or an infinity); the message names each
            field and what to fix.
    """
    try:
        validated = model.model_validate(arguments)
    except pydantic.ValidationError as invalid:
        raise render_validation_error(invalid, model) from None
    if has_non_finite(arguments):
        raise ValidationError(
            "Invalid arguments: numbers must be finite (NaN and Infinity are not numbers JSON can carry).",
            details=[{"field": "arguments", "problem": "holds NaN or an infinity"}],
        )
    return validated


def render_validation_error(error: pydantic.ValidationError, model: type[pydantic.BaseModel]) -> ValidationError:
    """An actionable VALIDATION_ERROR: for each problem the field and what to fix (the first MAX_PROBLEMS distinct
    problems, then how many more there are)."""
    problems: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    more = 0
    allowed: str | None = None
    for item in error.errors(include_url=False, include_context=True, include_input=True):
        kind = item["type"]
        if kind == "none_required":
            continue  # the `| None` branch of an optional field: null means "not given", never the problem
        if len(problems) >= MAX_PROBLEMS:
            more += 1
            continue
        field = ".".join(str(part) for part in _field_path(item["loc"])) or "arguments"
        if kind == "extra_forbidden":
            if allowed is None:
                allowed = ", ".join(model.model_fields) or "none"
            problem = f"unknown parameter; allowed: {allowed}"
        elif kind == "missing":
            problem = "is required"
        elif kind == "string_pattern_mismatch":
            context: dict[str, Any] = item.get("ctx") or {}
            pattern = str(context.get("pattern", ""))
            problem = _PATTERN_HINTS.get(pattern, item["msg"])
        else:
            problem = item["msg"].removeprefix("Value error, ")
        if kind not in ("missing", "extra_forbidden") and not isinstance(item.get("input"), dict | list):
            problem = f"{problem} (got {_shown(item.get('input'))})"
        if (field, problem) in seen:
            continue
        seen.add((field, problem))
        problems.append({"field": field, "problem": problem})
    message = "Invalid arguments: " + "; ".join(f"{p['field']} {p['problem']}" for p in problems)
    details: list[dict[str, Any]] = list(problems)
    if more:
        message += f"; and {more} more problems"
        details.append({"field": "arguments", "problem": f"{more} more problems not listed"})
    return ValidationError(message, details=details)


def _shown(value: Any) -> str:
    """The offending input as JSON text, at most 80 characters (NaN and infinities as text, never bare tokens)."""
    if isinstance(value, float) and not math.isfinite(value):
        return json.dumps(str(value))
    return json.dumps(value, default=str)[:80]


def _field_path(loc: tuple[int | str, ...]) -> list[int | str]:
    """The field path of a pydantic error location without union-branch tags (`literal[...]`, `str`)."""
    path: list[int | str] = []
    for part in loc:
        if isinstance(part, int) or part.isidentifier() and not (path and part in _UNION_TAGS):
            path.append(part)
    return path
