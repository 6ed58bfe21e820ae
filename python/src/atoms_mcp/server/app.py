"""The MCP server: the SDK's low-level `Server`, one adapter on the call pipeline core.

`tools/list` maps the registry's rows to SDK `Tool`s; `tools/call` maps a request to the pipeline (an unknown tool
is JSON-RPC -32602, still audited) and the pipeline's envelope to a `CallToolResult` (structuredContent and the
same JSON as text, `isError` on failure). The caller is the user the HTTP transport verified, else the token
source's (stdio, in-memory). The history actor comes from the client's self-reported name, always `mcp_<client>`.
"""

from __future__ import annotations

import json
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
from atoms_mcp.core.registry import TOOLS, ToolSpec
from atoms_mcp.identity.resource_server import verified_user
from atoms_mcp.identity.token_source import default_token_source
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.settings import Settings

__all__ = ["INSTRUCTIONS", "create_server", "to_mcp_tool"]

INSTRUCTIONS = (
    "atoms holds requirements, test cases and notes of regulated projects, with their traceability links. "
    "Start with atoms_list_projects to get a project_id; items are named by keys such as REQ-001 and TC-012. "
    "Every change is recorded in the item's history. If a tool answers UNAUTHENTICATED, call atoms_status."
)


def to_mcp_tool(spec: ToolSpec) -> Tool:
    """A registry row as the SDK's `Tool` (name, title, description, input schema, annotations, toolset)."""
    return Tool(
        name=spec.name,
        title=spec.title or None,
        description=spec.description,
        input_schema=spec.input_schema,
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
) -> Server[CallPipeline]:
    """The atoms MCP server.

    ``token_source`` supplies the user's token on stdio/in-memory connections (default: ATOMS_ACCESS_TOKEN, else
    the credentials file); over HTTP the request's verified bearer token is used instead. ``audit_sink`` replaces
    the database audit writer (tests); ``tools`` replaces the registry (tests add a slow tool).
    """
    specs = tuple(tools)
    listed = [to_mcp_tool(spec) for spec in specs]
    source = token_source if token_source is not None else default_token_source(settings)

    @asynccontextmanager
    async def lifespan(_: Server[CallPipeline]) -> AsyncGenerator[CallPipeline]:
        pipeline = CallPipeline(
            settings, verifier=JwtVerifier(settings), token_source=source, audit_sink=audit_sink, tools=specs
        )
        async with pipeline:
            yield pipeline

    async def list_tools(
        ctx: ServerRequestContext[CallPipeline], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ListToolsResult(tools=listed)

    async def call_tool(ctx: ServerRequestContext[CallPipeline], params: CallToolRequestParams) -> CallToolResult:
        pipeline = ctx.lifespan_context
        arguments = dict(params.arguments or {})
        origin = _origin(ctx)
        spec = pipeline.tools.get(params.name)
        if spec is None:
            await pipeline.refuse_unknown(params.name, arguments, origin, user=verified_user())
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {params.name}")
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


def _origin(ctx: ServerRequestContext[CallPipeline]) -> CallOrigin:
    """The call's origin: actor and client from the client's self-reported info (or ATOMS_CLIENT_NAME), the MCP
    session from the `mcp-session-id` header (else this server instance), the JSON-RPC request id."""
    pipeline = ctx.lifespan_context
    client_params = ctx.session.client_params
    raw_name = client_params.client_info.name if client_params is not None else None
    override = pipeline.settings.client_name
    session_id = pipeline.instance_id
    headers: Any = getattr(ctx.request, "headers", None)
    if headers is not None:
        value = headers.get("mcp-session-id")
        if value:
            session_id = str(value)[:128]
    return CallOrigin(
        actor=actor_for(raw_name, override),
        client_name=client_label(raw_name, override),
        session_id=session_id,
        request_id=str(ctx.request_id) if ctx.request_id is not None else None,
    )
