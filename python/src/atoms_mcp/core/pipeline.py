"""One tool call, whichever adapter receives it (the MCP server, the CLI): the call pipeline.

The steps, in order (DESIGN §1): structural caps (argument key count, nesting depth; the HTTP transport also checks
them, with the body size, before identification) -> identify the caller (a user the adapter already verified, else
the token source's token, verified once; refused -> UNAUTHENTICATED) -> validate the arguments with the tool's input
model (large ones off the event loop) -> an invalid call, an unknown tool or `atoms_status` takes one rate-limit slot
in a limiter-only round trip (limited -> RATE_LIMITED); a valid call takes its slot and runs `public.<rpc>` as the
user in one round trip (the gateway's metering; a failing RPC keeps its slot) -> the envelope `{status, data,
meta?}` or `{status: "error", error}`, fitted to the result budget (result_budget.py) -> one audit record queued
(fire-and-forget): success, error, rate_limited, or cancelled when the call is cancelled (the cancellation then
goes on). The recorded session id is server-owned
(`sessions.SessionIds`), derived from the user and the adapter's transport session.
"""

from __future__ import annotations

import asyncio
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
import pydantic

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
from atoms_mcp.core.models import UUID_PATTERN
from atoms_mcp.core.registry import TOOLS, ToolSpec
from atoms_mcp.core.result_budget import RESULT_ARGUMENTS, fit_result
from atoms_mcp.core.sessions import SessionIds
from atoms_mcp.core.validation import check_structure, validate_arguments
from atoms_mcp.settings import Settings

__all__ = ["CallOrigin", "CallOutcome", "CallPipeline", "audit_tool_name", "is_canonical_uuid"]

logger = logging.getLogger(__name__)

# The same rule as private.require_uuid (8-4-4-4-12 hex, either case, nothing around it): a project or user id the
# audit writer would refuse is never sent.
_CANONICAL_UUID = re.compile(UUID_PATTERN)
# How long atoms_status waits for its rate-limit slot before answering unmetered (the database is unreachable).
_STATUS_SLOT_SECONDS = 2.0
# Arguments with more values than this are validated in a worker thread, not on the event loop.
OFF_LOOP_VALUES = 256


