"""The admin tools' models (the audit log, history verification): each tool's input model, followed by the model of
its successful result's `data`. Both read either a project's records (project_id) or an organisation's own
(org_id), exactly one of them."""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from atoms_mcp.core.models.fields import (
    UUID_PATTERN,
    Limit200,
    Offset,
    OrgId,
    ProjectId,
    Timestamp,
    ToolInput,
    ToolOutput,
)

__all__ = [
    "AuditRow",
    "GetAuditLogInput",
    "GetAuditLogOutput",
    "HistoryVerdict",
    "VerifyHistoryInput",
    "VerifyHistoryOutput",
]


class GetAuditLogInput(ToolInput):
    project_id: ProjectId | SkipJsonSchema[None] = Field(default=None, description="A project's calls.")
    org_id: OrgId | SkipJsonSchema[None] = Field(
        default=None, description="Instead of project_id: the organisation-level calls (team tools) of an organisation."
    )
    tool_name: str | SkipJsonSchema[None] = Field(
        default=None, max_length=128, pattern=r"^[A-Za-z0-9._-]+$", description="Only calls of this tool."
    )
    user_id: Annotated[str, Field(pattern=UUID_PATTERN)] | SkipJsonSchema[None] = Field(
        default=None, description="Only calls by this user (UUID)."
    )
    status: Literal["success", "error", "cancelled", "rate_limited", "refused"] | SkipJsonSchema[None] = None
    since: Timestamp | SkipJsonSchema[None] = Field(default=None, description="ISO-8601, inclusive.")
    until: Timestamp | SkipJsonSchema[None] = Field(default=None, description="ISO-8601, exclusive.")
    limit: Limit200 = 50
    offset: Offset = 0

    @model_validator(mode="after")
    def _one_scope(self) -> GetAuditLogInput:
        return _exactly_one_scope(self)


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


class VerifyHistoryInput(ToolInput):
    project_id: ProjectId | SkipJsonSchema[None] = Field(default=None, description="A project's history chain.")
    org_id: OrgId | SkipJsonSchema[None] = Field(
        default=None, description="Instead of project_id: the organisation's own chain (admins)."
    )

    @model_validator(mode="after")
    def _one_scope(self) -> VerifyHistoryInput:
        return _exactly_one_scope(self)


_Scoped = TypeVar("_Scoped", GetAuditLogInput, VerifyHistoryInput)


def _exactly_one_scope(model: _Scoped) -> _Scoped:
    if (model.project_id is None) == (model.org_id is None):
        raise ValueError("give exactly one of project_id or org_id")
    return model


class HistoryVerdict(ToolOutput):
    intact: bool
    checked_rows: int
    first_broken: dict[str, Any] | None = None


class VerifyHistoryOutput(ToolOutput):
    data: HistoryVerdict
