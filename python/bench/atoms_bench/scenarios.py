"""The benchmark scenarios. Each returns Figures (or plain metrics) measured in one run, interleaved.

1 RLS cost · 2 server overhead · 3 write cost · 4 rate limiter (ratelimit's module) · 5 audit on/off ·
6 throughput (HTTP vs direct, 16 clients, 80/20) · 7 scaling (10k/100k/1M items, fixed project size).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Json

from atoms_bench.harness import Figure, Samples, interleave, percentile
from atoms_bench.workload import READ_CALLS, Probe, ReadCall, available, pick_probe, read_statement

__all__ = ["BenchContext", "NORLS_SCHEMA", "gateway_url"]

NORLS_SCHEMA = "atoms_bench_norls"
RLS_GOAL_CALLS = ("list_items", "get_item", "search", "coverage", "trace")


def gateway_url(url: str) -> str:
    """The same database, logged in as the MCP server's role (atoms_mcp_gateway)."""
    info = conninfo_to_dict(url)
    info["user"] = "atoms_mcp_gateway"
    info.pop("password", None)
    return make_conninfo(**info)


@dataclass(slots=True)
class BenchContext:
    """Where and how much to measure."""

    url: str
    smoke: bool
    iterations: int
    state_dir: Path
    probe: Probe
    figures: list[Figure] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def gateway(self) -> str:
        return gateway_url(self.url)


async def _as_user(conn: psycopg.AsyncConnection, user_id: str, statement: sql.Composable, params: Any) -> Any:
    """One transaction as the user, statement by statement as the MCP server's gateway runs it."""
    claims = json.dumps({"sub": user_id, "role": "authenticated", "aud": "authenticated"})
    async with conn.transaction():
        await conn.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true),"
            " set_config('atoms.actor', 'mcp_bench', true), set_config('atoms.client_name', 'bench', true)",
            (claims,),
        )
        cur = await conn.execute(statement, params)
        return await cur.fetchone()


async def _as_owner(conn: psycopg.AsyncConnection, user_id: str, statement: sql.Composable, params: Any) -> Any:
    """One transaction on the superuser connection with the user's claims (auth.uid() works, RLS does not apply)."""
    claims = json.dumps({"sub": user_id, "role": "authenticated", "aud": "authenticated"})
    async with conn.transaction():
        await conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        cur = await conn.execute(statement, params)
        return await cur.fetchone()


# ---- 1. RLS cost ----


def install_norls_copies(conn: psycopg.Connection, functions: Sequence[str]) -> None:
    """Copies of the read RPCs in schema atoms_bench_norls, owned by the superuser: same statements, RLS off.

    A superuser bypasses row level security, so the copies run the very statements of the RPCs (RBAC checks
    included, since auth.uid() still names the user) without any policy applied.
    """
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(NORLS_SCHEMA)))
    conn.execute(sql.SQL("create schema {}").format(sql.Identifier(NORLS_SCHEMA)))
    for name in functions:
        for (definition,) in conn.execute(
            "select pg_get_functiondef(p.oid) from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'public' and p.proname = %s",
            (name,),
        ):
            copy = definition.replace(f"FUNCTION public.{name}(", f"FUNCTION {NORLS_SCHEMA}.{name}(", 1)
            conn.execute(copy)


def drop_norls_copies(conn: psycopg.Connection) -> None:
    conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(NORLS_SCHEMA)))


async def rls_cost(ctx: BenchContext, calls: Sequence[ReadCall]) -> None:
    """Each read RPC as a viewer (RLS on) vs. the same function body run by the owner with RLS off."""
    with psycopg.connect(ctx.url, autocommit=True) as admin:
        install_norls_copies(admin, sorted({c.function for c in calls}))
    try:
        async with (
            await psycopg.AsyncConnection.connect(ctx.gateway, autocommit=True) as viewer,
            await psycopg.AsyncConnection.connect(ctx.url, autocommit=True) as owner,
        ):
            for call in calls:
                on_stmt, params = read_statement(call, ctx.probe)
                off_stmt, _ = read_statement(call, ctx.probe, schema=NORLS_SCHEMA)
                samples = await interleave(
                    {
                        "rls_on": lambda s=on_stmt, p=params: _as_user(viewer, ctx.probe.viewer_id, s, p),
                        "rls_off": lambda s=off_stmt, p=params: _as_owner(owner, ctx.probe.viewer_id, s, p),
                    },
                    iterations=ctx.iterations,
                )
                goal = 1.3 if call.name in RLS_GOAL_CALLS else None
                fig = Figure("rls", call.name, samples, "rls_on", "rls_off", goal, "<= 1.3x" if goal else "")
                if call.name == "list_projects":
                    fig.note = "not comparable: the RPC relies on RLS to pick the caller's projects; RLS off lists all"
                ctx.figures.append(fig)
    finally:
        with psycopg.connect(ctx.url, autocommit=True) as admin:
            drop_norls_copies(admin)


