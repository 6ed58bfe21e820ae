"""The MCP server: the SDK's low-level `Server`, one adapter on the call pipeline core.

`tools/list` maps the registry's rows to SDK `Tool`s with input and output schemas (one page: any cursor is
-32602); `tools/call` maps a request to the pipeline (an unknown tool is JSON-RPC -32602, still audited) and the
pipeline's envelope to a `CallToolResult` (structuredContent and the same JSON as text, `isError` on failure). The
caller is the user the HTTP transport verified, else the token source's (stdio, in-memory). The history actor comes
from the client's self-reported name, always `mcp_<client>`.
The transport session a call's recorded session id is derived from is one the server issued: the SDK's streamable
HTTP session (a server-generated id the SDK checks on every request), else a server-generated id per connection
(stdio, in-memory) or per request (sessionless HTTP); never a header or JSON-RPC id the client sent.
"""

from __future__ import annotations

import json
import weakref
from collections.abc import AsyncGenerator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any

from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)

from atoms_mcp import __version__
from atoms_mcp.core.audit import AuditSink
from atoms_mcp.core.caller import TokenSource
from atoms_mcp.core.clients import actor_for, client_label
from atoms_mcp.core.pipeline import CallOrigin, CallPipeline
from atoms_mcp.core.refusals import RefusalCounter
from atoms_mcp.core.registry import TOOLS, ToolSpec
from atoms_mcp.core.sessions import new_transport_session
from atoms_mcp.identity.resource_server import verified_user
from atoms_mcp.identity.token_source import default_token_source
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.server.request_guard import client_address_of
from atoms_mcp.settings import Settings

__all__ = ["INSTRUCTIONS", "create_server", "to_mcp_tool"]

INSTRUCTIONS = (
    "atoms holds requirements, test cases and notes of regulated projects, with their traceability links. "
    "Start with atoms_list_projects to get a project_id; items are named by keys such as REQ-001 and TC-012. "
    "Every change is recorded in the item's history. If a tool answers UNAUTHENTICATED, call atoms_status."
)


def to_mcp_tool(spec: ToolSpec) -> Tool:
    """A registry row as the SDK's `Tool` (name, title, description, input and output schema, annotations,
    toolset)."""
    return Tool(
        name=spec.name,
        title=spec.title or None,
        description=spec.description,
        input_schema=spec.input_schema,
        output_schema=spec.output_schema,
        annotations=ToolAnnotations(
            title=spec.title or None,
            read_only_hint=spec.read_only,
            destructive_hint=spec.destructive,
            idempotent_hint=spec.idempotent,
            open_world_hint=False,
        ),
        # The toolset (read, write, admin, account): what an organisation policy can switch off as a group.
        _meta={"atoms/toolset": spec.toolset},
    )


def _result(payload: Mapping[str, Any], *, is_error: bool) -> CallToolResult:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=dict(payload), is_error=is_error
    )


def create_server(
    settings: Settings,
    *,
    token_source: TokenSource | None = None,
    audit_sink: AuditSink | None = None,
    tools: Iterable[ToolSpec] = TOOLS,
    refusals: RefusalCounter | None = None,
    spill_at_once: bool = False,
) -> Server[CallPipeline]:
    """The atoms MCP server.

    ``token_source`` supplies the user's token on stdio/in-memory connections (default: ATOMS_ACCESS_TOKEN, else
    the credentials file); over HTTP the request's verified bearer token is used instead. ``audit_sink`` replaces
    the database audit writer (tests); ``tools`` replaces the registry (tests add a slow tool); ``refusals`` are
    the HTTP transport's counts of requests refused before identification, drained into the audit log;
    ``spill_at_once`` spills audit records the database cannot take at once (stdio).
    """
    specs = tuple(tools)
    listed = [to_mcp_tool(spec) for spec in specs]
    source = token_source if token_source is not None else default_token_source(settings)
    verifier = JwtVerifier(settings)  # refuses a configuration without token keys before anything starts

    @asynccontextmanager
    async def lifespan(_: Server[CallPipeline]) -> AsyncGenerator[CallPipeline]:
        pipeline = CallPipeline(
            settings,
            verifier=verifier,
            token_source=source,
            audit_sink=audit_sink,
            tools=specs,
            spill_at_once=spill_at_once,
        )
        if refusals is not None:
            pipeline.audit.add_source(refusals.drain)
        async with pipeline:
            yield pipeline

    async def list_tools(
        ctx: ServerRequestContext[CallPipeline], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        # One page holds every tool, so no cursor was ever handed out: any cursor is invalid.
        if params is not None and params.cursor is not None:
            raise MCPError(code=INVALID_PARAMS, message="Invalid cursor: tools/list has a single page; omit cursor.")
        return ListToolsResult(tools=listed)

    async def call_tool(ctx: ServerRequestContext[CallPipeline], params: CallToolRequestParams) -> CallToolResult:
        pipeline = ctx.lifespan_context
        arguments = dict(params.arguments or {})
        origin = _origin(ctx)
        spec = pipeline.tools.get(params.name)
        if spec is None:
            error = await pipeline.refuse_unknown(params.name, arguments, origin, user=verified_user())
            raise MCPError(code=INVALID_PARAMS, message=error.message)
        outcome = await pipeline.call(spec, arguments, origin, user=verified_user())
        return _result(outcome.payload, is_error=outcome.is_error)

    return Server(
        "atoms",
        version=__version__,
        title="atoms",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


# Server-generated transport sessions of connections that have no SDK session id (stdio, in-memory), per connection.
_CONNECTION_SESSIONS: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


def _transport_session(ctx: ServerRequestContext[CallPipeline]) -> str:
    """The transport session the server issued for this request (see the module's docstring)."""
    # The SDK keeps the connection (and the session id it generated and checks) on a private attribute.
    connection: object = getattr(ctx.session, "_connection", None)
    if connection is None:
        return new_transport_session()
    issued = getattr(connection, "session_id", None)
    if isinstance(issued, str) and issued:
        return "http:" + issued
    if getattr(ctx.request, "headers", None) is not None:
        return new_transport_session()  # sessionless HTTP: each request is its own
    known = _CONNECTION_SESSIONS.get(connection)
    if known is None:
        known = _CONNECTION_SESSIONS.setdefault(connection, new_transport_session())
    return known


def _origin(ctx: ServerRequestContext[CallPipeline]) -> CallOrigin:
    """The call's origin: actor and client from the client's self-reported info (or ATOMS_CLIENT_NAME), the
    transport session the server issued, the JSON-RPC request id, the client's address (HTTP)."""
    pipeline = ctx.lifespan_context
    client_params = ctx.session.client_params
    raw_name = client_params.client_info.name if client_params is not None else None
    override = pipeline.settings.client_name
    return CallOrigin(
        actor=actor_for(raw_name, override),
        client_name=client_label(raw_name, override),
        transport_session=_transport_session(ctx),
        request_id=str(ctx.request_id) if ctx.request_id is not None else None,
        client_address=client_address_of(ctx.request, pipeline.settings),
    )
