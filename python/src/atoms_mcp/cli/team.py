"""`atoms org|member|invitation|project ...`: setting up a team without SQL, for people at a terminal.

Each command runs team tools through the same call pipeline as `atoms call` (actor `cli`, every call audited, the
database deciding who may do what) and prints a human answer. `--org NAME|ID` may be left out when the caller
administers exactly one organisation; `--as EMAIL` acts as a local user (a dev token, local development only).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar, cast

import psycopg
import typer

from atoms_mcp.cli.common import fail, settings_of
from atoms_mcp.cli.output import print_rows
from atoms_mcp.core.audit import DatabaseAuditSink
from atoms_mcp.core.caller import StaticTokenSource, TokenSource
from atoms_mcp.core.clients import CLI_ACTOR, CLI_CLIENT_NAME
from atoms_mcp.core.errors import AtomsError, UnauthenticatedError
from atoms_mcp.core.gateway import CallContext, Gateway
from atoms_mcp.core.pipeline import CallOrigin, CallPipeline
from atoms_mcp.core.registry import TOOLS_BY_NAME
from atoms_mcp.identity.token_source import resolve_token_source
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.settings import Settings

__all__ = ["invitation_app", "member_app", "org_app", "project_app"]

org_app = typer.Typer(help="Organisations: create one, list yours.", no_args_is_help=True, add_completion=False)
member_app = typer.Typer(help="Members of an organisation (admins).", no_args_is_help=True, add_completion=False)
invitation_app = typer.Typer(help="Invitations addressed to you.", no_args_is_help=True, add_completion=False)
project_app = typer.Typer(help="Projects of an organisation.", no_args_is_help=True, add_completion=False)

OrgOption = Annotated[
    str | None,
    typer.Option("--org", help="Organisation name or id (default: the one organisation you administer)."),
]
AsOption = Annotated[str | None, typer.Option("--as", help="Local dev: act as this local user (mints a dev token).")]
Role = Annotated[str, typer.Option("--role", help="viewer | editor | admin.")]

T = TypeVar("T")


class TeamSession:
    """One command's session: tool calls through the pipeline as the CLI, and the caller's own organisations."""

    def __init__(self, pipeline: CallPipeline, gateway: Gateway, context: CallContext) -> None:
        self._pipeline = pipeline
        self._gateway = gateway
        self._context = context
        self._origin = CallOrigin(actor=CLI_ACTOR, client_name=CLI_CLIENT_NAME, transport_session=pipeline.instance_id)

    async def tool(self, tool_name: str, /, **arguments: Any) -> Any:
        """The data of one successful tool call.

        Raises:
            AtomsError: the tool refused (the database's code and message).
        """
        outcome = await self._pipeline.call(TOOLS_BY_NAME[tool_name], arguments, self._origin)
        if outcome.error is not None:
            raise outcome.error
        return outcome.payload.get("data")

    async def my_orgs(self) -> list[dict[str, Any]]:
        """The organisations the caller belongs to, by name, with their role (read under RLS, not a tool call)."""
        return await self._gateway.fetch_as_user(
            self._context,
            "select o.id::text as id, o.name, m.role::text as role from public.organization_members as m"
            " inner join public.organizations as o on m.org_id = o.id"
            " where m.user_id = (select auth.uid()) order by o.name, o.id",
        )

    async def admin_org(self, ref: str | None) -> dict[str, Any]:
        """The organisation named by --org (name, case-insensitive, or id), else the only one the caller administers.

        Raises:
            LookupError: none matches, or --org is needed to choose.
        """
        orgs = await self.my_orgs()
        if ref is not None:
            matches = [o for o in orgs if ref in (o["id"], o["name"]) or o["name"].casefold() == ref.casefold()]
            if len(matches) != 1:
                raise LookupError(f"no single organisation of yours is named {ref!r}; `atoms org list` shows them")
            return matches[0]
        administered = [o for o in orgs if o["role"] == "admin"]
        if len(administered) == 1:
            return administered[0]
        if not administered:
            raise LookupError('you administer no organisation; create one with `atoms org create "NAME"`')
        names = ", ".join(o["name"] for o in administered)
        raise LookupError(f"you administer several organisations ({names}); choose one with --org NAME")


@asynccontextmanager
async def _session(settings: Settings, as_user: str | None) -> AsyncGenerator[TeamSession]:
    source = _token_source(settings, as_user)
    token = await source.access_token()
    if not token:
        raise UnauthenticatedError("Not signed in: run `atoms login` (or set ATOMS_ACCESS_TOKEN).")
    user = await JwtVerifier(settings).verify(token)
    gateway = Gateway(settings, shield=contextlib.nullcontext, connections=1)
    sink = DatabaseAuditSink(settings.gateway_database_url, borrow=gateway.connection)
    pipeline = CallPipeline(
        settings,
        verifier=JwtVerifier(settings),
        token_source=StaticTokenSource(token),
        audit_sink=sink,
        gateway=gateway,
    )
    async with pipeline:
        context = CallContext(
            claims=user.claims, actor=CLI_ACTOR, session_id=pipeline.instance_id, client_name=CLI_CLIENT_NAME
        )
        yield TeamSession(pipeline, gateway, context)


def _token_source(settings: Settings, as_user: str | None) -> TokenSource:
    if as_user:
        from atoms_mcp.cli.dev import dev_token_for

        return StaticTokenSource(dev_token_for(settings, as_user), origin="--as")
    return resolve_token_source(settings, interactive=None)


def _run(ctx: typer.Context, as_user: str | None, work: Callable[[TeamSession], Awaitable[T]]) -> T:
    """Run one command's work in a session; a refusal or an unreachable database ends it with exit 1."""

    async def main() -> T:
        async with _session(settings_of(ctx), as_user) as session:
            return await work(session)

    try:
        return asyncio.run(main())
    except (AtomsError, psycopg.Error, LookupError) as error:
        fail(error)


# ---- atoms org ----


@org_app.command("create")
def org_create(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The organisation's name.")], as_user: AsOption = None
) -> None:
    """Create an organisation; you become its first admin."""
    created = _run(ctx, as_user, lambda s: s.tool("atoms_create_organization", name=name))
    typer.echo(f"Created organisation {created['name']} ({created['org_id']}); you are its admin.")


@org_app.command("list")
def org_list(ctx: typer.Context, as_user: AsOption = None) -> None:
    """The organisations you belong to, with your role."""
    print_rows(_run(ctx, as_user, lambda s: s.my_orgs()))


# ---- atoms member ----


@member_app.command("invite")
def member_invite(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The invitee's email.")],
    role: Role,
    org: OrgOption = None,
    as_user: AsOption = None,
) -> None:
    """Invite someone by email; they join with the role when they accept (`atoms invitation accept`)."""

    async def work(session: TeamSession) -> Any:
        target = await session.admin_org(org)
        return await session.tool("atoms_invite_member", org_id=target["id"], email=email, role=role)

    typer.echo(_run(ctx, as_user, work)["message"])


@member_app.command("list")
def member_list(ctx: typer.Context, org: OrgOption = None, as_user: AsOption = None) -> None:
    """The members with their roles, then the pending invitations."""

    async def work(session: TeamSession) -> Any:
        return await session.tool("atoms_list_members", org_id=(await session.admin_org(org))["id"], limit=200)

    listed = _run(ctx, as_user, work)
    print_rows([{k: m[k] for k in ("email", "name", "role", "user_id")} for m in listed["members"]])
    if listed["invitations"]:
        typer.echo("")
        print_rows([{k: i[k] for k in ("email", "role", "expires_at", "invitation_id")} for i in listed["invitations"]])


async def _member_id(session: TeamSession, org_id: str, email: str) -> str:
    listed = await session.tool("atoms_list_members", org_id=org_id, limit=200)
    for member in cast(list[dict[str, Any]], listed["members"]):
        if (member.get("email") or "").casefold() == email.strip().casefold():
            return str(member["user_id"])
    raise LookupError(f"{email} is not a member; `atoms member list` shows the members")


@member_app.command("role")
def member_role(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The member's email.")],
    role: Annotated[str, typer.Argument(help="viewer | editor | admin.")],
    org: OrgOption = None,
    as_user: AsOption = None,
) -> None:
    """Change a member's role (the last admin cannot be demoted)."""

    async def work(session: TeamSession) -> Any:
        org_id = (await session.admin_org(org))["id"]
        user_id = await _member_id(session, org_id, email)
        return await session.tool("atoms_set_member_role", org_id=org_id, user_id=user_id, role=role)

    typer.echo(_run(ctx, as_user, work)["message"])


@member_app.command("remove")
def member_remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The member's email.")],
    org: OrgOption = None,
    as_user: AsOption = None,
) -> None:
    """Remove a member (the last admin cannot be removed)."""

    async def work(session: TeamSession) -> Any:
        org_id = (await session.admin_org(org))["id"]
        user_id = await _member_id(session, org_id, email)
        return await session.tool("atoms_remove_member", org_id=org_id, user_id=user_id)

    typer.echo(_run(ctx, as_user, work)["message"])