# ---- MCP server helpers ----


class DiscardSink:
    """Audit off: records are accepted and dropped (the queue and the record building still run)."""

    def __init__(self) -> None:
        self.count = 0

    async def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.count += len(records)

    async def close(self) -> None:
        return None


def server_settings(ctx: BenchContext, **overrides: Any) -> Any:
    from atoms_mcp.settings import Settings

    values: dict[str, Any] = {
        "dev": True,
        "database_url": ctx.url,
        "gateway_database_url": ctx.gateway,
        "access_token": None,
        "jwks_url": None,
        "jwt_issuer": None,
        "client_name": None,
        "rate_limit_rpm": 10_000,
        "pool_min_size": 1,
        "pool_max_size": 4,
        "state_dir": ctx.state_dir,
    }
    values.update(overrides)
    return Settings(**values)


def _token(settings: Any, user_id: str) -> str:
    from atoms_mcp.identity.verifier import mint_token
    from atoms_mcp.settings import DEV_JWT_SECRET

    return mint_token(settings.jwt_secret or DEV_JWT_SECRET, user_id=user_id, email=None, ttl_seconds=6 * 3600)


@contextlib.asynccontextmanager
async def in_memory_client(ctx: BenchContext, user_id: str, *, audit_sink: Any = None) -> AsyncIterator[Any]:
    from mcp import Client
    from mcp.types import Implementation

    from atoms_mcp.core.caller import StaticTokenSource
    from atoms_mcp.server.app import create_server

    settings = server_settings(ctx)
    server = create_server(settings, token_source=StaticTokenSource(_token(settings, user_id)), audit_sink=audit_sink)
    async with Client(server, client_info=Implementation(name="bench", version="1")) as client:
        yield client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def http_server(ctx: BenchContext, *, pool_max_size: int = 8) -> Any:
    """The streamable HTTP server in its own process (uvicorn, access log off); yields its /mcp URL."""
    port = _free_port()
    env = {
        **os.environ,
        "ATOMS_DEV": "1",
        "ATOMS_DATABASE_URL": ctx.url,
        "ATOMS_GATEWAY_DATABASE_URL": ctx.gateway,
        "ATOMS_RATE_LIMIT_RPM": "10000",
        "ATOMS_POOL_MAX_SIZE": str(pool_max_size),
        "ATOMS_STATE_DIR": str(ctx.state_dir),
        "ATOMS_APP_URL": f"http://127.0.0.1:{port}",
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
    }
    code = (
        "import uvicorn\n"
        "from atoms_mcp.server.transports import create_http_app\n"
        "from atoms_mcp.settings import Settings\n"
        f"uvicorn.run(create_http_app(Settings()), host='127.0.0.1', port={port}, log_level='warning',"
        " access_log=False)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"HTTP server exited with {proc.returncode}")
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.asynccontextmanager
async def http_client(url: str, token: str) -> AsyncIterator[Any]:
    import httpx2
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from mcp.types import Implementation

    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write, client_info=Implementation(name="bench", version="1")) as session,
    ):
        await session.initialize()
        yield session


def _check(result: Any) -> Any:
    if getattr(result, "is_error", False):
        raise RuntimeError(f"tool call failed: {result.content[0].text if result.content else result}")
    return result


# ---- 2. server overhead ----


