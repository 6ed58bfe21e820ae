"""Pydantic input models of the MCP tools: one per tool, constraints mirroring the SQL validation.

The database re-validates every argument (the RPCs' `private.require_*` helpers), so these models are the
first, friendlier line: the client sees the limits in the JSON Schema and gets an actionable message
before any round trip. Every model forbids unknown fields and validates strictly (no "5" for 5).
Optional fields accept null as "not given"; only the given fields are passed to the RPC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, cast

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from atoms_mcp.core.text_rules import MULTI_LINE_PATTERN, SINGLE_LINE_PATTERN, require_permitted_text

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
Depth = Annotated[Integer, Field(ge=1, le=10, description="Levels to follow, 1-10.")]
Timestamp = Annotated[
    str, AfterValidator(_iso_timestamp), Field(max_length=64, json_schema_extra={"format": "date-time"})
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


class ToolOutput(BaseModel):
    """Base of every tool's output model: the `data` of a successful call (the envelope, `status`, `meta` and
    `error`, is added by tool_schemas.py). Extra fields are allowed: a later version may add sibling fields."""

    model_config = ConfigDict(defer_build=True)


class StatusInput(ToolInput):
    """No arguments."""


class StatusOutput(ToolOutput):
    """atoms_status answers with the token's state itself (no data envelope)."""

    status: Literal["authenticated", "not_authenticated", "expired", "error"]
    email: str | None = None
    message: str | None = None


class ListProjectsInput(ToolInput):
    limit: Limit200 = 50
    offset: Offset = 0


class ProjectRow(ToolOutput):
    id: str
    name: str
    description: str | None = None
    org_id: str
    org_name: str
    role: str
    item_counts: dict[str, int]
    updated_at: str


class ListProjectsOutput(ToolOutput):
    data: list[ProjectRow]


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


class ItemSummary(ToolOutput):
    id: str
    type: str
    title: str
    summary: str | None = None
    domains: list[str]
    level: str | None = None


class ListItemsOutput(ToolOutput):
    data: list[ItemSummary]


class BrowseInput(ListItemsInput):
    pass


class BrowseOutput(ListItemsOutput):
    pass


class GetItemInput(ItemInput):
    body_offset: Offset = Field(default=0, description="First character of the body to return (0-based).")
    body_limit: Integer = Field(
        default=20_000, ge=1, le=100_000, description="Characters of the body to return from body_offset, 1-100000."
    )


class ItemTags(ToolOutput):
    domains: list[str]
    level: str | None = None


class ItemOwnership(ToolOutput):
    created_by: str | None = None
    created_at: str
    updated_by: str | None = None
    updated_at: str


class ItemRelationships(ToolOutput):
    parents: list[str]
    children: list[str]
    related: list[str]
    verifies: list[str]
    verified_by: list[str]


class LatestResult(ToolOutput):
    result: str
    note: str | None = None
    recorded_at: str


class ResultRow(LatestResult):
    recorded_by: str | None = None
    actor: str | None = None


class ItemDocument(ToolOutput):
    id: str
    type: str
    title: str
    summary: str | None = None
    body: str | None = Field(description="The requested piece of the body (body_offset, body_limit).")
    body_length: int | None = Field(default=None, description="Characters in the whole body.")
    tags: ItemTags
    ownership: ItemOwnership
    relationships: ItemRelationships
    links: list[dict[str, Any]]
    status: str | None = None
    metadata: ItemOwnership
    latest_result: LatestResult | None = None
    test_results: list[ResultRow] | None = None


class GetItemOutput(ToolOutput):
    data: ItemDocument


class SearchInput(ProjectInput):
    query: Annotated[str, *MultiLineText] = Field(min_length=1, max_length=1000, description="Words or an item key.")
    type: FilterType | SkipJsonSchema[None] = Field(default=None, description="Only items of this type.")
    limit: Integer = Field(default=25, ge=1, le=100, description="Results, 1-100.")
    offset: Offset = 0


class SearchOutput(ToolOutput):
    data: list[ItemSummary]


class GetCoverageInput(ProjectInput):
    domain: Domain | SkipJsonSchema[None] = Field(default=None, description="Only requirements with this domain.")
    level: Level | SkipJsonSchema[None] = Field(default=None, description="Only requirements of this level.")


class UncoveredItem(ToolOutput):
    id: str
    type: str
    title: str
    domains: list[str]
    level: str | None = None


class Coverage(ToolOutput):
    total: int
    covered: int
    uncovered: int
    coverage_percent: float
    uncovered_items: list[UncoveredItem]


class GetCoverageOutput(ToolOutput):
    data: Coverage


class GetHistoryInput(ItemInput):
    limit: Integer = Field(default=20, ge=1, le=100, description="Events, 1-100, newest first.")
    offset: Offset = 0


class HistoryEvent(ToolOutput):
    event_type: str
    changed_at: str
    changed_by: str | None = None
    actor: str | None = None
    session_id: str | None = None
    fields_changed: list[str] | None = None
    old_values: dict[str, Any] | None = None
    new_values: dict[str, Any] | None = None


class GetHistoryOutput(ToolOutput):
    data: list[HistoryEvent]


class ExportMermaidInput(ProjectInput):
    root_item_id: ItemKey | SkipJsonSchema[None] = Field(default=None, description="Start here (default: all roots).")
    depth: Depth = 3
    include_tests: bool = Field(default=True, description="Draw test cases and their verifies edges.")