# ---- atoms invitation ----


@invitation_app.command("list")
def invitation_list(ctx: typer.Context, as_user: AsOption = None) -> None:
    """The pending invitations addressed to your confirmed email."""
    listed = _run(ctx, as_user, lambda s: s.tool("atoms_list_my_invitations", limit=200))
    print_rows([{k: i[k] for k in ("org_name", "role", "expires_at", "invitation_id")} for i in listed])


async def _invitation_id(session: TeamSession, ref: str) -> str:
    """An invitation id as given, or the one pending invitation from the organisation named ref."""
    listed = cast(list[dict[str, Any]], await session.tool("atoms_list_my_invitations", limit=200))
    for invitation in listed:
        if ref in (invitation["invitation_id"], invitation["org_name"]) or invitation["org_name"].casefold() == (
            ref.casefold()
        ):
            return str(invitation["invitation_id"])
    return ref  # let the database answer (not found, expired, answered, not confirmed)


@invitation_app.command("accept")
def invitation_accept(
    ctx: typer.Context,
    invitation: Annotated[str, typer.Argument(help="Invitation id, or the inviting organisation's name.")],
    as_user: AsOption = None,
) -> None:
    """Accept an invitation and join its organisation."""

    async def work(session: TeamSession) -> Any:
        return await session.tool("atoms_accept_invitation", invitation_id=await _invitation_id(session, invitation))

    typer.echo(_run(ctx, as_user, work)["message"])


