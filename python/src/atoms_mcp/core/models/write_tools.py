"""The write tools' models: each tool's input model, followed by the model of its successful result's `data`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from atoms_mcp.core.models.fields import (
    Body,
    Domains,
    ItemInput,
    ItemKey,
    ItemType,
    Level,
    LinkWord,
    MultiLineText,
    ProjectInput,
    Reason,
    SingleLineText,
    Summary,
    TestResult,
    Timestamp,
    Title,
    ToolInput,
    ToolOutput,
)

__all__ = [
    "BulkImportError",
    "BulkImportInput",
    "BulkImportOutput",
    "BulkImportResult",
    "BulkItem",
    "CreateItemInput",
    "CreateItemOutput",
    "CreatedItem",
    "DeleteItemInput",
    "DeleteItemOutput",
    "DeletedItem",
    "ImportedItem",
    "BulkLinkChange",
    "BulkLinkError",
    "BulkLinkResult",
    "LinkChange",
    "LinkInput",
    "LinkItemsInput",
    "LinkItemsOutput",
    "RecordTestResultInput",
    "RecordTestResultOutput",
    "RecordedResult",
    "RestoreItemInput",
    "RestoreItemOutput",
    "RestoredItem",
    "UpdateItemInput",
    "UpdateItemOutput",
    "UpdatedItem",
]


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
    reason: Reason | SkipJsonSchema[None] = None

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


class LinkChange(ToolOutput):
    from_id: str
    to_id: str
    type: str
    action: str
    changed: bool | None = None
    message: str


class BulkLinkChange(ToolOutput):
    index: int
    from_id: str
    to_id: str
    type: str
    action: str
    changed: bool


class BulkLinkError(ToolOutput):
    index: int
    from_id: str | None = None
    to_id: str | None = None
    type: str | None = None
    error: str


class BulkLinkResult(ToolOutput):
    processed: int
    changed: int
    links: list[BulkLinkChange]
    errors: list[BulkLinkError]


class LinkItemsOutput(ToolOutput):
    # One link (from_id, to_id, type) answers a LinkChange; many (links) a BulkLinkResult.
    data: LinkChange | BulkLinkResult


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
    run_at: Timestamp | SkipJsonSchema[None] = Field(
        default=None, description="When the test ran (ISO-8601; not in the future, not before the test case existed)."
    )
    build: Annotated[str, *SingleLineText] | SkipJsonSchema[None] = Field(
        default=None, min_length=1, max_length=200, description="The version under test (build, tag, commit)."
    )
    executed_by: Annotated[str, *SingleLineText] | SkipJsonSchema[None] = Field(
        default=None, min_length=1, max_length=320, description="Who ran it: a member's email or a name."
    )
    evidence: Annotated[str, *SingleLineText] | SkipJsonSchema[None] = Field(
        default=None, min_length=1, max_length=2000, description="A reference to the evidence: a URL or report id."
    )


class RecordedResult(ToolOutput):
    item_id: str
    result: str
    run_at: str | None = None
    run_by: str | None = None
    note: str | None = None
    message: str


class RecordTestResultOutput(ToolOutput):
    data: RecordedResult
