"""Arguments checked against a tool's input model, and pydantic's errors turned into one actionable message."""

from __future__ import annotations

import json
from typing import Any

import pydantic

from atoms_mcp.core.errors import ValidationError
from atoms_mcp.core.models import ITEM_KEY_PATTERN, UUID_PATTERN

__all__ = ["render_validation_error", "validate_arguments"]

_PATTERN_HINTS = {
    UUID_PATTERN: "must be a UUID such as a0000000-0000-4000-8000-000000000101",
    ITEM_KEY_PATTERN: "must be an item key such as REQ-001 or TC-012",
}
_UNION_TAGS = {"str", "int", "bool", "list", "dict", "float", "none"}


def validate_arguments(model: type[pydantic.BaseModel], arguments: dict[str, Any]) -> pydantic.BaseModel:
    """The validated arguments.

    Raises:
        ValidationError: the arguments do not fit the model; the message names each field and what to fix.
    """
    try:
        return model.model_validate(arguments)
    except pydantic.ValidationError as invalid:
        raise render_validation_error(invalid, model) from None


def render_validation_error(error: pydantic.ValidationError, model: type[pydantic.BaseModel]) -> ValidationError:
    """An actionable VALIDATION_ERROR: for each problem the field and what to fix."""
    problems: list[dict[str, str]] = []
    for item in error.errors(include_url=False):
        kind = item["type"]
        if kind == "none_required":
            continue  # the `| None` branch of an optional field: null means "not given", never the problem
        field = ".".join(str(part) for part in _field_path(item["loc"])) or "arguments"
        if kind == "extra_forbidden":
            problem = f"unknown parameter; allowed: {', '.join(model.model_fields) or 'none'}"
        elif kind == "missing":
            problem = "is required"
        elif kind == "string_pattern_mismatch":
            context: dict[str, Any] = item.get("ctx") or {}
            pattern = str(context.get("pattern", ""))
            problem = _PATTERN_HINTS.get(pattern, item["msg"])
        else:
            problem = item["msg"].removeprefix("Value error, ")
        if kind not in ("missing", "extra_forbidden") and not isinstance(item.get("input"), dict | list):
            problem = f"{problem} (got {json.dumps(item.get('input'), default=str)[:80]})"
        if {"field": field, "problem": problem} not in problems:
            problems.append({"field": field, "problem": problem})
    message = "Invalid arguments: " + "; ".join(f"{p['field']} {p['problem']}" for p in problems)
    return ValidationError(message, details=problems)


def _field_path(loc: tuple[int | str, ...]) -> list[int | str]:
    """The field path of a pydantic error location without union-branch tags (`literal[...]`, `str`)."""
    path: list[int | str] = []
    for part in loc:
        if isinstance(part, int) or part.isidentifier() and not (path and part in _UNION_TAGS):
            path.append(part)
    return path