@invitation_app.command("decline")
def invitation_decline(
    ctx: typer.Context,
    invitation: Annotated[str, typer.Argument(help="Invitation id, or the inviting organisation's name.")],
    as_user: AsOption = None,
) -> None:
    """Decline an invitation."""

    async def work(session: TeamSession) -> Any:
        return await session.tool("atoms_decline_invitation", invitation_id=await _invitation_id(session, invitation))

    typer.echo(_run(ctx, as_user, work)["message"])


# ---- atoms project ----


@project_app.command("create")
def project_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The project's name.")],
    description: Annotated[str | None, typer.Option(help="What the project is about.")] = None,
    org: OrgOption = None,
    as_user: AsOption = None,
) -> None:
    """Create a project in your organisation (admins)."""

    async def work(session: TeamSession) -> Any:
        org_id = (await session.admin_org(org))["id"]
        given = {"description": description} if description is not None else {}
        return await session.tool("atoms_create_project", org_id=org_id, name=name, **given)

    created = _run(ctx, as_user, work)
    typer.echo(f"Created project {created['name']} ({created['project_id']}).")


@project_app.command("list")
def project_list(
    ctx: typer.Context,
    include_archived: Annotated[bool, typer.Option("--include-archived", help="Also archived projects.")] = False,
    as_user: AsOption = None,
) -> None:
    """The projects you can see, with your role."""
    listed = _run(ctx, as_user, lambda s: s.tool("atoms_list_projects", limit=200, include_archived=include_archived))
    print_rows([{k: p[k] for k in ("name", "org_name", "role", "archived", "id")} for p in listed])


@project_app.command("archive")
def project_archive(
    ctx: typer.Context,
    project: Annotated[str, typer.Argument(help="Project name or id.")],
    undo: Annotated[bool, typer.Option("--undo", help="Unarchive instead.")] = False,
    as_user: AsOption = None,
) -> None:
    """Archive a project (read-only, hidden from lists), or unarchive it with --undo (admins)."""

    async def work(session: TeamSession) -> Any:
        listed = cast(list[dict[str, Any]], await session.tool("atoms_list_projects", limit=200, include_archived=True))
        matches = [p for p in listed if project in (p["id"], p["name"]) or p["name"].casefold() == project.casefold()]
        if len(matches) != 1:
            raise LookupError(f"no single project of yours is named {project!r}; `atoms project list` shows them")
        return await session.tool("atoms_archive_project", project_id=matches[0]["id"], archived=not undo)

    typer.echo(_run(ctx, as_user, work)["message"])