class MermaidDiagram(ToolOutput):
    mermaid: str
    node_count: int
    edge_count: int


class ExportMermaidOutput(ToolOutput):
    data: MermaidDiagram


class TraceInput(ItemInput):
    direction: Literal["upstream", "downstream", "both"] = Field(
        description="upstream: parents and verified requirements; downstream: children and verifying tests."
    )
    depth: Depth = 5
    relationship_types: Annotated[list[LinkWord], Field(min_length=1, max_length=5)] | SkipJsonSchema[None] = Field(
        default=None, description="Follow only these link words."
    )


class TracedItem(ToolOutput):
    id: str
    type: str
    title: str
    relationship: str
    depth: int


class Trace(ToolOutput):
    root: str
    direction: str
    items: list[TracedItem]
    total_count: int


class TraceOutput(ToolOutput):
    data: Trace


class ProjectSummaryInput(ProjectInput):
    pass


class SummaryProject(ToolOutput):
    id: str
    name: str
    org_name: str | None = None


class SummaryCoverage(ToolOutput):
    total: int
    covered: int
    uncovered: int
    coverage_percent: float


class RecentChange(HistoryEvent):
    item_id: str | None = None


class ProjectSummary(ToolOutput):
    project: SummaryProject
    counts: dict[str, int]
    coverage: SummaryCoverage
    tests: dict[str, int]
    recent_changes: list[RecentChange]
    history_intact: bool


class ProjectSummaryOutput(ToolOutput):
    data: ProjectSummary


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


class CreatedItem(ToolOutput):
    id: str
    type: str
    title: str
    project_id: str


class CreateItemOutput(ToolOutput):
    data: CreatedItem


class UpdateItemInput(ItemInput):
    title: Title | SkipJsonSchema[None] = None
    body: Body | SkipJsonSchema[None] = None
    summary: Summary | SkipJsonSchema[None] = None
    domains: Domains | SkipJsonSchema[None] = Field(default=None, description="Replaces all domains.")
    level: Level | SkipJsonSchema[None] = None
    status: TestResult | SkipJsonSchema[None] = Field(default=None, description="Test cases only: record a result.")

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateItemInput:
        fields = ("title", "body", "summary", "domains", "level", "status")
        if all(getattr(self, name) is None for name in fields):
            raise ValueError(f"give at least one field to change: {', '.join(fields)}")
        return self


class UpdatedItem(ToolOutput):
    id: str
    type: str
    title: str
    updated_fields: list[str]


class UpdateItemOutput(ToolOutput):
    data: UpdatedItem


class DeleteItemInput(ItemInput):
    pass


class DeletedItem(ToolOutput):
    id: str
    type: str
    title: str
    deleted: bool
    message: str


class DeleteItemOutput(ToolOutput):
    data: DeletedItem


class RestoreItemInput(ItemInput):
    pass


class RestoredItem(ToolOutput):
    id: str
    type: str
    title: str
    restored: bool
    message: str


class RestoreItemOutput(ToolOutput):
    data: RestoredItem


class LinkItemsInput(ProjectInput):
    from_id: ItemKey
    to_id: ItemKey
    type: LinkWord = Field(description="`from A child to B`: B becomes a child of A; `from TC verifies to REQ`.")
    action: Literal["add", "remove"] = "add"


class LinkChange(ToolOutput):
    from_id: str
    to_id: str
    type: str
    action: str
    changed: bool | None = None
    message: str


class LinkItemsOutput(ToolOutput):
    data: LinkChange


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


class BulkImportInput(ProjectInput):
    items: list[BulkItem] = Field(min_length=1, max_length=100, description="1-100 items, created in order.")


class ImportedItem(ToolOutput):
    id: str
    type: str
    title: str


class BulkImportError(ToolOutput):
    index: int
    title: str | None = None
    error: str


class BulkImportResult(ToolOutput):
    created: int
    items: list[ImportedItem]
    errors: list[BulkImportError]


class BulkImportOutput(ToolOutput):
    data: BulkImportResult


class RecordTestResultInput(ItemInput):
    result: TestResult
    note: Annotated[str, *MultiLineText] | SkipJsonSchema[None] = Field(
        default=None, max_length=1000, description="Up to 1000 characters."
    )


class RecordedResult(ToolOutput):
    item_id: str
    result: str
    run_at: str
    run_by: str | None = None
    note: str | None = None
    message: str


class RecordTestResultOutput(ToolOutput):
    data: RecordedResult


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


class AuditRow(ToolOutput):
    id: int
    tool_name: str
    status: str
    params: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    duration_ms: int | None = None
    user_id: str | None = None
    project_id: str | None = None
    session_id: str | None = None
    client_name: str | None = None
    actor: str | None = None
    request_id: str | None = None
    server_instance: str | None = None
    called_at: str
    created_at: str | None = None


class GetAuditLogOutput(ToolOutput):
    data: list[AuditRow]


class VerifyHistoryInput(ProjectInput):
    pass


class HistoryVerdict(ToolOutput):
    intact: bool
    checked_rows: int
    first_broken: dict[str, Any] | None = None


class VerifyHistoryOutput(ToolOutput):
    data: HistoryVerdict
