"""Pydantic input models of the MCP tools: one per tool, constraints mirroring the SQL validation.

The database re-validates every argument (the RPCs' `private.require_*` helpers), so these models are the
first, friendlier line: the client sees the limits in the JSON Schema and gets an actionable message
before any round trip. Every model forbids unknown fields and validates strictly (no "5" for 5).
Optional fields accept null as "not given"; only the given fields are passed to the RPC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from atoms_mcp.core.text_rules import require_permitted_text

__all__ = [
    "BrowseInput",
    "BulkImportInput",
    "BulkItem",
    "CreateItemInput",
    "DeleteItemInput",
    "ExportMermaidInput",
    "GetAuditLogInput",
    "GetCoverageInput",
    "GetHistoryInput",
    "GetItemInput",
    "LinkInput",
    "LinkItemsInput",
    "ListItemsInput",
    "ListProjectsInput",
    "ProjectSummaryInput",
    "RecordTestResultInput",
    "RestoreItemInput",
    "SearchInput",
    "StatusInput",
    "ToolInput",
    "TraceInput",
    "UpdateItemInput",
    "VerifyHistoryInput",
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
MultiLineText = AfterValidator(_multi_line)
SingleLineText = AfterValidator(_single_line)


def _iso_timestamp(value: str) -> str:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO-8601 timestamp such as 2026-11-30T12:00:00Z") from None
    return value


ProjectId = Annotated[str, Field(pattern=UUID_PATTERN, description="Project UUID (from atoms_list_projects).")]
ItemKey = Annotated[
    str, Field(pattern=ITEM_KEY_PATTERN, max_length=40, description="Item key such as REQ-001, TC-012 or NOTE-003.")
]
Title = Annotated[str, SingleLineText, Field(min_length=1, max_length=500, description="1-500 characters, one line.")]
Summary = Annotated[str, MultiLineText, Field(max_length=2000, description="Up to 2000 characters.")]
Body = Annotated[str, MultiLineText, Field(max_length=100_000, description="Markdown, up to 100000.")]
Domain = Annotated[str, SingleLineText, Field(min_length=1, max_length=64)]
Domains = Annotated[list[Domain], Field(max_length=20, description="Up to 20 tags of 1-64 characters (lower-cased).")]
ItemType = Literal["requirement", "test-case", "note"]
FilterType = Literal["requirement", "test-case", "note", "table"]
Level = Literal["System", "Subsystem", "Component"]
TestResult = Literal["passed", "failed", "blocked", "not-run"]
LinkWord = Literal["parent", "child", "related", "verifies", "verified_by"]
Limit200 = Annotated[int, Field(ge=1, le=200, description="Page size, 1-200.")]
Offset = Annotated[int, Field(ge=0, le=INT4_MAX, description="Rows to skip (pagination).")]
Depth = Annotated[int, Field(ge=1, le=10, description="Levels to follow, 1-10.")]
Timestamp = Annotated[
    str, AfterValidator(_iso_timestamp), Field(max_length=64, json_schema_extra={"format": "date-time"})
]
Reason = Annotated[
    str,
    MultiLineText,
    Field(
        min_length=1,
        max_length=1000,
        description="Why (1-1000 characters), kept in the item's history; required when the project requires reasons.",
    ),
]


class ToolInput(BaseModel):
    """Base of every tool input: unknown fields are errors, types are not coerced."""

    # defer_build: a model's validator is built on first use, so a process running one tool builds one (CLI start-up).
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    @model_validator(mode="before")
    @classmethod
    def _null_means_not_given(cls, data: Any) -> Any:
        if isinstance(data, dict):
            given = cast(dict[Any, Any], data)
            return {key: value for key, value in given.items() if value is not None}
        return data


class StatusInput(ToolInput):
    """No arguments."""


class ListProjectsInput(ToolInput):
    limit: Limit200 = 50
    offset: Offset = 0


class ProjectInput(ToolInput):
    project_id: ProjectId


class ItemInput(ProjectInput):
    item_id: ItemKey


class ListItemsInput(ProjectInput):
    type: FilterType | SkipJsonSchema[None] = Field(default=None, description="Only items of this type.")
    domain: Domain | SkipJsonSchema[None] = Field(default=None, description="Only items tagged with this domain.")
    level: Level | SkipJsonSchema[None] = Field(default=None, description="Only items of this level.")
    limit: Limit200 = 50
    offset: Offset = 0


class BrowseInput(ListItemsInput):
    pass


class GetItemInput(ItemInput):
    pass


class SearchInput(ProjectInput):
    query: Annotated[str, MultiLineText] = Field(min_length=1, max_length=1000, description="Words or an item key.")
    type: FilterType | SkipJsonSchema[None] = Field(default=None, description="Only items of this type.")
    limit: int = Field(default=25, ge=1, le=100, description="Results, 1-100.")


class GetCoverageInput(ProjectInput):
    domain: Domain | SkipJsonSchema[None] = Field(default=None, description="Only requirements with this domain.")
    level: Level | SkipJsonSchema[None] = Field(default=None, description="Only requirements of this level.")


class GetHistoryInput(ItemInput):
    limit: int = Field(default=20, ge=1, le=100, description="Events, 1-100, newest first.")
    offset: Offset = 0


class ExportMermaidInput(ProjectInput):
    root_item_id: ItemKey | SkipJsonSchema[None] = Field(default=None, description="Start here (default: all roots).")
    depth: Depth = 3
    include_tests: bool = Field(default=True, description="Draw test cases and their verifies edges.")


class TraceInput(ItemInput):
    direction: Literal["upstream", "downstream", "both"] = Field(
        description="upstream: parents and verified requirements; downstream: children and verifying tests."
    )
    depth: Depth = 5
    relationship_types: Annotated[list[LinkWord], Field(min_length=1, max_length=5)] | SkipJsonSchema[None] = Field(
        default=None, description="Follow only these link words."
    )
    related_depth: int = Field(
        default=1,
        ge=0,
        le=10,
        description="Related links to follow per path, 0-10 (0: none); from a related item "
        "only further related links are followed.",
    )


class ProjectSummaryInput(ProjectInput):
    pass


class CreateItemInput(ProjectInput):
    type: ItemType
    title: Title
    body: Body | SkipJsonSchema[None] = None
    summary: Summary | SkipJsonSchema[None] = None
    domains: Domains | SkipJsonSchema[None] = None
    level: Level | SkipJsonSchema[None] = None
    parent_ids: Annotated[list[ItemKey], Field(max_length=50)] | SkipJsonSchema[None] = Field(
        default=None, description="Keys of live items of this project to link as parents (up to 50)."
    )


class UpdateItemInput(ItemInput):
    title: Title | SkipJsonSchema[None] = None
    body: Body | SkipJsonSchema[None] = None
    summary: Summary | SkipJsonSchema[None] = None
    domains: Domains | SkipJsonSchema[None] = Field(default=None, description="Replaces all domains.")
    level: Level | SkipJsonSchema[None] = None
    status: TestResult | SkipJsonSchema[None] = Field(default=None, description="Test cases only: record a result.")
    reason: Reason | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateItemInput:
        fields = ("title", "body", "summary", "domains", "level", "status")
        if all(getattr(self, name) is None for name in fields):
            raise ValueError(f"give at least one field to change: {', '.join(fields)}")
        return self


class DeleteItemInput(ItemInput):
    force: bool = Field(
        default=False,
        description="Delete although the item has live children or verification links (needs a reason).",
    )
    reason: Reason | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _force_needs_a_reason(self) -> DeleteItemInput:
        if self.force and self.reason is None:
            raise ValueError("force needs a reason: say why the item and its links leave the traceability views")
        return self


class RestoreItemInput(ItemInput):
    pass


class LinkInput(ToolInput):
    """One link of a bulk atoms_link_items call. Only the shape is checked here: value errors (a malformed key, an
    unknown link word) are reported per link by the database, so one bad link does not stop the others."""

    from_id: str
    to_id: str
    type: str = Field(description="parent | child | related | verifies | verified_by.")
    action: str | SkipJsonSchema[None] = Field(default=None, description="add (default) or remove.")


class LinkItemsInput(ProjectInput):
    from_id: ItemKey | SkipJsonSchema[None] = Field(default=None, description="One link: the item it starts from.")
    to_id: ItemKey | SkipJsonSchema[None] = Field(default=None, description="One link: the item it goes to.")
    type: LinkWord | SkipJsonSchema[None] = Field(
        default=None, description="One link: `from A child to B`: B becomes a child of A; `from TC verifies to REQ`."
    )
    action: Literal["add", "remove"] = Field(default="add", description="One link: add (default) or remove.")
    links: Annotated[list[LinkInput], Field(min_length=1, max_length=500)] | SkipJsonSchema[None] = Field(
        default=None,
        description="Many links (1-500) instead of from_id/to_id/type: each applied on its own, errors by index.",
    )
    reason: Reason | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _one_link_or_many(self) -> LinkItemsInput:
        single = [name for name in ("from_id", "to_id", "type") if getattr(self, name) is not None]
        if self.links is not None:
            if single or "action" in self.model_fields_set:
                named = ", ".join([*single, *(["action"] if "action" in self.model_fields_set else [])])
                raise ValueError(f"give either links or from_id, to_id and type, not both (also given: {named})")
        elif len(single) < 3:
            missing = ", ".join(name for name in ("from_id", "to_id", "type") if getattr(self, name) is None)
            raise ValueError(f"give from_id, to_id and type (one link) or links (1-500 links); missing: {missing}")
        return self


class BulkItem(ToolInput):
    """One item of a bulk import. Only the shape is checked here: value errors (a too-long title, an unknown
    type) are reported per item by the database, so one bad item does not stop the others."""

    type: str
    title: str
    body: str | SkipJsonSchema[None] = None
    summary: str | SkipJsonSchema[None] = None
    domains: list[str] | SkipJsonSchema[None] = None
    level: str | SkipJsonSchema[None] = None
    parent_id: str | SkipJsonSchema[None] = Field(
        default=None, description="Key of an existing item, or of one created earlier in this call."
    )
    verifies: list[str] | SkipJsonSchema[None] = Field(
        default=None,
        description="Test cases: requirements it verifies (up to 50), each a key or #index of an earlier item here.",
    )


class BulkImportInput(ProjectInput):
    items: list[BulkItem] = Field(min_length=1, max_length=100, description="1-100 items, created in order.")


class RecordTestResultInput(ItemInput):
    result: TestResult
    note: Annotated[str, MultiLineText] | SkipJsonSchema[None] = Field(
        default=None, max_length=1000, description="Up to 1000 characters."
    )
    run_at: Timestamp | SkipJsonSchema[None] = Field(
        default=None, description="When the test ran (ISO-8601; not in the future, not before the test case existed)."
    )
    build: Annotated[str, SingleLineText] | SkipJsonSchema[None] = Field(
        default=None, min_length=1, max_length=200, description="The version under test (build, tag, commit)."
    )
    executed_by: Annotated[str, SingleLineText] | SkipJsonSchema[None] = Field(
        default=None, min_length=1, max_length=320, description="Who ran it: a member's email or a name."
    )
    evidence: Annotated[str, SingleLineText] | SkipJsonSchema[None] = Field(
        default=None, min_length=1, max_length=2000, description="A reference to the evidence: a URL or report id."
    )


class GetAuditLogInput(ProjectInput):
    tool_name: str | SkipJsonSchema[None] = Field(
        default=None, max_length=128, pattern=r"^[A-Za-z0-9._-]+$", description="Only calls of this tool."
    )
    user_id: Annotated[str, Field(pattern=UUID_PATTERN)] | SkipJsonSchema[None] = Field(
        default=None, description="Only calls by this user (UUID)."
    )
    status: Literal["success", "error"] | SkipJsonSchema[None] = None
    since: Timestamp | SkipJsonSchema[None] = Field(default=None, description="ISO-8601, inclusive.")
    until: Timestamp | SkipJsonSchema[None] = Field(default=None, description="ISO-8601, exclusive.")
    limit: Limit200 = 50
    offset: Offset = 0


class VerifyHistoryInput(ProjectInput):
    pass