async def server_overhead(ctx: BenchContext) -> None:
    """atoms_get_item through the MCP server (in-memory and streamable HTTP) vs. the direct RPC vs. select 1."""
    p = ctx.probe
    args = {"project_id": p.project_id, "item_id": p.requirement_key}
    get_item = next(c for c in READ_CALLS if c.name == "get_item")
    stmt, params = read_statement(get_item, p)
    settings = server_settings(ctx)
    rate_check = sql.SQL(
        'select * from public.atoms_check_rate_limit("limit" => %s::integer, window_seconds => %s::integer)'
    )
    with http_server(ctx) as url:
        async with (
            in_memory_client(ctx, p.viewer_id) as mem,
            http_client(url, _token(settings, p.viewer_id)) as http,
            await psycopg.AsyncConnection.connect(ctx.gateway, autocommit=True) as direct,
        ):

            async def floor() -> None:
                await (await direct.execute("select 1")).fetchone()

            async def direct_with_rate_limit() -> None:
                # What the server runs for one call: the rate-limit transaction, then the RPC's transaction.
                await _as_user(direct, p.viewer_id, rate_check, (10_000, 60))
                await _as_user(direct, p.viewer_id, stmt, params)

            samples = await interleave(
                {
                    "in_memory": lambda: _check_async(mem.call_tool("atoms_get_item", args)),
                    "http": lambda: _check_async(http.call_tool("atoms_get_item", args)),
                    "direct_rpc": lambda: _as_user(direct, p.viewer_id, stmt, params),
                    "direct_rpc_and_rate_limit": direct_with_rate_limit,
                    "select_1": floor,
                },
                iterations=ctx.iterations,
            )
    ctx.figures.append(
        Figure("server", "in-memory vs direct (get_item)", samples, "in_memory", "direct_rpc", 1.5, "<= 1.5x at p50")
    )
    ctx.figures.append(
        Figure(
            "server", "in-memory vs direct RPC + rate-limit check", samples, "in_memory", "direct_rpc_and_rate_limit"
        )
    )
    ctx.figures.append(
        Figure(
            "server", "direct RPC + rate-limit check vs direct RPC", samples, "direct_rpc_and_rate_limit", "direct_rpc"
        )
    )
    ctx.figures.append(Figure("server", "HTTP vs direct (get_item)", samples, "http", "direct_rpc"))
    ctx.figures.append(Figure("server", "direct vs select 1 (round-trip floor)", samples, "direct_rpc", "select_1"))


async def _check_async(awaitable: Awaitable[Any]) -> Any:
    return _check(await awaitable)


# ---- 3. write cost ----