def is_canonical_uuid(value: object) -> bool:
    """Whether ``value`` is UUID text the database's `private.require_uuid` accepts (no `urn:uuid:`, braces,
    missing hyphens or surrounding space, which Python's `uuid.UUID` would accept)."""
    return isinstance(value, str) and _CANONICAL_UUID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class CallOrigin:
    """Where a call comes from: the history actor, the client the audit log records, the transport session the
    server issued (the recorded session id is derived from it), the request id, the client's address."""

    actor: str
    client_name: str | None
    transport_session: str
    request_id: str | None = None
    client_address: str | None = None


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
    ``gateway`` is one the adapter configured itself (the CLI), else one made from the settings; ``spill_at_once``
    spills audit records the database cannot take at once (stdio).
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
        spill_at_once: bool = False,
    ) -> None:
        self.settings = settings
        self.tools = {spec.name: spec for spec in tools}
        self.instance_id = str(uuid.uuid4())
        self.verifier = verifier
        self.token_source = token_source
        self.sessions = SessionIds.from_settings(settings)
        self.gateway = gateway if gateway is not None else Gateway(settings)
        self.audit = AuditQueue(
            audit_sink if audit_sink is not None else DatabaseAuditSink(settings.gateway_database_url),
            state_dir=settings.state_dir,
            max_size=settings.audit_queue_size,
            batch_size=settings.audit_batch_size,
            spill_at_once=spill_at_once,
            flush_timeout=1.0 if spill_at_once else 10.0,
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
        """Run one call of a known tool through every step; never raises for a failed call (a cancellation is
        audited and continues)."""
        return await _ToolCall(self, spec.name, arguments, origin, user).run(spec)

    async def refuse_unknown(
        self, name: str, arguments: dict[str, Any], origin: CallOrigin, *, user: VerifiedUser | None = None
    ) -> AtomsError:
        """Meter and audit a call of a tool that does not exist (probing for tools is worth seeing) and return its
        error: VALIDATION_ERROR, or RATE_LIMITED / UNAUTHENTICATED when that comes first."""
        call = _ToolCall(self, audit_tool_name(name), arguments, origin, user)
        error: AtomsError = ValidationError(f"Unknown tool: {call.tool_name}")
        try:
            await call.identify()
            await call.meter_refusal()
        except AtomsError as refused:
            error = refused
        except BaseException:
            call.audit(None, cancelled=True)
            raise
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

    @property
    def session_id(self) -> str:
        """The recorded session id: the user's in this transport session (derived, never the client's)."""
        user_id = self._user.user_id if self._user is not None else None
        return self._pipeline.sessions.derive(user_id, self.origin.transport_session)

    def _context(self, user: VerifiedUser) -> CallContext:
        return CallContext(
            claims=user.claims,
            actor=self.origin.actor,
            session_id=self.session_id,
            client_name=self.origin.client_name,
        )

    async def take_slot(self) -> None:
        """One rate-limit slot of the identified caller in a limiter-only round trip.

        Raises:
            RateLimitedError: the limit is reached.
        """
        user = await self.identify()
        try:
            await self._pipeline.gateway.take_slot(self._context(user), self._pipeline.settings.rate_limit_rpm)
        except psycopg.Error as db_error:
            raise self._database_error(db_error) from db_error

    async def meter_refusal(self) -> None:
        """The slot of a call refused without database work (invalid arguments, an unknown tool): RATE_LIMITED
        when the limit is reached; when the limiter cannot be reached the refusal stands, unmetered (logged).

        Raises:
            RateLimitedError: the limit is reached.
            UnauthenticatedError: the caller is not identified.
        """
        try:
            await self.take_slot()
        except (RateLimitedError, UnauthenticatedError):
            raise
        except AtomsError:
            logger.warning(
                "%s: the rate limiter could not be reached; the refusal is answered unmetered", self.tool_name
            )

    def _database_error(self, db_error: psycopg.Error) -> AtomsError:
        """The atoms error of a database error; a refused slot says the configured limit per minute."""
        error = from_database_error(db_error)
        if isinstance(error, RateLimitedError):
            return RateLimitedError(
                f"Rate limit of {self._pipeline.settings.rate_limit_rpm} calls per minute reached. "
                f"Wait {error.retry_after_seconds} s before the next call.",
                retry_after_seconds=error.retry_after_seconds,
            )
        return error

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
        except BaseException:  # cancelled (asyncio or anyio): audited, then the cancellation goes on
            self.audit(None, cancelled=True)
            raise
        if error is not None:
            payload = fit_result({"status": "error", "error": error.to_error()}, {})
        self.audit(error)
        return CallOutcome(payload, error)

    async def _execute(self, spec: ToolSpec) -> dict[str, Any]:
        settings = self._pipeline.settings
        if spec.kind == "status" or spec.rpc is None:
            try:
                values = check_structure(
                    self.arguments, max_keys=settings.max_argument_keys, max_depth=settings.max_argument_depth
                )
                await self._validate(spec.input_model, values)
            except ValidationError:
                with contextlib.suppress(UnauthenticatedError):
                    await self.meter_refusal()
                raise
            return (await self._status()).to_dict()
        user = await self.identify()
        try:
            values = check_structure(
                self.arguments, max_keys=settings.max_argument_keys, max_depth=settings.max_argument_depth
            )
            validated = await self._validate(spec.input_model, values)
        except ValidationError:
            await self.meter_refusal()  # an invalid call consumes its slot too (RATE_LIMITED comes first)
            raise
        gateway = self._pipeline.gateway
        try:
            given = validated.model_dump(mode="json", exclude_unset=True, exclude_none=True)
            rpc_arguments = {name: value for name, value in given.items() if name not in RESULT_ARGUMENTS}
            data = await gateway.call_rpc(
                spec.rpc, rpc_arguments, self._context(user), rate_limit=settings.rate_limit_rpm
            )
        except psycopg.Error as db_error:
            raise self._database_error(db_error) from db_error
        payload: dict[str, Any]
        if spec.returns_meta and isinstance(data, dict) and "data" in data:
            page = cast(dict[str, Any], data)
            payload = {"status": "success", "data": page["data"]}
            if page.get("meta") is not None:
                payload["meta"] = page["meta"]
        else:
            payload = {"status": "success", "data": data}
        # Windowed body, shrunk page, trimmed fields: the result stays within the budget (result_budget.py).
        return fit_result(payload, validated.model_dump(include=set(RESULT_ARGUMENTS)))

    async def _validate(self, model: type[pydantic.BaseModel], values: int) -> pydantic.BaseModel:
        """The validated arguments; large arguments are validated in a worker thread (the event loop stays free)."""
        if values <= OFF_LOOP_VALUES:
            return validate_arguments(model, self.arguments)
        return await asyncio.to_thread(validate_arguments, model, self.arguments)

    async def _status(self) -> TokenStatus:
        """The caller's sign-in status; a signed-in caller's status call is metered like any call."""
        if self._user is None:
            source = self._pipeline.token_source
            token = await source.access_token() if source is not None else None
            status = await self._pipeline.verifier.status(token)
            if status.status != "authenticated" or token is None:
                return status
            self._user = await self._pipeline.verifier.verify(token)
        try:
            # The status needs no database: a limiter that does not answer soon is treated as unreachable.
            async with asyncio.timeout(_STATUS_SLOT_SECONDS):
                await self.take_slot()
        except RateLimitedError:
            raise
        except (AtomsError, TimeoutError):  # the limiter is unreachable: the status still answers
            logger.warning("atoms_status: the rate limiter could not be reached; answered unmetered")
        return TokenStatus.of(self._user)

    def audit(self, error: AtomsError | None, *, cancelled: bool = False) -> None:
        """Queue this call's audit record; never fails the call."""
        project_id = self.arguments.get("project_id")
        # An organisation-level call (the team tools) names its organisation; the writer files it only for members.
        org_id = self.arguments.get("org_id")
        request_id = self.origin.request_id
        user_id = self._user.user_id if self._user is not None else None
        if cancelled:
            status = "cancelled"
        elif error is None:
            status = "success"
        else:
            status = "rate_limited" if isinstance(error, RateLimitedError) else "error"
        record = {
            "tool_name": self.tool_name,
            "params": sanitize_params(self.arguments),
            "status": status,
            "error_code": error.code if error is not None else None,
            "error_message": error.message[:1000] if error is not None else None,
            "duration_ms": min(86_400_000, round((time.perf_counter() - self._started) * 1000)),
            "user_id": user_id if is_canonical_uuid(user_id) else None,
            "project_id": project_id if is_canonical_uuid(project_id) else None,
            "org_id": org_id if is_canonical_uuid(org_id) else None,
            "session_id": self.session_id,
            "client_name": self.origin.client_name,
            "actor": self.origin.actor,
            "request_id": request_id[:200] if request_id is not None else None,
            "server_instance": self._pipeline.instance_id,
            "called_at": self._called_at,
            "client_address": self.origin.client_address,
        }
        try:
            self._pipeline.audit.record(record)
        except Exception:  # auditing must never fail the call; the failure is logged loudly
            logger.exception("audit: could not queue the record of %s", self.tool_name)
