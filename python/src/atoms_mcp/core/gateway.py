"""The database side of a tool call: a pool of gateway connections, and one transaction as the user per call.

Every call runs on a connection of the login role `atoms_mcp_gateway`, which holds no privilege of its own.
Inside one transaction it takes on `authenticated` with the verified claims, exactly as PostgREST does, tags
the transaction with actor/session/client for the change history, bounds it with a statement timeout, and
calls `public.<rpc>(name => value::type, ...)` with only the arguments the caller gave. If the calling task
is cancelled, the running statement is cancelled on the server (and the connection returns to the pool clean).

A metered call takes its rate-limit slot and runs its RPC in one network round trip (`Metering.PIPELINED`, the
default): two transactions sent in one pipeline, the slot's (`public.atoms_take_rate_limit_slot`, PT429 when
limited) committed before the RPC's starts, so the limiter's per-user row lock is never held while the RPC runs and
a failing RPC keeps its slot; a refused slot aborts the rest of the pipeline, so the RPC never runs.
`Metering.SAVEPOINT` (one transaction: slot, savepoint, RPC) is kept for the benchmark that compares the two: it
holds the row lock until the RPC commits, so one user's concurrent calls queue behind each other.

That clean-up runs inside a shield against the cancellation that can reach it: by default an anyio cancel scope
with `shield=True` (the MCP SDK cancels a request through anyio). A shield stops only anyio's cancellation, never
asyncio's own `Task.cancel()`; a process that never runs anyio (the CLI, on plain asyncio) passes
`contextlib.nullcontext` and does not load anyio's event-loop backend for a shield with nothing to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from enum import Enum
from typing import Any, LiteralString, cast

import anyio
import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool

from atoms_mcp.settings import Settings

__all__ = ["CallContext", "Gateway", "Metering", "RateLimitDecision", "Shield", "anyio_shield", "sql_argument"]

RATE_LIMIT_WINDOW_SECONDS = 60
_SET_CALLER = (
    "select set_config('role', 'authenticated', true),"
    " set_config('request.jwt.claims', %s, true),"
    " set_config('atoms.actor', %s, true),"
    " set_config('atoms.session_id', %s, true),"
    " set_config('atoms.client_name', %s, true),"
    " set_config('statement_timeout', %s, true)"
)
_TAKE_SLOT = sql.SQL(
    'select public.atoms_take_rate_limit_slot("limit" => %s::integer, window_seconds => %s::integer) as remaining'
)


class Metering(Enum):
    """How a metered call takes its rate-limit slot together with its RPC (see the module's docstring)."""

    PIPELINED = "pipelined"
    SAVEPOINT = "savepoint"


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who calls and from where: set as transaction-local settings before the RPC runs."""

    claims: Mapping[str, Any]
    actor: str
    session_id: str
    client_name: str | None


@dataclass(frozen=True, slots=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after_seconds: int


def sql_argument(value: Any) -> tuple[Any, str]:
    """The parameter and its explicit SQL cast for one tool argument (the RPC calling convention)."""
    if isinstance(value, bool):
        return value, "boolean"
    if isinstance(value, int):
        return value, "integer"
    if isinstance(value, str):
        return value, "text"
    if isinstance(value, list):
        items = cast(list[Any], value)
        if all(isinstance(item, str) for item in items):
            return list(items), "text[]"
    # Structured arguments travel as json, not jsonb: json keeps text jsonb cannot hold (an escaped U+0000) verbatim,
    # so the RPC can refuse it item by item (atoms_bulk_import) instead of the whole call failing while it is parsed.
    return Json(value), "json"


Shield = Callable[[], AbstractContextManager[object]]


def anyio_shield() -> AbstractContextManager[object]:
    """A scope no anyio cancellation reaches, so a cancelled request's clean-up still finishes."""
    return anyio.CancelScope(shield=True)


class Gateway:
    """The pool of gateway connections and the two statements a tool call runs.

    ``shield`` makes the scope a call's clean-up runs in (see the module's docstring); ``connections`` fixes the
    pool's size (a process making one call needs one), else it holds ATOMS_POOL_MIN_SIZE to ATOMS_POOL_MAX_SIZE.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        shield: Shield = anyio_shield,
        connections: int | None = None,
        metering: Metering = Metering.PIPELINED,
    ) -> None:
        self._timeout_ms = settings.statement_timeout_ms
        self._shield = shield
        self.metering = metering
        self._pool = AsyncConnectionPool(
            settings.gateway_database_url,
            min_size=settings.pool_min_size if connections is None else connections,
            max_size=settings.pool_max_size if connections is None else connections,
            # No server-side prepared statements: safe behind transaction-mode poolers (Supavisor, PgBouncer).
            kwargs={"autocommit": True, "application_name": "atoms-mcp", "prepare_threshold": None},
            open=False,
            timeout=10.0,
            name="atoms-gateway",
        )

    async def open(self) -> None:
        await self._pool.open(wait=False)

    async def close(self) -> None:
        await self._pool.close()

    def connection(self) -> AbstractAsyncContextManager[psycopg.AsyncConnection[Any]]:
        """A plain gateway connection of the pool (no user's role or claims: those are transaction-local), given
        back when the `async with` block ends."""
        return self._pool.connection()

    async def check_rate_limit(self, call: CallContext, limit: int) -> RateLimitDecision:
        """Count this call against the user's window, in its own transaction (so failing calls count too)."""
        row = await self._as_user(
            call,
            sql.SQL(
                'select * from public.atoms_check_rate_limit("limit" => %s::integer, window_seconds => %s::integer)'
            ),
            (limit, RATE_LIMIT_WINDOW_SECONDS),
        )
        if "allowed" not in row and len(row) == 1:
            row = next(iter(row.values()))  # a jsonb-returning variant
        return RateLimitDecision(
            allowed=bool(row["allowed"]),
            limit=int(row.get("limit", limit)),
            remaining=int(row.get("remaining", 0)),
            retry_after_seconds=int(row.get("retry_after_seconds") or 0),
        )

    async def take_slot(self, call: CallContext, limit: int) -> int:
        """Take one rate-limit slot of the user (a limiter-only round trip); the slots left.

        Raises:
            psycopg.Error: PT429 when the limit is reached (nothing is counted then).
        """
        row = await self._as_user(call, _TAKE_SLOT, (limit, RATE_LIMIT_WINDOW_SECONDS))
        return int(row["remaining"])

    async def call_rpc(
        self, rpc: str, arguments: Mapping[str, Any], call: CallContext, *, rate_limit: int | None = None
    ) -> Any:
        """``public.<rpc>(...)`` as the user; returns its jsonb result as Python objects. With ``rate_limit``, the
        user's slot is taken first in the same round trip (PT429 when limited: the RPC does not run)."""
        params: list[Any] = []
        named: list[sql.Composable] = []
        for name, value in arguments.items():
            param, sql_type = sql_argument(value)
            params.append(param)
            # The cast is one of sql_argument's fixed type names, never caller text.
            named.append(sql.SQL("{} => %s::{}").format(sql.Identifier(name), sql.SQL(cast(LiteralString, sql_type))))
        query = sql.SQL("select {}.{}({}) as result").format(
            sql.Identifier("public"), sql.Identifier(rpc), sql.SQL(", ").join(named)
        )
        slot = (rate_limit, RATE_LIMIT_WINDOW_SECONDS) if rate_limit is not None else None
        row = await self._as_user(call, query, params, slot=slot)
        return row["result"]

    async def fetch_as_user(self, call: CallContext, query: LiteralString, params: Any = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query run as the user (RLS applies), e.g. `atoms whoami`'s memberships."""
        rows: list[dict[str, Any]] = await self._as_user(call, sql.SQL(query), params, all_rows=True)
        return rows

    async def _as_user(
        self,
        call: CallContext,
        query: sql.SQL | sql.Composed,
        params: Any,
        *,
        all_rows: bool = False,
        slot: tuple[int, int] | None = None,
    ) -> Any:
        conn = await self._pool.getconn()
        try:
            # The statement runs in its own task so that a cancellation of the caller cannot interrupt psycopg
            # half-way; instead the caller asks the server to cancel the statement and waits for it to stop.
            if slot is None:
                job = self._transaction(conn, call, query, params, all_rows)
            elif self.metering is Metering.PIPELINED:
                job = self._pipelined(conn, call, query, params, slot)
            else:
                job = self._savepoint(conn, call, query, params, slot)
            work = asyncio.ensure_future(job)
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:
                with self._shield():
                    if not work.done():
                        with contextlib.suppress(psycopg.Error):
                            await conn.cancel_safe(timeout=5.0)
                    with contextlib.suppress(psycopg.Error, asyncio.CancelledError):
                        await work
                raise
        finally:
            with self._shield():
                if conn.pgconn.transaction_status == TransactionStatus.ACTIVE:
                    await conn.close()  # cancel did not land in time: never hand back a busy connection
                elif conn.pgconn.transaction_status in (TransactionStatus.INERROR, TransactionStatus.INTRANS):
                    with contextlib.suppress(psycopg.Error):
                        await conn.execute("rollback")  # a pipeline that failed inside its own begin
                await self._pool.putconn(conn)

    async def _transaction(
        self,
        conn: psycopg.AsyncConnection[Any],
        call: CallContext,
        query: sql.SQL | sql.Composed,
        params: Any,
        all_rows: bool,
    ) -> Any:
        async with conn.transaction():
            await conn.execute(_SET_CALLER, self._caller_settings(call))
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query, params)
            if all_rows:
                return await cur.fetchall()
            return (await cur.fetchone()) or {}

    async def _pipelined(
        self,
        conn: psycopg.AsyncConnection[Any],
        call: CallContext,
        query: sql.SQL | sql.Composed,
        params: Any,
        slot: tuple[int, int],
    ) -> Any:
        """The slot's transaction, then the RPC's, sent in one pipeline with one sync point: an error (PT429 from
        the slot) makes the server skip everything after it, so the RPC never runs without its slot."""
        caller = self._caller_settings(call)
        cur = conn.cursor(row_factory=dict_row)
        async with conn.pipeline():
            await conn.execute("begin")
            await conn.execute(_SET_CALLER, caller)
            await conn.execute(_TAKE_SLOT, slot)
            await conn.execute("commit")
            await conn.execute("begin")
            await conn.execute(_SET_CALLER, caller)
            await cur.execute(query, params)
            await conn.execute("commit")
        return (await cur.fetchone()) or {}

    async def _savepoint(
        self,
        conn: psycopg.AsyncConnection[Any],
        call: CallContext,
        query: sql.SQL | sql.Composed,
        params: Any,
        slot: tuple[int, int],
    ) -> Any:
        """One transaction: the slot, then the RPC under a savepoint (a failing RPC rolls back to it and the slot
        commits). The limiter's row lock is held until the commit, after the RPC."""
        async with conn.transaction():
            await conn.execute(_SET_CALLER, self._caller_settings(call))
            await conn.execute(_TAKE_SLOT, slot)
            rpc_error: psycopg.Error | None = None
            row: Any = {}
            try:
                async with conn.transaction():
                    cur = conn.cursor(row_factory=dict_row)
                    await cur.execute(query, params)
                    row = (await cur.fetchone()) or {}
            except psycopg.Error as error:
                rpc_error = error
        if rpc_error is not None:
            raise rpc_error
        return row

    def _caller_settings(self, call: CallContext) -> tuple[str, str, str, str, str]:
        return (
            json.dumps(dict(call.claims)),
            call.actor,
            call.session_id,
            call.client_name or "",
            str(self._timeout_ms),
        )
