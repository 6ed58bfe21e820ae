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
    Summary,
    TestResult,
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
    "LinkChange",
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
