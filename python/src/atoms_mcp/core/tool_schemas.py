"""The JSON Schemas a tool publishes in `tools/list`: its input schema and its output schema.

Both are self-contained: every `$ref` into `$defs` is inlined, because some MCP clients do not resolve
references. The output schema describes the whole `structuredContent` of a call, success or failure:
`{status: "success", data, meta?}` or `{status: "error", error}`; `data` is the tool's output model, `meta`
the pagination envelope (list tools) and the markers of trimmed fields (result_budget.py; a trimmed refusal
carries its markers in `error.truncated`). Objects allow extra
properties, so a later version may add sibling fields (such as a fence next to a text field) compatibly.
"""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel

__all__ = [
    "ERROR_CODES",
    "TRUNCATION_MARKER_SCHEMA",
    "inline_refs",
    "input_schema_of",
    "output_schema_of",
]

ERROR_CODES = (
    "VALIDATION_ERROR",
    "NOT_FOUND",
    "PERMISSION_DENIED",
    "CONFLICT",
    "RATE_LIMITED",
    "UNAUTHENTICATED",
    "UNAVAILABLE",
    "INTERNAL",
)
"""Every code a failed call may carry (README "Errors")."""

TRUNCATION_MARKER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A trimmed field: `field` is its path in data (dots, list indices); read on from next_offset.",
    "properties": {
        "truncated": {"type": "boolean", "const": True},
        "field": {"type": "string"},
        "full_length": {"type": "integer", "minimum": 0},
        "next_offset": {"type": "integer", "minimum": 0},
    },
    "required": ["truncated", "field", "full_length", "next_offset"],
}

_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "enum": list(ERROR_CODES)},
        "message": {"type": "string"},
        # A list of problems (VALIDATION_ERROR), or an object: a guarded delete's impact (CONFLICT), a deleted
        # item's deleted_at and deleted_by (NOT_FOUND).
        "details": {"type": ["array", "object"]},
        "retryAfterSeconds": {"type": "integer", "minimum": 1},
        "truncated": {"type": "array", "items": TRUNCATION_MARKER_SCHEMA},
    },
    "required": ["code", "message"],
}

_PAGE_FIELDS = ("total_count", "limit", "offset", "has_more")


def _meta_schema(paginated: bool) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "total_count": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer", "minimum": 0},
        "has_more": {"type": "boolean"},
        "truncated": {"type": "array", "items": TRUNCATION_MARKER_SCHEMA},
    }
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if paginated:
        schema["required"] = list(_PAGE_FIELDS)
    return schema


def inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every local `$ref` (`#/$defs/Name`) replaced by its definition and `$defs` removed.

    Raises:
        ValueError: a recursive definition (it cannot be inlined).
    """
    definitions = cast(dict[str, Any], schema.get("$defs", {}))

    def resolve(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            mapping = cast(dict[str, Any], node)
            ref = mapping.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in seen:
                    raise ValueError(f"recursive schema definition {name} cannot be inlined")
                target = cast(dict[str, Any], resolve(definitions[name], (*seen, name)))
                siblings = {k: resolve(v, seen) for k, v in mapping.items() if k != "$ref"}
                return {**target, **siblings}
            return {k: resolve(v, seen) for k, v in mapping.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(v, seen) for v in cast(list[Any], node)]
        return node

    return cast(dict[str, Any], resolve(schema, ()))


def _without_null_defaults(schema: Any) -> Any:
    """Optional fields are simply absent when not given: `"default": null` would contradict their type."""
    if isinstance(schema, dict):
        mapping = cast(dict[str, Any], schema)
        return {k: _without_null_defaults(v) for k, v in mapping.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_without_null_defaults(v) for v in cast(list[Any], schema)]
    return schema


def input_schema_of(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a tool's arguments: self-contained, without null defaults, title or description."""
    schema = inline_refs(_without_null_defaults(model.model_json_schema(by_alias=True)))
    schema.pop("title", None)
    schema.pop("description", None)
    return schema


def output_schema_of(model: type[BaseModel], *, paginated: bool, enveloped: bool = True) -> dict[str, Any]:
    """The JSON Schema of a tool's structuredContent. ``model`` describes `data` (its `data` field) when
    ``enveloped``; otherwise (atoms_status) it is the whole result, which may also be the error envelope."""
    model_schema = inline_refs(model.model_json_schema(mode="serialization", by_alias=True))
    if not enveloped:
        model_schema.pop("title", None)
        model_schema.pop("description", None)
        properties = cast(dict[str, Any], model_schema["properties"])
        properties["error"] = _ERROR_SCHEMA
        return model_schema
    data = cast(dict[str, Any], model_schema["properties"])["data"]
    data.pop("title", None)
    return {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["success", "error"]},
            "data": data,
            "meta": _meta_schema(paginated),
            "error": _ERROR_SCHEMA,
        },
        "required": ["status"],
    }
