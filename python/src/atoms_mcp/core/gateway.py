"""The database side of a tool call: a pool of gateway connections, and one transaction as the user per call.

Every call runs on a connection of the login role `atoms_mcp_gateway`, which holds no privilege of its own.
Inside one transaction it takes on `authenticated` with the verified claims, exactly as PostgREST does, tags
the transaction with actor/session/client for the change history, bounds it with a statement timeout, and
calls `public.<rpc>(name => value::type, ...)` with only the arguments the caller gave. If the calling task
is cancelled, the running statement is cancelled on the server (and the connection returns to the pool clean).

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
from typing import Any, LiteralString, cast

import anyio
import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.json import Json
from psycopg_pool import AsyncConnectionPool

from atoms_mcp.settings import Settings

__all__ = ["CallContext", "Gateway", "RateLimitDecision", "Shield", "anyio_shield", "sql_argument"]

RATE_LIMIT_WINDOW_SECONDS = 60


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

    def __init__(self, settings: Settings, *, shield: Shield = anyio_shield, connections: int | None = None) -> None:
        self._timeout_ms = settings.statement_timeout_ms
        self._shield = shield
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

    async def call_rpc(self, rpc: str, arguments: Mapping[str, Any], call: CallContext) -> Any:
        """``public.<rpc>(...)`` as the user; returns its jsonb result as Python objects."""
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
        row = await self._as_user(call, query, params)
        return row["result"]

    async def fetch_as_user(self, call: CallContext, query: LiteralString, params: Any = ()) -> list[dict[str, Any]]:
        """Rows of a read-only query run as the user (RLS applies), e.g. `atoms whoami`'s memberships."""
        rows: list[dict[str, Any]] = await self._as_user(call, sql.SQL(query), params, all_rows=True)
        return rows

    async def _as_user(
        self, call: CallContext, query: sql.SQL | sql.Composed, params: Any, *, all_rows: bool = False
    ) -> Any:
        conn = await self._pool.getconn()
        try:
            # The statement runs in its own task so that a cancellation of the caller cannot interrupt psycopg
            # half-way; instead the caller asks the server to cancel the statement and waits for it to stop.
            work = asyncio.ensure_future(self._transaction(conn, call, query, params, all_rows))
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
            await conn.execute(
                "select set_config('role', 'authenticated', true),"
                " set_config('request.jwt.claims', %s, true),"
                " set_config('atoms.actor', %s, true),"
                " set_config('atoms.session_id', %s, true),"
                " set_config('atoms.client_name', %s, true),"
                " set_config('statement_timeout', %s, true)",
                (
                    json.dumps(dict(call.claims)),
                    call.actor,
                    call.session_id,
                    call.client_name or "",
                    str(self._timeout_ms),
                ),
            )
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query, params)
            if all_rows:
                return await cur.fetchall()
            return (await cur.fetchone()) or {}
