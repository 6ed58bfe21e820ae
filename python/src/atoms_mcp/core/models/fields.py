"""The building blocks of the tool models: patterns, constrained field types, and the input and output bases.

Constraints mirror the SQL validation (the RPCs' `private.require_*` helpers); the text rules come from
text_rules.py. Every input model forbids unknown fields and validates strictly (no "5" for 5), except that an
integral float such as 2.0 is an integer, as JSON Schema counts it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from atoms_mcp.core.text_rules import MULTI_LINE_PATTERN, SINGLE_LINE_PATTERN, require_permitted_text

__all__ = [
    "Body",
    "Depth",
    "Domain",
    "Domains",
    "FilterType",
    "INT4_MAX",
    "ITEM_KEY_PATTERN",
    "Integer",
    "ItemInput",
    "ItemKey",
    "ItemType",
    "Level",
    "Limit200",
    "LinkWord",
    "MultiLineText",
    "Offset",
    "OrgId",
    "ProjectId",
    "ProjectInput",
    "Reason",
    "SingleLineText",
    "Summary",
    "TestResult",
    "Timestamp",
    "Title",
    "ToolInput",
    "ToolOutput",
    "UUID_PATTERN",
]

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ITEM_KEY_PATTERN = r"^[A-Z]+-\d{3,}$"
INT4_MAX = 2_147_483_647


def _multi_line(value: str) -> str:
    return require_permitted_text(value, single_line=False)


def _single_line(value: str) -> str:
    return require_permitted_text(value, single_line=True)


# Text rules (text_rules.py, mirroring private.refused_code_point): every text field refuses controls and
# bidirectional controls; single-line fields (titles, tags) also line separators and invisible characters.
# The schema publishes the same rule as a `pattern`; the validator gives the message naming the code point.
MultiLineText = (AfterValidator(_multi_line), Field(json_schema_extra={"pattern": MULTI_LINE_PATTERN}))
SingleLineText = (AfterValidator(_single_line), Field(json_schema_extra={"pattern": SINGLE_LINE_PATTERN}))


def _integral(value: Any) -> Any:
    """A JSON number such as 2.0 is the integer 2 (JSON Schema counts it as an integer); 2.5 stays refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Integer = Annotated[int, BeforeValidator(_integral)]


def _iso_timestamp(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO-8601 timestamp such as 2026-11-30T12:00:00Z") from None
    return value


ProjectId = Annotated[str, Field(pattern=UUID_PATTERN, description="Project UUID (from atoms_list_projects).")]
OrgId = Annotated[str, Field(pattern=UUID_PATTERN, description="Organisation UUID (org_id in atoms_list_projects).")]
ItemKey = Annotated[
    str, Field(pattern=ITEM_KEY_PATTERN, max_length=40, description="Item key such as REQ-001, TC-012 or NOTE-003.")
]
Title = Annotated[str, *SingleLineText, Field(min_length=1, max_length=500, description="1-500 characters, one line.")]
Summary = Annotated[str, *MultiLineText, Field(max_length=2000, description="Up to 2000 characters.")]
Body = Annotated[str, *MultiLineText, Field(max_length=100_000, description="Markdown, up to 100000.")]
Domain = Annotated[str, *SingleLineText, Field(min_length=1, max_length=64)]
Domains = Annotated[list[Domain], Field(max_length=20, description="Up to 20 tags of 1-64 characters (lower-cased).")]
ItemType = Literal["requirement", "test-case", "note"]
FilterType = Literal["requirement", "test-case", "note", "table"]
Level = Literal["System", "Subsystem", "Component"]
TestResult = Literal["passed", "failed", "blocked", "not-run"]
LinkWord = Literal["parent", "child", "related", "verifies", "verified_by"]
Limit200 = Annotated[Integer, Field(ge=1, le=200, description="Page size, 1-200.")]
Offset = Annotated[Integer, Field(ge=0, le=INT4_MAX, description="Rows to skip (pagination).")]
Reason = Annotated[
    str,
    *MultiLineText,
    Field(
        min_length=1,
        max_length=1000,
        description="Why (1-1000 characters), kept in the item's history; required when the project requires reasons.",
    ),
]
Depth = Annotated[Integer, Field(ge=1, le=10, description="Levels to follow, 1-10.")]
Timestamp = Annotated[
    str, AfterValidator(_iso_timestamp), Field(max_length=64, json_schema_extra={"format": "date-time"})
]


class ToolInput(BaseModel):
    """Base of every tool input: unknown fields are errors, types are not coerced, NaN and infinities are refused."""

    # defer_build: a model's validator is built on first use, so a process running one tool builds one (CLI start-up).
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_not_given(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = cast(dict[Any, Any], data)
            return {key: value for key, value in given.items() if value is not None}
        return data


class ToolOutput(BaseModel):
    """Base of every tool's output model: the `data` of a successful call (the envelope, `status`, `meta` and
    `error`, is added by tool_schemas.py). Extra fields are allowed: a later version may add sibling fields."""

    model_config = ConfigDict(defer_build=True)


class ProjectInput(ToolInput):
    project_id: ProjectId


class ItemInput(ProjectInput):
    item_id: ItemKey