async def write_cost(ctx: BenchContext) -> None:
    """atoms_create_item vs. a plain INSERT of the same row; atoms_bulk_import(100) vs. COPY of 100 rows."""
    p = ctx.probe
    with psycopg.connect(ctx.url, autocommit=True) as admin:
        # Write into another project of the probe's organisation, so the read figures keep their project size.
        project_id = str(
            admin.execute(
                "select id from public.projects where org_id = %s and id <> %s order by id limit 1",
                (p.org_id, p.project_id),
            ).fetchone()[0]
        )
    counter = iter(range(1, 10_000_000))
    # Keys unique across runs on the same database (^[A-Z]+-[0-9]{3,}$).
    run_tag = "".join(chr(ord("A") + b % 26) for b in uuid.uuid4().bytes[:5])

    create = sql.SQL(
        "select public.atoms_create_item(project_id => %s, type => 'note', title => %s, summary => %s,"
        " body => %s, domains => %s)"
    )
    body = "Bench note: the pressure sensor shall report faults within 50 ms. " * 3
    insert = sql.SQL(
        "insert into public.items (org_id, project_id, key, item_type, title, summary, body, domains, created_by,"
        " updated_by) values (%s, %s, %s, 'note', %s, %s, %s, %s, %s, %s)"
    )

    def bulk_items() -> list[dict[str, Any]]:
        return [
            {"type": "requirement", "title": f"Bulk requirement {next(counter)}", "summary": "bulk", "body": body,
             "domains": ["safety"], "level": "Component"}
            for _ in range(100)
        ]  # fmt: skip

    async with (
        await psycopg.AsyncConnection.connect(ctx.gateway, autocommit=True) as editor,
        await psycopg.AsyncConnection.connect(ctx.url, autocommit=True) as plain,
        await psycopg.AsyncConnection.connect(ctx.url, autocommit=True) as hist,
    ):
        # The plain variants: superuser, triggers off (replica): the row and its indexes, nothing else.
        await plain.execute("set session_replication_role = replica")

        async def rpc_create() -> None:
            n = next(counter)
            await _as_user(editor, p.editor_id, create, (project_id, f"Bench note {n}", "s", body, ["safety"]))

        async def plain_insert() -> None:
            n = next(counter)
            async with plain.transaction():
                await plain.execute(
                    insert,
                    (p.org_id, project_id, f"P{run_tag}-{n:07d}", f"Bench note {n}", "s", body,
                     ["safety"], p.editor_id, p.editor_id),
                )  # fmt: skip

        bulk_stmt = sql.SQL("select public.atoms_bulk_import(project_id => %s, items => %s)")

        async def rpc_bulk() -> None:
            result = await _as_user(editor, p.editor_id, bulk_stmt, (project_id, Json(bulk_items())))
            if result[0].get("created") != 100:
                raise RuntimeError(f"bulk import created {result[0].get('created')}: {result[0].get('errors')}")

        async def plain_copy() -> None:
            async with plain.transaction():
                cur = plain.cursor()
                async with cur.copy(
                    "copy public.items (org_id, project_id, key, item_type, title, summary, body, domains, level,"
                    " created_by, updated_by) from stdin"
                ) as cp:
                    for item in bulk_items():
                        n = next(counter)
                        await cp.write_row(
                            (p.org_id, project_id, f"C{run_tag}-{n:07d}", "requirement", item["title"], "bulk", body,
                             ["safety"], "Component", p.editor_id, p.editor_id)
                        )  # fmt: skip

        async def insert_with_history() -> None:
            # The same plain INSERT with the table's triggers on (history row, hash chain) as the editor.
            n = next(counter)
            async with hist.transaction():
                await hist.execute(
                    "select set_config('request.jwt.claims', %s, true)",
                    (json.dumps({"sub": p.editor_id, "role": "authenticated"}),),
                )
                await hist.execute(
                    insert,
                    (p.org_id, project_id, f"H{run_tag}-{n:07d}", f"Bench note {n}", "s", body,
                     ["safety"], p.editor_id, p.editor_id),
                )  # fmt: skip

        single = await interleave(
            {"create_item": rpc_create, "plain_insert": plain_insert, "insert_with_history": insert_with_history},
            iterations=ctx.iterations,
        )
        bulk = await interleave(
            {"bulk_import_100": rpc_bulk, "copy_100": plain_copy}, iterations=max(5, ctx.iterations // 4)
        )
    ctx.figures.append(
        Figure("write", "create_item vs plain INSERT", single, "create_item", "plain_insert", 2.5, "<= 2.5x")
    )
    ctx.figures.append(
        Figure("write", "INSERT with history vs plain INSERT", single, "insert_with_history", "plain_insert")
    )
    ctx.figures.append(
        Figure("write", "create_item vs INSERT with history", single, "create_item", "insert_with_history")
    )
    fig = Figure("write", "bulk_import(100) vs COPY(100)", bulk, "bulk_import_100", "copy_100")
    rate = 100 / (bulk["bulk_import_100"].p50_ms / 1000)
    fig.note = f"bulk_import: {rate:,.0f} items/s at p50 (goal >= 2,000 items/s: {'met' if rate >= 2000 else 'missed'})"
    ctx.metrics["bulk_items_per_s"] = rate
    ctx.figures.append(fig)


# ---- rate limiter (atoms_bench.rate_limit_audit) ----


def rate_limiter(ctx: BenchContext) -> None:
    from atoms_bench import rate_limit_audit

    ctx.metrics["rate_limit"] = rate_limit_audit.run(ctx.url, smoke=ctx.smoke)


# ---- 5. audit on / off ----


async def audit_cost(ctx: BenchContext) -> None:
    """Tool latency with the database audit writer vs. a discarding sink; then count the records written."""
    p = ctx.probe
    with psycopg.connect(ctx.url, autocommit=True) as admin:
        # Another viewer of the probe's organisation, so the count below sees only this scenario's calls.
        user = str(
            admin.execute(
                "select user_id from public.organization_members where org_id = %s and role = 'viewer'"
                " and user_id <> %s order by user_id limit 1",
                (p.org_id, p.viewer_id),
            ).fetchone()[0]
        )
        started = admin.execute("select now()").fetchone()[0]
        has_audit = available(admin, "atoms_get_audit_log")
    args = {"project_id": p.project_id, "item_id": p.requirement_key}
    discard = DiscardSink()
    warmup = 3
    async with (
        in_memory_client(ctx, user) as on,
        in_memory_client(ctx, user, audit_sink=discard) as off,
    ):
        samples = await interleave(
            {
                "audit_on": lambda: _check_async(on.call_tool("atoms_get_item", args)),
                "audit_off": lambda: _check_async(off.call_tool("atoms_get_item", args)),
            },
            iterations=ctx.iterations,
            warmup=warmup,
        )
    # Leaving the clients closed the servers, whose shutdown flushes the audit queue.
    expected = warmup + ctx.iterations
    written = None
    if has_audit:
        with psycopg.connect(ctx.url, autocommit=True) as admin:
            written = admin.execute(
                "select count(*) from public.mcp_audit_log where user_id = %s and called_at >= %s"
                " and tool_name = 'atoms_get_item'",
                (user, started),
            ).fetchone()[0]
    fig = Figure("audit", "audit on vs off (get_item)", samples, "audit_on", "audit_off", 1.05, "<= 1.05x")
    fig.note = f"records: {expected} calls, {written} rows written" + (
        " (none lost)" if written == expected else " (MISMATCH)"
    )
    ctx.metrics["audit_records"] = {"calls": expected, "written": written, "discarded_sink": discard.count}
    ctx.figures.append(fig)


# ---- 6. throughput ----


@dataclass(frozen=True, slots=True)
class _Worker:
    user_id: str
    project_id: str
    req_key: str
    tc_key: str


def _workers(url: str, n: int) -> list[_Worker]:
    """n editors of n different generated organisations, each with a project and live items to use."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            """
            select distinct on (o.name) m.user_id, pr.id,
              (select i.key from public.items i where i.project_id = pr.id and i.item_type = 'requirement'
                 and i.deleted_at is null order by i.key limit 1),
              (select i.key from public.items i where i.project_id = pr.id and i.item_type = 'test-case'
                 and i.deleted_at is null order by i.key limit 1)
            from public.organizations o
            join public.organization_members m on m.org_id = o.id and m.role = 'editor'
            join public.projects pr on pr.org_id = o.id
            where o.name like 'Bench org %%'
            order by o.name, m.user_id, pr.id
            limit %s
            """,
            (n,),
        ).fetchall()
    return [_Worker(str(u), str(pid), r, t) for u, pid, r, t in rows if r and t]


def _mix(rng: random.Random, w: _Worker, n: int) -> tuple[str, dict[str, Any]]:
    """80 % reads (get_item, list_items, search), 20 % writes (create_item, record_test_result)."""
    x = rng.random()
    if x < 0.35:
        return "atoms_get_item", {"project_id": w.project_id, "item_id": w.req_key}
    if x < 0.60:
        return "atoms_list_items", {"project_id": w.project_id, "limit": 20}
    if x < 0.80:
        return "atoms_search", {"project_id": w.project_id, "query": "sensor faults"}
    if x < 0.90:
        return "atoms_create_item", {"project_id": w.project_id, "type": "note", "title": f"Throughput note {n}"}
    return "atoms_record_test_result", {"project_id": w.project_id, "item_id": w.tc_key, "result": "passed"}


_RPC_STATEMENTS = {
    "atoms_get_item": "select public.atoms_get_item(project_id => %(project_id)s, item_id => %(item_id)s)",
    "atoms_list_items": 'select public.atoms_list_items(project_id => %(project_id)s, "limit" => %(limit)s)',
    "atoms_search": "select public.atoms_search(project_id => %(project_id)s, query => %(query)s)",
    "atoms_create_item": (
        "select public.atoms_create_item(project_id => %(project_id)s, type => %(type)s, title => %(title)s)"
    ),
    "atoms_record_test_result": (
        "select public.atoms_record_test_result(project_id => %(project_id)s, item_id => %(item_id)s,"
        " result => %(result)s)"
    ),
}


async def throughput(ctx: BenchContext, *, clients: int = 16, round_seconds: float = 10, rounds: int = 2) -> None:
    """16 concurrent clients, 80 % reads / 20 % writes, one user each: MCP over HTTP vs. the same mix as direct RPCs.

    The two variants alternate in rounds of ``round_seconds`` (HTTP, direct, HTTP, direct, ...).
    """
    workers = _workers(ctx.url, clients)
    settings = server_settings(ctx)
    latencies: dict[str, list[float]] = {"http": [], "direct": []}
    elapsed: dict[str, float] = {"http": 0.0, "direct": 0.0}
    errors: dict[str, int] = {"http": 0, "direct": 0}
    serial = iter(range(1, 10**9))

    async def run_round(kind: str, sessions: list[Any]) -> None:
        deadline = time.perf_counter() + round_seconds

        async def loop(i: int, w: _Worker) -> None:
            rng = random.Random(hash((kind, i, len(latencies[kind]))))
            while time.perf_counter() < deadline:
                tool, args = _mix(rng, w, next(serial))
                t0 = time.perf_counter()
                try:
                    if kind == "http":
                        _check(await sessions[i].call_tool(tool, args))
                    else:
                        await _as_user(sessions[i], w.user_id, sql.SQL(_RPC_STATEMENTS[tool]), args)  # type: ignore[arg-type]
                except (RuntimeError, psycopg.Error):
                    errors[kind] += 1
                latencies[kind].append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for i, w in enumerate(workers):
                tg.start_soon(loop, i, w)
        elapsed[kind] += time.perf_counter() - t0

    with http_server(ctx, pool_max_size=clients) as url:
        async with contextlib.AsyncExitStack() as stack:
            http_sessions = [
                await stack.enter_async_context(http_client(url, _token(settings, w.user_id))) for w in workers
            ]
            direct_conns = [
                await stack.enter_async_context(await psycopg.AsyncConnection.connect(ctx.gateway, autocommit=True))
                for _ in workers
            ]
            for _ in range(rounds):
                await run_round("http", http_sessions)
                await run_round("direct", direct_conns)
    out = {}
    for kind in ("http", "direct"):
        values = latencies[kind]
        out[kind] = {
            "calls": len(values),
            "calls_per_s": len(values) / elapsed[kind] if elapsed[kind] else 0.0,
            "p50_ms": percentile(values, 50) * 1000,
            "p95_ms": percentile(values, 95) * 1000,
            "errors": errors[kind],
        }
    out["clients"] = len(workers)
    out["seconds_per_variant"] = round_seconds * rounds
    ctx.metrics["throughput"] = out
    ctx.figures.append(
        Figure(
            "throughput",
            f"{len(workers)} clients, 80/20 mix: HTTP vs direct",
            {k: Samples(k, latencies[k]) for k in ("http", "direct")},
            "http",
            "direct",
        )
    )


# ---- 7. scaling ----


async def scaling(urls: Mapping[int, str], iterations: int) -> dict[str, dict[int, float]]:
    """list/search/trace p50 on datasets of different sizes (same mean project size), interleaved across them.

    list_projects is included although its result grows with the caller's memberships only: it shows whether the
    cost follows the caller's projects or every project of every tenant.
    """
    names = ("list_items", "search", "trace", "list_projects")
    calls = {c.name: c for c in READ_CALLS if c.name in names}
    variants: dict[str, Callable[[], Awaitable[Any]]] = {}
    async with contextlib.AsyncExitStack() as stack:
        for size, url in urls.items():
            with psycopg.connect(url, autocommit=True) as admin:
                probe = pick_probe(admin)
            conn = await stack.enter_async_context(
                await psycopg.AsyncConnection.connect(gateway_url(url), autocommit=True)
            )
            for name, call in calls.items():
                stmt, params = read_statement(call, probe)
                variants[f"{name}@{size}"] = lambda c=conn, s=stmt, p=params, u=probe.viewer_id: _as_user(c, u, s, p)
        samples = await interleave(variants, iterations=iterations)
    out: dict[str, dict[int, float]] = {name: {} for name in names}
    for key, s in samples.items():
        name, size = key.split("@")
        out[name][int(size)] = s.p50_ms
    out["_p95"] = {}  # type: ignore[assignment]
    for key, s in samples.items():
        out["_p95"][key] = s.p95_ms  # type: ignore[index]
    return out


def read_calls_available(url: str) -> list[ReadCall]:
    with psycopg.connect(url, autocommit=True) as conn:
        return [c for c in READ_CALLS if available(conn, c.function)]


# ---- profiles of the RPCs behind the missed goals ----


def profiles(ctx: BenchContext) -> dict[str, tuple[float, list[Any]]]:
    """Per-function self time of a read (get_item, trace) and of the writes (create_item, bulk_import of 100)."""
    from atoms_bench.profile import profile_statement

    p = ctx.probe
    out: dict[str, tuple[float, list[Any]]] = {}
    with psycopg.connect(ctx.url, autocommit=True) as conn:
        project_id = str(
            conn.execute(
                "select id from public.projects where org_id = %s and id <> %s order by id limit 1",
                (p.org_id, p.project_id),
            ).fetchone()[0]
        )
    jobs: list[tuple[str, str, sql.Composable, object, int]] = []
    for name in ("get_item", "trace"):
        call = next(c for c in READ_CALLS if c.name == name)
        stmt, params = read_statement(call, p)
        jobs.append((f"{name} (viewer)", p.viewer_id, stmt, params, 20))
    create = sql.SQL("select public.atoms_create_item(project_id => %s, type => 'note', title => %s)")
    jobs.append(("create_item (editor)", p.editor_id, create, (project_id, "Profiled note"), 20))
    items = [{"type": "requirement", "title": f"Profiled {i}", "body": "b" * 200} for i in range(100)]
    bulk = sql.SQL("select public.atoms_bulk_import(project_id => %s, items => %s)")
    jobs.append(("bulk_import of 100 (editor)", p.editor_id, bulk, (project_id, Json(items)), 3))
    for label, user, stmt, params, repeat in jobs:
        # A fresh session each: pending function statistics of earlier transactions must not leak in.
        with psycopg.connect(ctx.url, autocommit=True) as conn:
            out[label] = profile_statement(conn, user, stmt, params, repeat=repeat)
    return out


# ---- 4b. rate limiter under a C client (pgbench) ----

_PGBENCH_SCRIPTS = {
    # One round trip per check, claims set in the same simple-protocol message (the module's shape).
    "distinct_users_1_round_trip": (
        "\\set u random(1, 10000)\n"
        "select set_config('request.jwt.claims', '{{\"sub\":\"{prefix}' || lpad(:u::text, 12, '0') || "
        '\'","role":"authenticated"}}\', false) \\; '
        'select * from public.atoms_check_rate_limit("limit" => 10000, window_seconds => 60);\n'
    ),
    "hot_user_1_round_trip": (
        'select set_config(\'request.jwt.claims\', \'{{"sub":"{prefix}000000000001","role":"authenticated"}}\','
        " false) \\; "
        'select * from public.atoms_check_rate_limit("limit" => 60, window_seconds => 3600);\n'
    ),
    # The MCP server's shape today: BEGIN, set_config, check, COMMIT, four round trips.
    "distinct_users_server_transaction": (
        "\\set u random(1, 10000)\n"
        "begin;\n"
        "select set_config('request.jwt.claims', '{{\"sub\":\"{prefix}' || lpad(:u::text, 12, '0') || "
        '\'","role":"authenticated"}}\', true);\n'
        'select * from public.atoms_check_rate_limit("limit" => 10000, window_seconds => 60);\n'
        "commit;\n"
    ),
}


def rate_limiter_pgbench(ctx: BenchContext, *, seconds: int) -> None:
    """Checks/s with pgbench (8 clients, 2 threads) as `authenticated`: the limiter's capacity without Python."""
    import shutil

    binary = shutil.which("pgbench")
    if binary is None:
        ctx.metrics["rate_limit_pgbench"] = {"pending": "pgbench not installed"}
        return
    info = conninfo_to_dict(ctx.url)
    prefix = str(uuid.uuid4())[:24]  # fresh users every run: "xxxxxxxx-xxxx-xxxx-xxxx-" + 12 digits
    out: dict[str, Any] = {"clients": 8, "seconds": seconds}
    for name, template in _PGBENCH_SCRIPTS.items():
        script = ctx.state_dir / f"{name}.pgb"
        script.write_text(template.format(prefix=prefix), encoding="utf-8")
        cmd = [binary, "-n", "-c", "8", "-j", "2", "-T", str(seconds), "-f", str(script)]
        for flag, key in (("-h", "host"), ("-p", "port"), ("-U", "user")):
            if info.get(key):
                cmd += [flag, str(info[key])]
        cmd.append(str(info["dbname"]))
        env = {**os.environ, "PGOPTIONS": "-c role=authenticated"}
        if info.get("password"):
            env["PGPASSWORD"] = str(info["password"])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        tps = next((line for line in proc.stdout.splitlines() if line.startswith("tps = ")), None)
        failed = next((line for line in proc.stdout.splitlines() if line.startswith("number of failed")), "")
        out[name] = (
            {"checks_per_s": round(float(tps.split()[2]), 1), "failed": failed.split(":")[-1].strip()}
            if tps
            else {"error": (proc.stderr or proc.stdout)[-300:]}
        )
    ctx.metrics["rate_limit_pgbench"] = out
