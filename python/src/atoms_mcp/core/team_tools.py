"""The registry rows of the team tools: toolset `account` (a signed-in user's own organisations and invitations)
and toolset `admin` (organisation administration). `registry.TOOLS` lists them after the project tools."""

from __future__ import annotations

from atoms_mcp.core import team_models
from atoms_mcp.core.toolspec import PAGE_NOTE, ToolSpec

__all__ = ["TEAM_TOOLS"]

_PAGE = PAGE_NOTE

TEAM_TOOLS: tuple[ToolSpec, ...] = (
    # ---- account: a signed-in user's own ----
    ToolSpec(
        name="atoms_create_organization",
        title="Create organisation",
        description=(
            "Create an organisation (a team or company); you become its first admin. Use it once when setting up a "
            "team, then atoms_create_project and atoms_invite_member. Returns {org_id, name, role, message}."
        ),
        input_model=team_models.CreateOrganizationInput,
        output_model=team_models.CreateOrganizationOutput,
        rpc="atoms_create_organization",
        read_only=False,
        group="account",
    ),
    ToolSpec(
        name="atoms_list_my_invitations",
        title="My invitations",
        description=(
            "List the pending invitations to organisations addressed to your confirmed email. Returns "
            f"[{{invitation_id, org_id, org_name, role, invited_by_email, created_at, expires_at}}]. {_PAGE}"
        ),
        input_model=team_models.ListMyInvitationsInput,
        output_model=team_models.ListMyInvitationsOutput,
        rpc="atoms_list_my_invitations",
        read_only=True,
        idempotent=True,
        returns_meta=True,
        group="account",
    ),
    ToolSpec(
        name="atoms_accept_invitation",
        title="Accept invitation",
        description=(
            "Accept an invitation addressed to your confirmed email and join its organisation with the invited role "
            "(ask the user first). Returns {invitation_id, org_id, org_name, role, status, changed, message}."
        ),
        input_model=team_models.AcceptInvitationInput,
        output_model=team_models.AcceptInvitationOutput,
        rpc="atoms_accept_invitation",
        read_only=False,
        group="account",
    ),
    ToolSpec(
        name="atoms_decline_invitation",
        title="Decline invitation",
        description=(
            "Decline an invitation addressed to your confirmed email (ask the user first). Returns {invitation_id, "
            "org_id, status, message}."
        ),
        input_model=team_models.DeclineInvitationInput,
        output_model=team_models.DeclineInvitationOutput,
        rpc="atoms_decline_invitation",
        read_only=False,
        group="account",
    ),
    # ---- admin: organisation administration ----
    ToolSpec(
        name="atoms_invite_member",
        title="Invite member",
        description=(
            "Invite someone to your organisation by email with a role: viewer (reads), editor (reads and writes) or "
            "admin (also manages members and projects). They join when they accept; the invitation expires after "
            "14 days. Admins only. Returns {invitation_id, org_id, email, role, status, expires_at, changed, message}."
        ),
        input_model=team_models.InviteMemberInput,
        output_model=team_models.InviteMemberOutput,
        rpc="atoms_invite_member",
        read_only=False,
        group="admin",
    ),
    ToolSpec(
        name="atoms_list_members",
        title="List members",
        description=(
            "The members of an organisation with their emails and roles, and its pending invitations (admins only). "
            "Use it to find a member's user_id. Returns {org_id, org_name, members:[{user_id, email, name, role, "
            "joined_at}], invitations:[...], meta}."
        ),
        input_model=team_models.ListMembersInput,
        output_model=team_models.ListMembersOutput,
        rpc="atoms_list_members",
        read_only=True,
        idempotent=True,
        group="admin",
    ),
    ToolSpec(
        name="atoms_set_member_role",
        title="Change member role",
        description=(
            "Change a member's role to viewer, editor or admin (admins only); the last admin cannot be demoted. "
            "Returns {org_id, user_id, email, old_role, role, changed, message}."
        ),
        input_model=team_models.SetMemberRoleInput,
        output_model=team_models.SetMemberRoleOutput,
        rpc="atoms_set_member_role",
        read_only=False,
        idempotent=True,
        group="admin",
    ),
    ToolSpec(
        name="atoms_remove_member",
        title="Remove member",
        description=(
            "Remove a member from the organisation (admins only; confirm with the user first); their next call is "
            "refused. The last admin cannot be removed. Returns {org_id, user_id, email, old_role, removed, message}."
        ),
        input_model=team_models.RemoveMemberInput,
        output_model=team_models.RemoveMemberOutput,
        rpc="atoms_remove_member",
        read_only=False,
        destructive=True,
        group="admin",
    ),
    ToolSpec(
        name="atoms_create_project",
        title="Create project",
        description=(
            "Create a project in your organisation (admins only); every member sees it with their organisation "
            "role. Returns {project_id, org_id, name, description, settings, archived, archived_at, message}."
        ),
        input_model=team_models.CreateProjectInput,
        output_model=team_models.CreateProjectOutput,
        rpc="atoms_create_project",
        read_only=False,
        group="admin",
    ),
    ToolSpec(
        name="atoms_update_project",
        title="Update project",
        description=(
            "Rename a project, change its description or its settings (require_change_reason) (admins only); only "
            "what you give changes. Returns the project with updated_fields."
        ),
        input_model=team_models.UpdateProjectInput,
        output_model=team_models.UpdateProjectOutput,
        rpc="atoms_update_project",
        read_only=False,
        idempotent=True,
        group="admin",
    ),
    ToolSpec(
        name="atoms_archive_project",
        title="Archive project",
        description=(
            "Archive a project (archived true: read-only, hidden from atoms_list_projects unless include_archived) "
            "or unarchive it (false) (admins only). Returns the project with changed and message."
        ),
        input_model=team_models.ArchiveProjectInput,
        output_model=team_models.ArchiveProjectOutput,
        rpc="atoms_archive_project",
        read_only=False,
        idempotent=True,
        group="admin",
    ),
    ToolSpec(
        name="atoms_get_org_history",
        title="Organisation history",
        description=(
            "The organisation's own history, newest first (admins only): organisations, members and their roles, "
            "invitations, projects and settings, each with who did it (changed_by_email), when, through which "
            "channel (actor user | cli | mcp_<client>) and the old and new values. Use it to answer who gave "
            f"someone a role. {_PAGE}"
        ),
        input_model=team_models.GetOrgHistoryInput,
        output_model=team_models.GetOrgHistoryOutput,
        rpc="atoms_get_org_history",
        read_only=True,
        idempotent=True,
        returns_meta=True,
        group="admin",
    ),
)
