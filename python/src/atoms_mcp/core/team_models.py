"""Pydantic models of the team tools (toolsets `account` and `admin`): each tool's input, and beside it the result
its RPC returns.

The inputs mirror the SQL validation (`private.require_email`, `require_single_line_text`, the member_role enum) as
the first, friendlier line; the database re-validates everything. The results describe the `data` of a successful
call, field for field as the RPCs build them (a test checks each against real calls), so they can serve as the
tools' output schemas.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from atoms_mcp.core.models import (
    UUID_PATTERN,
    Limit200,
    MultiLineText,
    Offset,
    OrgId,
    ProjectId,
    SingleLineText,
    ToolInput,
    ToolOutput,
)

__all__ = [
    "CreateOrganizationOutput",
    "ListMyInvitationsOutput",
    "AcceptInvitationOutput",
    "DeclineInvitationOutput",
    "InviteMemberOutput",
    "ListMembersOutput",
    "SetMemberRoleOutput",
    "RemoveMemberOutput",
    "CreateProjectOutput",
    "UpdateProjectOutput",
    "ArchiveProjectOutput",
    "GetOrgHistoryOutput",
    "AcceptInvitationInput",
    "AcceptInvitationResult",
    "ArchiveProjectInput",
    "CreateOrganizationInput",
    "CreateOrganizationResult",
    "CreateProjectInput",
    "DeclineInvitationInput",
    "DeclineInvitationResult",
    "GetOrgHistoryInput",
    "InviteMemberInput",
    "InviteMemberResult",
    "ListMembersInput",
    "ListMembersResult",
    "ListMyInvitationsInput",
    "MemberChangeResult",
    "MyInvitation",
    "OrgHistoryEvent",
    "ProjectResult",
    "RemoveMemberInput",
    "SetMemberRoleInput",
    "TeamResult",
    "UpdateProjectInput",
]

# Mirrors private.require_email's shape (the database checks the full rule: labels, lengths).
EMAIL_PATTERN = r"^\s*[^@\s]{1,64}@[^@\s]+\.[^@\s]+\s*$"
# The text rules' check (NUL, controls, unpaired surrogates refused with the field named); the schema states the
# email shape, which already excludes whitespace.
Email = Annotated[
    str,
    SingleLineText[0],
    Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN, description="Email address (case-insensitive)."),
]
Role = Literal["viewer", "editor", "admin"]
Name = Annotated[str, *SingleLineText, Field(min_length=1, max_length=200, description="1-200 characters, one line.")]
Description = Annotated[str, *MultiLineText, Field(max_length=2000, description="Up to 2000 characters.")]
UserId = Annotated[str, Field(pattern=UUID_PATTERN, description="A member's user id (from atoms_list_members).")]
InvitationId = Annotated[
    str, Field(pattern=UUID_PATTERN, description="Invitation UUID (from atoms_list_my_invitations).")
]


# A project's settings (private.validate_project_settings is the one rule): absent keys keep their value.
ProjectSettings = Annotated[
    dict[Literal["require_change_reason"], bool],
    Field(
        min_length=1,
        description="require_change_reason (default false): changes to the project's items must give a reason.",
    ),
]


# ---- inputs: account ----


class CreateOrganizationInput(ToolInput):
    name: Name


class ListMyInvitationsInput(ToolInput):
    limit: Limit200 = 50
    offset: Offset = 0


class AcceptInvitationInput(ToolInput):
    invitation_id: InvitationId


class DeclineInvitationInput(ToolInput):
    invitation_id: InvitationId


# ---- inputs: admin ----


class OrgInput(ToolInput):
    org_id: OrgId


class InviteMemberInput(OrgInput):
    email: Email
    role: Role


class ListMembersInput(OrgInput):
    limit: Limit200 = 100
    offset: Offset = 0


class SetMemberRoleInput(OrgInput):
    user_id: UserId
    role: Role


class RemoveMemberInput(OrgInput):
    user_id: UserId


class CreateProjectInput(OrgInput):
    name: Name
    description: Description | SkipJsonSchema[None] = None


class UpdateProjectInput(ToolInput):
    project_id: ProjectId
    name: Name | SkipJsonSchema[None] = None
    description: Description | SkipJsonSchema[None] = None
    settings: ProjectSettings | SkipJsonSchema[None] = Field(default=None, description="Only the keys given change.")

    @model_validator(mode="after")
    def _something_to_change(self) -> UpdateProjectInput:
        if self.name is None and self.description is None and self.settings is None:
            raise ValueError("give at least one field to change: name, description, settings")
        return self


class ArchiveProjectInput(ToolInput):
    project_id: ProjectId
    archived: bool = Field(description="true: archive (read-only, hidden from lists); false: unarchive.")


class GetOrgHistoryInput(OrgInput):
    limit: Limit200 = 50
    offset: Offset = 0


# ---- results ----


class TeamResult(ToolOutput):
    """Base of the team tools' results: the fields the RPC returns (as every output model, open to later sibling
    fields)."""


class CreateOrganizationResult(TeamResult):
    org_id: str
    name: str
    role: Role
    message: str


class MyInvitation(TeamResult):
    invitation_id: str
    org_id: str
    org_name: str
    role: Role
    invited_by_email: str | None
    created_at: str
    expires_at: str


class AcceptInvitationResult(TeamResult):
    invitation_id: str
    org_id: str
    org_name: str
    role: Role
    status: Literal["accepted"]
    changed: bool
    message: str


class DeclineInvitationResult(TeamResult):
    invitation_id: str
    org_id: str
    status: Literal["declined"]
    message: str


class InviteMemberResult(TeamResult):
    """The same shape whether or not the email has an account; status member when it is already a member."""

    org_id: str
    email: str
    role: Role
    status: Literal["pending", "member"]
    changed: bool
    message: str
    invitation_id: str | None = None
    expires_at: str | None = None


class Member(TeamResult):
    user_id: str
    email: str | None
    name: str | None
    role: Role
    joined_at: str


class PendingInvitation(TeamResult):
    invitation_id: str
    email: str
    role: Role
    invited_by: str
    invited_by_email: str | None
    created_at: str
    expires_at: str


class PageMeta(TeamResult):
    total_count: int
    limit: int
    offset: int
    has_more: bool


class ListMembersResult(TeamResult):
    org_id: str
    org_name: str
    members: list[Member]
    invitations: list[PendingInvitation]
    meta: PageMeta


class MemberChangeResult(TeamResult):
    """atoms_set_member_role (role, changed) and atoms_remove_member (removed)."""

    org_id: str
    user_id: str
    email: str | None
    old_role: Role
    message: str
    role: Role | None = None
    changed: bool | None = None
    removed: bool | None = None


class ProjectResult(TeamResult):
    """atoms_create_project, atoms_update_project (updated_fields) and atoms_archive_project (changed)."""

    project_id: str
    org_id: str
    name: str
    description: str
    settings: dict[str, Any]
    archived: bool
    archived_at: str | None
    message: str | None = None
    updated_fields: list[str] | None = None
    changed: bool | None = None


class OrgHistoryEvent(TeamResult):
    """One row of the organisation's chain: who (changed_by, its email), when, through which channel (actor,
    client_name), and what (old and new values; subject_email: the member or invitee, resolved at read time)."""

    chain_seq: int
    event_type: str
    changed_at: str
    changed_by: str | None
    changed_by_email: str | None
    actor: str
    client_name: str | None
    session_id: str | None
    fields_changed: list[str]
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    subject_email: str | None


# ---- output models: the `data` of each team tool's successful result (its output schema) ----


class CreateOrganizationOutput(ToolOutput):
    data: CreateOrganizationResult


class ListMyInvitationsOutput(ToolOutput):
    data: list[MyInvitation]


class AcceptInvitationOutput(ToolOutput):
    data: AcceptInvitationResult


class DeclineInvitationOutput(ToolOutput):
    data: DeclineInvitationResult


class InviteMemberOutput(ToolOutput):
    data: InviteMemberResult


class ListMembersOutput(ToolOutput):
    data: ListMembersResult


class SetMemberRoleOutput(ToolOutput):
    data: MemberChangeResult


class RemoveMemberOutput(ToolOutput):
    data: MemberChangeResult


class CreateProjectOutput(ToolOutput):
    data: ProjectResult


class UpdateProjectOutput(ToolOutput):
    data: ProjectResult


class ArchiveProjectOutput(ToolOutput):
    data: ProjectResult


class GetOrgHistoryOutput(ToolOutput):
    data: list[OrgHistoryEvent]
