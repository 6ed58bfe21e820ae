"""`atoms tools` and `atoms call`: the CLI as an adapter on the call pipeline core, without the MCP SDK.

A call runs the same pipeline as the MCP server (validation, identification, rate limit, the RPC as the user, the
audit record) with actor `cli` (a person at a terminal), client `atoms-cli` and this process as its session.
It runs on plain asyncio (no anyio: nothing here cancels through anyio, so the gateway's clean-up needs no anyio
shield) over one gateway connection, which also writes the audit record.
Exit codes: 0 success, 1 the tool failed (also a bulk call where every item failed), 2 usage (unknown tool,
arguments that are not a JSON object), 3 partial success (a bulk call where some items failed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any, cast

import psycopg
import typer

from atoms_mcp.cli.common import EXIT_FAILURE, EXIT_PARTIAL, fail, settings_of, usage
from atoms_mcp.cli.output import Output, print_payload, print_rows
from atoms_mcp.core.audit import DatabaseAuditSink
from atoms_mcp.core.caller import StaticTokenSource, TokenSource
from atoms_mcp.core.clients import CLI_ACTOR, CLI_CLIENT_NAME
from atoms_mcp.core.errors import AtomsError
from atoms_mcp.core.gateway import Gateway
from atoms_mcp.core.pipeline import CallOrigin, CallOutcome, CallPipeline
from atoms_mcp.core.registry import TOOLS, TOOLS_BY_NAME, ToolSpec
from atoms_mcp.identity.token_source import resolve_token_source
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.settings import ConfigurationError, Settings

__all__ = ["call", "exit_code", "run_call", "token_source", "tools"]

OutputOption = Annotated[Output, typer.Option("--output", "-o", help="json (default) or table.")]


def tools(output: OutputOption = Output.table) -> None:
    """List the tools with a one-line description each (`atoms call TOOL '{...}'` runs one)."""
    if output is Output.json:
        listed = [{"name": spec.name, "title": spec.title, "summary": spec.summary} for spec in TOOLS]
        typer.echo(json.dumps(listed, indent=2, ensure_ascii=False))
        return
    print_rows([{"tool": spec.name, "description": spec.summary} for spec in TOOLS])


def call(
    ctx: typer.Context,
    tool: Annotated[str, typer.Argument(help="Tool name, e.g. atoms_list_projects (`atoms tools` lists them).")],
    arguments: Annotated[str, typer.Argument(help="Arguments as a JSON object.")] = "{}",
    as_user: Annotated[
        str | None, typer.Option("--as", help="Local dev: act as this seed user (mints a dev token).")
    ] = None,
    output: OutputOption = Output.json,
) -> None:
    """Run one tool as you and print its result: exit 0 success, 1 tool error, 2 usage, 3 partial success."""
    settings = settings_of(ctx)
    spec = TOOLS_BY_NAME.get(tool)
    if spec is None:
        _audit_unknown(settings, tool, _lenient_json(arguments), as_user)
        usage(f"unknown tool {tool!r}; `atoms tools` lists the tools.")
    try:
        parsed: Any = json.loads(arguments)
    except json.JSONDecodeError as error:
        usage(f'arguments must be a JSON object such as \'{{"project_id": "..."}}\' ({error.msg} at {error.pos}).')
    if not isinstance(parsed, dict):
        usage('arguments must be a JSON object such as \'{"project_id": "..."}\'.')
    given = {str(key): value for key, value in cast(dict[Any, Any], parsed).items()}
    try:
        source = token_source(settings, as_user, interactive=None)
        outcome = asyncio.run(run_call(settings, spec, given, source))
    except (AtomsError, psycopg.Error, LookupError, ConfigurationError) as error:
        fail(error)
    print_payload(outcome.payload, output)
    raise typer.Exit(exit_code(outcome))


async def run_call(settings: Settings, spec: ToolSpec, arguments: dict[str, Any], source: TokenSource) -> CallOutcome:
    """One call through the pipeline as the CLI: actor `cli`, client `atoms-cli`."""
    async with _pipeline(settings, source) as pipeline:
        return await pipeline.call(spec, arguments, _origin(pipeline))


def exit_code(outcome: CallOutcome) -> int:
    """0 success, 1 failure (also a bulk call where every item failed), 3 some items of a bulk call failed."""
    if outcome.is_error:
        return EXIT_FAILURE
    data: Any = outcome.payload.get("data")
    if not isinstance(data, dict):
        return 0
    bulk = cast(dict[str, Any], data)
    if isinstance(bulk.get("errors"), list) and bulk["errors"]:
        return EXIT_PARTIAL if bulk.get("created") else EXIT_FAILURE
    return 0


def _pipeline(settings: Settings, source: TokenSource) -> CallPipeline:
    """The pipeline of one CLI call: no anyio shield (see the module's docstring), one gateway connection, and the
    audit record written on it rather than on a second connection."""
    gateway = Gateway(settings, shield=contextlib.nullcontext, connections=1)
    audit_sink = DatabaseAuditSink(settings.gateway_database_url, borrow=gateway.connection)
    return CallPipeline(
        settings, verifier=JwtVerifier(settings), token_source=source, audit_sink=audit_sink, gateway=gateway
    )


def _origin(pipeline: CallPipeline) -> CallOrigin:
    return CallOrigin(actor=CLI_ACTOR, client_name=CLI_CLIENT_NAME, transport_session=pipeline.instance_id)


def token_source(settings: Settings, as_user: str | None, *, interactive: bool | None) -> TokenSource:
    """--as mints a dev token; else ATOMS_ACCESS_TOKEN, the credentials file, or a browser login at a terminal."""
    if as_user:
        from atoms_mcp.cli.dev import dev_token_for

        return StaticTokenSource(dev_token_for(settings, as_user), origin="--as")
    return resolve_token_source(settings, interactive=interactive)


def _lenient_json(arguments: str) -> dict[str, Any]:
    """The arguments if they are a JSON object, else none (for the audit record of a refused call)."""
    try:
        parsed: Any = json.loads(arguments)
    except json.JSONDecodeError:
        return {}
    return {str(key): value for key, value in cast(dict[Any, Any], parsed).items()} if isinstance(parsed, dict) else {}


def _audit_unknown(settings: Settings, tool: str, arguments: dict[str, Any], as_user: str | None) -> None:
    """The call of an unknown tool is audited like any other (attributed when a token is at hand, never by a
    browser login: the call is refused anyway)."""

    async def refuse() -> None:
        try:
            source = token_source(settings, as_user, interactive=False)
        except (AtomsError, LookupError, psycopg.Error):
            source = StaticTokenSource(None)
        async with _pipeline(settings, source) as pipeline:
            await pipeline.refuse_unknown(tool, arguments, _origin(pipeline))

    try:
        asyncio.run(refuse())
    except (AtomsError, psycopg.Error, OSError, ConfigurationError) as error:
        typer.secho(f"(the refused call could not be audited: {error})", err=True)
