"""The read tools' models: each tool's input model, followed by the model of its successful result's `data`."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.json_schema import SkipJsonSchema

from atoms_mcp.core.models.fields import (
    Depth,
    Domain,
    FilterType,
    Integer,
    ItemInput,
    ItemKey,
    Level,
    Limit200,
    LinkWord,
    MultiLineText,
    Offset,
    ProjectInput,
    ToolInput,
    ToolOutput,
)

__all__ = [
    "BrowseInput",
    "BrowseOutput",
    "Coverage",
    "ExportMermaidInput",
    "ExportMermaidOutput",
    "GetCoverageInput",
    "GetCoverageOutput",
    "GetHistoryInput",
    "GetHistoryOutput",
    "GetItemInput",
    "GetItemOutput",
    "HistoryEvent",
    "ItemDocument",
    "ItemOwnership",
    "ItemRelationships",
    "ItemSummary",
    "ItemTags",
    "LatestResult",
    "ListItemsInput",
    "ListItemsOutput",
    "ListProjectsInput",
    "ListProjectsOutput",
    "MermaidDiagram",
    "ProjectRow",
    "ProjectSummary",
    "ProjectSummaryInput",
    "ProjectSummaryOutput",
    "RecentChange",
    "ResultRow",
    "SearchInput",
    "SearchOutput",
    "StatusInput",
    "StatusOutput",
    "SummaryCoverage",
    "SummaryProject",
    "Trace",
    "TraceInput",
    "TraceOutput",
    "TracedItem",
    "UncoveredItem",
]


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
    include_archived: bool = Field(default=False, description="Also list archived (read-only) projects.")


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
    reason: str | None = None


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
    related_depth: Integer = Field(
        default=1,
        ge=0,
        le=10,
        description="Related links to follow per path, 0-10 (0: none); from a related item "
        "only further related links are followed.",
    )


class TracedItem(ToolOutput):
    id: str
    type: str
    title: str
    relationship: str
    depth: int
    via: str | None = None
    link_kind: str | None = None


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
