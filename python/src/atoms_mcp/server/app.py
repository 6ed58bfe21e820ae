"""The MCP server: the low-level SDK `Server` with `tools/list` and `tools/call` generated from the registry.

One call: look the tool up (unknown -> JSON-RPC -32602) -> validate the arguments with its input model
(invalid -> VALIDATION_ERROR result) -> identify the user (HTTP: the bearer token the transport verified;
stdio: the token source) -> rate-limit check in its own transaction -> one transaction as the user calling
the RPC -> the catalogue's envelope as structuredContent and as JSON text. Every outcome is audited,
fire-and-forget.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
import pydantic
from mcp import MCPError
from mcp.server import Server, ServerRequestContext
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.stdio import stdio_server
from mcp.types import (
    INVALID_PARAMS,
    CallToolRequestParams,
    CallToolResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
)
from starlette.applications import Starlette

from atoms_mcp import __version__
from atoms_mcp.core.audit import AuditQueue, AuditSink, DatabaseAuditSink, sanitize_params
from atoms_mcp.core.clients import actor_for, client_label
from atoms_mcp.core.errors import (
    AtomsError,
    RateLimitedError,
    UnauthenticatedError,
    ValidationError,
    from_database_error,
)
from atoms_mcp.core.gateway import CallContext, Gateway
from atoms_mcp.core.models import ITEM_KEY_PATTERN, NO_CONTROL_PATTERN, UUID_PATTERN
from atoms_mcp.core.registry import TOOLS, ToolSpec
from atoms_mcp.identity import resource_server
from atoms_mcp.identity.verifier import (
    JwtVerifier,
    StaticTokenSource,
    TokenSource,
    VerifiedUser,
    default_token_source,
)
from atoms_mcp.settings import Settings

__all__ = ["ServerState", "create_http_app", "create_server", "render_validation_error", "run_stdio"]

logger = logging.getLogger(__name__)

INSTRUCTIONS = (
    "atoms holds requirements, test cases and notes of regulated projects, with their traceability links. "
    "Start with atoms_list_projects to get a project_id; items are named by keys such as REQ-001 and TC-012. "
    "Every change is recorded in the item's history. If a tool answers UNAUTHENTICATED, call atoms_status."
)
_PATTERN_HINTS = {
    UUID_PATTERN: "must be a UUID such as a0000000-0000-4000-8000-000000000101",
    ITEM_KEY_PATTERN: "must be an item key such as REQ-001 or TC-012",
    NO_CONTROL_PATTERN: "must not contain control characters",
}


@dataclass(slots=True)
class ServerState:
    """What the lifespan opens and every call uses."""

    settings: Settings
    gateway: Gateway
    audit: AuditQueue
    verifier: JwtVerifier
    token_source: TokenSource | None
    instance_session_id: str


def render_validation_error(error: pydantic.ValidationError, model: type[pydantic.BaseModel]) -> ValidationError:
    """An actionable VALIDATION_ERROR: for each problem the field and what to fix."""
    problems: list[dict[str, str]] = []
    for item in error.errors(include_url=False):
        kind = item["type"]
        if kind == "none_required":
            continue  # the `| None` branch of an optional field: null means "not given", never the problem
        field = ".".join(str(part) for part in _field_path(item["loc"])) or "arguments"
        if kind == "extra_forbidden":
            problem = f"unknown parameter; allowed: {', '.join(model.model_fields) or 'none'}"
        elif kind == "missing":
            problem = "is required"
        elif kind == "string_pattern_mismatch":
            pattern = str(item.get("ctx", {}).get("pattern", ""))
            problem = _PATTERN_HINTS.get(pattern, item["msg"])
        else:
            problem = item["msg"].removeprefix("Value error, ")
        if kind not in ("missing", "extra_forbidden") and not isinstance(item.get("input"), dict | list):
            problem = f"{problem} (got {json.dumps(item.get('input'), default=str)[:80]})"
        if {"field": field, "problem": problem} not in problems:
            problems.append({"field": field, "problem": problem})
    message = "Invalid arguments: " + "; ".join(f"{p['field']} {p['problem']}" for p in problems)
    return ValidationError(message, details=problems)


_UNION_TAGS = {"str", "int", "bool", "list", "dict", "float", "none"}


def _field_path(loc: tuple[int | str, ...]) -> list[int | str]:
    """The field path of a pydantic error location without union-branch tags (`literal[...]`, `str`)."""
    path: list[int | str] = []
    for part in loc:
        if isinstance(part, int) or part.isidentifier() and not (path and part in _UNION_TAGS):
            path.append(part)
    return path


def _envelope_result(payload: Mapping[str, Any], *, is_error: bool) -> CallToolResult:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=dict(payload), is_error=is_error
    )


def _error_result(error: AtomsError) -> CallToolResult:
    return _envelope_result({"status": "error", "error": error.to_error()}, is_error=True)


def create_server(
    settings: Settings,
    *,
    token_source: TokenSource | None = None,
    audit_sink: AuditSink | None = None,
    tools: Iterable[ToolSpec] = TOOLS,
) -> Server[ServerState]:
    """The atoms MCP server.

    ``token_source`` supplies the user's token on stdio/in-memory connections (default: ATOMS_ACCESS_TOKEN);
    over HTTP the verified bearer token of the request is used instead. ``audit_sink`` replaces the database
    audit writer (tests); ``tools`` replaces the registry (tests add a slow tool).
    """
    registry = {spec.name: spec for spec in tools}
    listed = [spec.to_mcp() for spec in registry.values()]
    source = token_source if token_source is not None else default_token_source(settings)

    @asynccontextmanager
    async def lifespan(_: Server[ServerState]) -> AsyncIterator[ServerState]:
        gateway = Gateway(settings)
        sink = audit_sink if audit_sink is not None else DatabaseAuditSink(settings.gateway_database_url)
        queue = AuditQueue(
            sink,
            state_dir=settings.state_dir,
            max_size=settings.audit_queue_size,
            batch_size=settings.audit_batch_size,
        )
        await gateway.open()
        try:
            async with queue:
                yield ServerState(
                    settings=settings,
                    gateway=gateway,
                    audit=queue,
                    verifier=JwtVerifier(settings),
                    token_source=source,
                    instance_session_id=str(uuid.uuid4()),
                )
        finally:
            await gateway.close()

    async def list_tools(
        ctx: ServerRequestContext[ServerState], params: PaginatedRequestParams | None
    ) -> ListToolsResult:
        return ListToolsResult(tools=listed)

    async def call_tool(ctx: ServerRequestContext[ServerState], params: CallToolRequestParams) -> CallToolResult:
        spec = registry.get(params.name)
        if spec is None:
            # A protocol error for the client, and still one audit record (probing for tools is worth seeing).
            await _Call(ctx, None, dict(params.arguments or {}), tool_name=params.name).refuse_unknown()
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {params.name}")
        return await _Call(ctx, spec, dict(params.arguments or {})).run()

    return Server(
        "atoms",
        version=__version__,
        title="atoms",
        instructions=INSTRUCTIONS,
        lifespan=lifespan,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


class _Call:
    """One tool call: its steps, its outcome and its audit record."""

    def __init__(
        self,
        ctx: ServerRequestContext[ServerState],
        spec: ToolSpec | None,
        arguments: dict[str, Any],
        *,
        tool_name: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.state = ctx.lifespan_context
        self._spec = spec
        self.tool_name = spec.name if spec is not None else _audit_tool_name(tool_name or "")
        self.called_at = datetime.now(UTC).isoformat()
        self.arguments = arguments
        self.user: VerifiedUser | None = None
        client_params = ctx.session.client_params
        raw_name = client_params.client_info.name if client_params is not None else None
        override = self.state.settings.client_name
        self.actor = actor_for(raw_name, override)
        self.client_name = client_label(raw_name, override)
        self.session_id = self._session_id()

    def _session_id(self) -> str:
        request = self.ctx.request
        headers = getattr(request, "headers", None)
        if headers is not None:
            value = headers.get("mcp-session-id")
            if value:
                return str(value)[:128]
        return self.state.instance_session_id

    @property
    def spec(self) -> ToolSpec:
        assert self._spec is not None
        return self._spec

    async def refuse_unknown(self) -> None:
        """Audit a call of a tool that does not exist (the caller gets a protocol error)."""
        started = time.perf_counter()
        with contextlib.suppress(AtomsError):
            self.user = await self._identify()
        self._audit(ValidationError(f"Unknown tool: {self.tool_name}"), started)

    async def run(self) -> CallToolResult:
        started = time.perf_counter()
        error: AtomsError | None = None
        try:
            result = await self._execute()
        except AtomsError as known:
            error = known
            result = _error_result(known)
        except Exception:  # the call boundary: nothing unexpected reaches the client as text
            logger.exception("tool %s failed", self.spec.name)
            error = AtomsError()
            result = _error_result(error)
        if self.user is None and self.spec.kind == "rpc":
            # Refused before identification (invalid arguments): still attribute the record if the token is good.
            with contextlib.suppress(AtomsError):
                self.user = await self._identify()
        self._audit(error, started)
        return result

    async def _execute(self) -> CallToolResult:
        try:
            validated = self.spec.input_model.model_validate(self.arguments)
        except pydantic.ValidationError as invalid:
            raise render_validation_error(invalid, self.spec.input_model) from None
        if self.spec.kind == "status":
            return _envelope_result((await self._status()).to_dict(), is_error=False)
        self.user = await self._identify()
        call = CallContext(
            claims=self.user.claims, actor=self.actor, session_id=self.session_id, client_name=self.client_name
        )
        gateway = self.state.gateway
        limit = self.state.settings.rate_limit_rpm
        try:
            decision = await gateway.check_rate_limit(call, limit)
            if not decision.allowed:
                raise RateLimitedError(
                    f"Rate limit of {decision.limit} calls per minute reached. "
                    f"Wait {decision.retry_after_seconds} s before the next call.",
                    retry_after_seconds=max(1, decision.retry_after_seconds),
                )
            assert self.spec.rpc is not None
            given = validated.model_dump(mode="json", exclude_unset=True, exclude_none=True)
            data = await gateway.call_rpc(self.spec.rpc, given, call)
        except psycopg.Error as db_error:
            raise from_database_error(db_error) from db_error
        if self.spec.returns_meta and isinstance(data, dict) and "data" in data:
            payload: dict[str, Any] = {"status": "success", "data": data["data"]}
            if data.get("meta") is not None:
                payload["meta"] = data["meta"]
        else:
            payload = {"status": "success", "data": data}
        return _envelope_result(payload, is_error=False)

    async def _status(self) -> Any:
        verifier = self.state.verifier
        access = get_access_token()
        if access is not None:
            return await verifier.status(access.token)
        source = self.state.token_source
        token = await source.access_token() if source is not None else None
        return await verifier.status(token)

    async def _identify(self) -> VerifiedUser:
        access = get_access_token()
        if access is not None and access.claims is not None:
            # HTTP: the transport's middleware already verified this bearer token (AtomsTokenVerifier).
            claims = dict(access.claims)
            email = claims.get("email")
            return VerifiedUser(
                user_id=str(access.subject),
                email=email if isinstance(email, str) else None,
                expires_at=access.expires_at,
                claims=claims,
            )
        source = self.state.token_source
        token = await source.access_token() if source is not None else None
        if not token:
            raise UnauthenticatedError(
                "Not signed in. Sign in with `atoms login`, or set ATOMS_ACCESS_TOKEN "
                "(local dev: `atoms dev token --user EMAIL`)."
            )
        return await self.state.verifier.verify(token)

    def _audit(self, error: AtomsError | None, started: float) -> None:
        project_id = self.arguments.get("project_id")
        record = {
            "tool_name": self.tool_name,
            "params": sanitize_params(self.arguments),
            "status": "error" if error is not None else "success",
            "error_code": error.code if error is not None else None,
            "error_message": error.message[:1000] if error is not None else None,
            "duration_ms": round((time.perf_counter() - started) * 1000),
            "user_id": self.user.user_id if self.user is not None else None,
            "project_id": project_id if isinstance(project_id, str) and _is_uuid(project_id) else None,
            "session_id": self.session_id,
            "client_name": self.client_name,
            "actor": self.actor,
            "request_id": str(self.ctx.request_id)[:200] if self.ctx.request_id is not None else None,
            "server_instance": self.state.instance_session_id,
            "called_at": self.called_at,
        }
        try:
            self.state.audit.record(record)
        except Exception:  # auditing must never fail the call; the failure is logged loudly
            logger.exception("audit: could not queue the record of %s", self.tool_name)


def _audit_tool_name(name: str) -> str:
    """A requested tool name fit for the audit log's tool_name (A-Z a-z 0-9 _ . -, 1-128 characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:128]
    return cleaned or "_"


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36


def create_http_app(settings: Settings, *, audit_sink: AuditSink | None = None, host: str = "127.0.0.1") -> Starlette:
    """The streamable HTTP app: every request must carry `Authorization: Bearer <user JWT>` (else 401)."""
    # OAuth 2.1 resource server: RFC 9728 metadata, audience-bound tokens, scope in the challenge, Host checks.
    settings = resource_server.http_settings(settings)
    server = create_server(settings, token_source=StaticTokenSource(None, origin="HTTP"), audit_sink=audit_sink)
    auth, verifier = resource_server.http_auth(settings)
    app = server.streamable_http_app(
        host=host,
        auth=auth,
        token_verifier=verifier,
        transport_security=resource_server.transport_security(settings, host),
    )
    return resource_server.finish_http_app(app, settings)


async def run_stdio(settings: Settings, *, token_source: TokenSource | None = None) -> None:
    """Serve one client over stdin/stdout until it disconnects (logs go to stderr)."""
    server = create_server(settings, token_source=token_source)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
