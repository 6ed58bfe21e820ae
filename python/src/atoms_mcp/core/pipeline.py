"""One tool call, whichever adapter receives it (the MCP server, the CLI): the call pipeline.

The steps, in order: validate the arguments with the tool's input model (invalid -> VALIDATION_ERROR) ->
identify the caller (a user the adapter already verified, else the token source's token, verified once) ->
count the call against the user's rate limit in its own transaction (refused -> RATE_LIMITED) -> one
transaction as the user calling `public.<rpc>` -> the envelope `{status, data, meta?}` or
`{status: "error", error}` -> one audit record queued (fire-and-forget). The adapter looks the tool up first and
answers an unknown name in its own way; `refuse_unknown` still audits that call. The caller is identified at most
once per call, and that identity (or its refusal) is reused for the audit record.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
import uuid
from collections.abc import Iterable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import psycopg

from atoms_mcp.core.audit import AuditQueue, AuditSink, DatabaseAuditSink, sanitize_params
from atoms_mcp.core.caller import SIGN_IN_HINT, TokenSource, TokenStatus, VerifiedUser, Verifier
from atoms_mcp.core.errors import (
    AtomsError,
    RateLimitedError,
    UnauthenticatedError,
    ValidationError,
    from_database_error,
)
from atoms_mcp.core.gateway import CallContext, Gateway
from atoms_mcp.core.registry import TOOLS, ToolSpec
from atoms_mcp.core.validation import validate_arguments
from atoms_mcp.settings import Settings

__all__ = ["CallOrigin", "CallOutcome", "CallPipeline", "audit_tool_name"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CallOrigin:
    """Where a call comes from: the history actor, the client and session the audit log records, the request id."""

    actor: str
    client_name: str | None
    session_id: str
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """The envelope a call ends in, and the error behind it when it failed."""

    payload: dict[str, Any]
    error: AtomsError | None = None

    @property
    def is_error(self) -> bool:
        """Whether the call failed (the payload is then `{status: "error", error}`)."""
        return self.error is not None


class CallPipeline:
    """The shared machinery of tool calls: the registry, the gateway pool, the audit queue, the caller's identity.

    Use `async with pipeline:` (opens the pool and starts the audit writer; flushes the audit queue on exit).
    ``token_source`` gives the token of callers the adapter did not verify itself (stdio, the CLI);
    ``audit_sink`` replaces the database audit writer (tests, the CLI); ``tools`` replaces the registry (tests);
    ``gateway`` is one the adapter configured itself (the CLI), else one made from the settings.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        verifier: Verifier,
        token_source: TokenSource | None,
        audit_sink: AuditSink | None = None,
        tools: Iterable[ToolSpec] = TOOLS,
        gateway: Gateway | None = None,
    ) -> None:
        self.settings = settings
        self.tools = {spec.name: spec for spec in tools}
        self.instance_id = str(uuid.uuid4())
        self.verifier = verifier
        self.token_source = token_source
        self.gateway = gateway if gateway is not None else Gateway(settings)
        self.audit = AuditQueue(
            audit_sink if audit_sink is not None else DatabaseAuditSink(settings.gateway_database_url),
            state_dir=settings.state_dir,
            max_size=settings.audit_queue_size,
            batch_size=settings.audit_batch_size,
        )
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> CallPipeline:
        await self.gateway.open()
        self._stack.push_async_callback(self.gateway.close)
        await self._stack.enter_async_context(self.audit)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def call(
        self, spec: ToolSpec, arguments: dict[str, Any], origin: CallOrigin, *, user: VerifiedUser | None = None
    ) -> CallOutcome:
        """Run one call of a known tool through every step; never raises for a failed call."""
        return await _ToolCall(self, spec.name, arguments, origin, user).run(spec)

    async def refuse_unknown(
        self, name: str, arguments: dict[str, Any], origin: CallOrigin, *, user: VerifiedUser | None = None
    ) -> ValidationError:
        """Audit a call of a tool that does not exist (probing for tools is worth seeing) and return its error."""
        call = _ToolCall(self, audit_tool_name(name), arguments, origin, user)
        error = ValidationError(f"Unknown tool: {call.tool_name}")
        with contextlib.suppress(AtomsError):
            await call.identify()
        call.audit(error)
        return error


