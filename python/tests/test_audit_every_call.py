"""N calls of every kind leave exactly N audit rows, through a database restart midway.

The database is a private cluster this test starts (as the `postgres` OS user, on its own port) and restarts; the
shared server is never touched. Calls go through the real HTTP app (guard, authentication, pipeline, audit writer)
and, for a cancellation, through the pipeline in-process; requests refused before identification are counted in
their per-minute rows.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import psycopg
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from atoms_mcp.core.caller import StaticTokenSource
from atoms_mcp.core.pipeline import CallOrigin, CallPipeline
from atoms_mcp.core.registry import TOOLS
from atoms_mcp.database.local_cluster import ensure_local_server, stop_private_cluster
from atoms_mcp.database.migrations import reset_database
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.server.transports import create_http_app
from atoms_mcp.settings import Settings
from conftest import REPO_ROOT
from mcp_support import token_for
from test_server_calls import SLEEP

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

RPM = 12
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_cluster() -> Iterator[tuple[str, Path]]:
    """A migrated, seeded database on a private cluster (URL, cluster state directory); removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="atoms-restart-", dir="/tmp"))
    base.chmod(0o755)
    state = base / "state"
    url = f"postgresql://postgres@127.0.0.1:{_free_port()}/atoms_restart"
    try:
        ensure_local_server(url.replace("/atoms_restart", "/postgres"), state)
        reset_database(url, REPO_ROOT / "supabase", with_seed=True)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "create function public.atoms_test_sleep(seconds integer) returns jsonb language plpgsql volatile"
                " security invoker set search_path = '' as $$ begin perform pg_catalog.pg_sleep(seconds); return"
                " jsonb_build_object('slept', seconds); end $$"
            )
            conn.execute("grant execute on function public.atoms_test_sleep(integer) to authenticated")
        yield url, state
    finally:
        stop_private_cluster(state)
        shutil.rmtree(base, ignore_errors=True)


def restart(url: str, state: Path, *, down: bool) -> None:
    if down:
        stop_private_cluster(state)
    else:
        ensure_local_server(url.replace("/atoms_restart", "/postgres"), state)


def count_rows(url: str) -> tuple[int, int]:
    """(tool-call rows of this test's clients, sum of refused counts)."""
    with psycopg.connect(url) as conn:
        calls = conn.execute(
            "select count(*) from public.mcp_audit_log where client_name in ('restart-http', 'restart-cancel')"
        ).fetchone()
        refused = conn.execute(
            "select coalesce(sum(request_count), 0) from public.mcp_audit_log where status = 'refused'"
        ).fetchone()
    assert calls is not None and refused is not None
    return int(calls[0]), int(refused[0])


async def test_n_calls_of_every_kind_leave_n_audit_rows_through_a_restart(
    private_cluster: tuple[str, Path], tmp_path: Path
) -> None:
    url, state = private_cluster
    settings = Settings(
        dev=True, database_url=url, state_dir=tmp_path, rate_limit_rpm=RPM, pool_min_size=0, pool_max_size=4
    )
    app = create_http_app(settings)  # the real database audit writer
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    endpoint = f"http://127.0.0.1:{sock.getsockname()[1]}/mcp"
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    calls = 0
    codes: list[str | None] = []

    async def session(principal: str, body: list[tuple[str, dict[str, object]]]) -> None:
        nonlocal calls
        headers = {"Authorization": f"Bearer {token_for(principal)}"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=30) as http,
            Client(
                streamable_http_client(endpoint, http_client=http),
                client_info=Implementation(name="restart-http", version="1"),
            ) as client,
        ):
            for name, arguments in body:
                calls += 1
                try:
                    result = await client.call_tool(name, arguments)
                except MCPError:
                    codes.append("-32602")
                    continue
                error = (result.structured_content or {}).get("error")
                codes.append(error["code"] if isinstance(error, dict) else None)

    try:
        while not server.started:
            await asyncio.sleep(0.01)
        # Database up: valid, invalid, unknown tool, status; another user past the rate limit.
        await session(
            "viewer",
            [
                ("atoms_list_projects", {}),
                ("atoms_list_projects", {"limit": 1}),
                ("atoms_list_projects", {"limit": 0}),
                ("atoms_list_items", {"project_id": "urn:uuid:a0000000-0000-4000-8000-000000000101"}),
                ("atoms_no_such_tool", {}),
                ("atoms_status", {}),
            ],
        )
        await session("admin", [("atoms_list_projects", {"limit": 1})] * (RPM + 2))
        assert codes[-2:] == ["RATE_LIMITED", "RATE_LIMITED"]
        # Refused before identification: no token, a bad token, an oversized body.
        async with httpx2.AsyncClient(timeout=30) as http:
            ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            assert (await http.post(endpoint, json=ping, headers=ACCEPT)).status_code == 401
            bad = {**ACCEPT, "Authorization": "Bearer nonsense"}
            assert (await http.post(endpoint, json=ping, headers=bad)).status_code == 401
            huge = b"[" + b"0," * (settings.max_body_bytes // 2) + b"0]"
            assert (await http.post(endpoint, content=huge, headers=ACCEPT)).status_code == 413
        # A cancelled call (in-process, the same database).
        async with CallPipeline(
            settings,
            verifier=JwtVerifier(settings),
            token_source=StaticTokenSource(token_for("editor")),
            tools=(*TOOLS, SLEEP),
        ) as pipeline:
            origin = CallOrigin(actor="mcp_other", client_name="restart-cancel", transport_session="c")
            task = asyncio.ensure_future(pipeline.call(SLEEP, {"seconds": 30}, origin))
            await asyncio.sleep(0.5)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            calls += 1
        # The database goes down midway: calls still come in, and fail.
        restart(url, state, down=True)
        await session("editor", [("atoms_list_projects", {}), ("atoms_list_projects", {"limit": "x"})])
        # It comes back: calls work again, and every record queued meanwhile arrives.
        restart(url, state, down=False)
        await session(
            "editor",
            [("atoms_list_projects", {}), ("atoms_list_projects", {}), ("atoms_status", {}), ("atoms_x", {})],
        )
        with anyio.fail_after(60):
            while count_rows(url)[0] < calls:
                await asyncio.sleep(0.2)
    finally:
        server.should_exit = True
        await anyio.to_thread.run_sync(lambda: thread.join(30))
        sock.close()
    # Shutdown drained the refusal counts; nothing was spilled or set aside.
    assert count_rows(url) == (calls, 3)
    assert not (tmp_path / "audit-spill.jsonl").exists() and not (tmp_path / "audit-rejected.jsonl").exists()
    with psycopg.connect(url) as conn:
        statuses = dict(
            conn.execute(
                "select status::text, count(*) from public.mcp_audit_log"
                " where client_name in ('restart-http', 'restart-cancel') group by 1"
            ).fetchall()
        )
        refused = conn.execute(
            "select error_code, sum(request_count)::integer, host(client_address) from public.mcp_audit_log"
            " where status = 'refused' group by 1, 3 order by 1"
        ).fetchall()
    assert statuses["cancelled"] == 1 and statuses["rate_limited"] == 2
    assert statuses["success"] >= 5 and statuses["error"] >= 6
    assert sum(statuses.values()) == calls == 27
    assert refused == [("PAYLOAD_TOO_LARGE", 1, "127.0.0.1"), ("UNAUTHENTICATED", 2, "127.0.0.1")]