def audit_tool_name(name: str) -> str:
    """A requested tool name fit for the audit log's tool_name (A-Z a-z 0-9 _ . -, 1-128 characters)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:128]
    return cleaned or "_"


class _ToolCall:
    """One call: its steps, its caller (identified at most once) and its audit record."""

    def __init__(
        self,
        pipeline: CallPipeline,
        tool_name: str,
        arguments: dict[str, Any],
        origin: CallOrigin,
        user: VerifiedUser | None,
    ) -> None:
        self._pipeline = pipeline
        self.tool_name = tool_name
        self.arguments = arguments
        self.origin = origin
        self._user = user
        self._refusal: UnauthenticatedError | None = None
        self._started = time.perf_counter()
        self._called_at = datetime.now(UTC).isoformat()

    async def identify(self) -> VerifiedUser:
        """The caller: the user handed in, else the token source's token verified (once; a refusal is kept)."""
        if self._user is not None:
            return self._user
        if self._refusal is not None:
            raise self._refusal
        try:
            source = self._pipeline.token_source
            token = await source.access_token() if source is not None else None
            if not token:
                raise UnauthenticatedError(f"Not signed in. {SIGN_IN_HINT}")
            self._user = await self._pipeline.verifier.verify(token)
        except UnauthenticatedError as refused:
            self._refusal = refused
            raise
        return self._user

    async def run(self, spec: ToolSpec) -> CallOutcome:
        error: AtomsError | None = None
        payload: dict[str, Any] = {}
        try:
            payload = await self._execute(spec)
        except AtomsError as known:
            error = known
        except Exception:  # the call boundary: nothing unexpected reaches the client as text
            logger.exception("tool %s failed", spec.name)
            error = AtomsError()
        if error is not None:
            payload = {"status": "error", "error": error.to_error()}
        if spec.kind == "rpc":
            # Refused before identification (invalid arguments): still attribute the record if the token is good.
            with contextlib.suppress(AtomsError):
                await self.identify()
        self.audit(error)
        return CallOutcome(payload, error)

    async def _execute(self, spec: ToolSpec) -> dict[str, Any]:
        validated = validate_arguments(spec.input_model, self.arguments)
        if spec.kind == "status" or spec.rpc is None:
            return (await self._status()).to_dict()
        user = await self.identify()
        context = CallContext(
            claims=user.claims,
            actor=self.origin.actor,
            session_id=self.origin.session_id,
            client_name=self.origin.client_name,
        )
        gateway = self._pipeline.gateway
        try:
            decision = await gateway.check_rate_limit(context, self._pipeline.settings.rate_limit_rpm)
            if not decision.allowed:
                raise RateLimitedError(
                    f"Rate limit of {decision.limit} calls per minute reached. "
                    f"Wait {decision.retry_after_seconds} s before the next call.",
                    retry_after_seconds=max(1, decision.retry_after_seconds),
                )
            given = validated.model_dump(mode="json", exclude_unset=True, exclude_none=True)
            data = await gateway.call_rpc(spec.rpc, given, context)
        except psycopg.Error as db_error:
            raise from_database_error(db_error) from db_error
        if spec.returns_meta and isinstance(data, dict) and "data" in data:
            page = cast(dict[str, Any], data)
            payload: dict[str, Any] = {"status": "success", "data": page["data"]}
            if page.get("meta") is not None:
                payload["meta"] = page["meta"]
            return payload
        return {"status": "success", "data": data}

    async def _status(self) -> TokenStatus:
        if self._user is not None:
            return TokenStatus.of(self._user)
        source = self._pipeline.token_source
        token = await source.access_token() if source is not None else None
        return await self._pipeline.verifier.status(token)

    def audit(self, error: AtomsError | None) -> None:
        """Queue this call's audit record; never fails the call."""
        project_id = self.arguments.get("project_id")
        # An organisation-level call (the team tools) names its organisation; the writer files it only for members.
        org_id = self.arguments.get("org_id")
        request_id = self.origin.request_id
        record = {
            "tool_name": self.tool_name,
            "params": sanitize_params(self.arguments),
            "status": "error" if error is not None else "success",
            "error_code": error.code if error is not None else None,
            "error_message": error.message[:1000] if error is not None else None,
            "duration_ms": round((time.perf_counter() - self._started) * 1000),
            "user_id": self._user.user_id if self._user is not None else None,
            "project_id": project_id if isinstance(project_id, str) and _is_uuid(project_id) else None,
            "org_id": org_id if isinstance(org_id, str) and _is_uuid(org_id) else None,
            "session_id": self.origin.session_id,
            "client_name": self.origin.client_name,
            "actor": self.origin.actor,
            "request_id": request_id[:200] if request_id is not None else None,
            "server_instance": self._pipeline.instance_id,
            "called_at": self._called_at,
        }
        try:
            self._pipeline.audit.record(record)
        except Exception:  # auditing must never fail the call; the failure is logged loudly
            logger.exception("audit: could not queue the record of %s", self.tool_name)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
