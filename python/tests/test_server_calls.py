"""What a call leaves in the database and how it ends: the actor in the history, the audit rows, statement
cancellation and timeouts, the database errors' mapping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import psycopg
import pytest
from mcp import Client, MCPError
from mcp.types import Implementation
from pydantic import Field

from atoms_mcp.cli.call import run_call
from atoms_mcp.core.audit import DatabaseAuditSink
from atoms_mcp.core.caller import StaticTokenSource
from atoms_mcp.core.models import ToolInput, ToolOutput
from atoms_mcp.core.registry import TOOLS, ToolSpec
from atoms_mcp.server.app import create_server
from mcp_support import ACME_PROJECT, ListSink, error_code, gateway_url, make_settings, payload, token_for
from principals import PRINCIPALS

pytestmark = pytest.mark.anyio


async def test_a_change_through_the_server_is_attributed_to_the_ai_client(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path)
    server = create_server(settings, token_source=StaticTokenSource(token_for("editor")), audit_sink=ListSink())
    async with Client(server, client_info=Implementation(name="claude-code", version="2.1")) as client:
        created = payload(
            await client.call_tool("atoms_create_item", {"project_id": ACME_PROJECT, "type": "note", "title": "by AI"})
        )
    key = created["data"]["id"]

    # The same kind of change through a PostgREST-style session (the user's own login, not the gateway).
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        conn.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true),"
            " set_config('atoms.actor', 'mcp_claude', true)",  # claimed, but not from the gateway: ignored
            (json.dumps(PRINCIPALS["editor"].claims),),
        )
        conn.execute(
            "select public.atoms_update_item(project_id => %s, item_id => %s, title => 'by hand')", (ACME_PROJECT, key)
        )
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select h.event_type, h.actor, h.session_id from public.change_history h"
            " join public.items i on i.id = h.item_id where i.key = %s and i.project_id = %s order by h.chain_seq",
            (key, ACME_PROJECT),
        ).fetchall()
    assert [(event, actor) for event, actor, _ in rows] == [("created", "mcp_claude"), ("updated", "user")]
    assert rows[0][2] is not None and rows[1][2] is None


async def test_an_mcp_client_calling_itself_the_cli_is_recorded_as_an_mcp_client(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path)
    server = create_server(settings, token_source=StaticTokenSource(token_for("editor")), audit_sink=ListSink())
    async with Client(server, client_info=Implementation(name="atoms-cli", version="1")) as client:
        created = payload(
            await client.call_tool("atoms_create_item", {"project_id": ACME_PROJECT, "type": "note", "title": "cli?"})
        )
        history = payload(
            await client.call_tool("atoms_get_history", {"project_id": ACME_PROJECT, "item_id": created["data"]["id"]})
        )
    assert history["data"][0]["actor"] == "mcp_other"


async def test_actor_can_be_overridden_by_settings(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path, client_name="Build Bot")
    server = create_server(settings, token_source=StaticTokenSource(token_for("admin")), audit_sink=ListSink())
    async with Client(server, client_info=Implementation(name="cursor", version="1")) as client:
        created = payload(
            await client.call_tool("atoms_create_item", {"project_id": ACME_PROJECT, "type": "note", "title": "bot"})
        )
        history = payload(
            await client.call_tool("atoms_get_history", {"project_id": ACME_PROJECT, "item_id": created["data"]["id"]})
        )
    assert history["data"][0]["actor"] == "mcp_build_bot"


async def test_every_call_leaves_exactly_one_audit_row(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path)
    server = create_server(settings, token_source=StaticTokenSource(token_for("viewer")))  # the real database writer
    calls = [
        ("atoms_list_projects", {}),
        ("atoms_get_item", {"project_id": ACME_PROJECT, "item_id": "REQ-001"}),
        ("atoms_get_item", {"project_id": ACME_PROJECT, "item_id": "REQ-999"}),  # NOT_FOUND
        ("atoms_create_item", {"project_id": ACME_PROJECT, "type": "note", "title": "x"}),  # PERMISSION_DENIED
        ("atoms_list_items", {"project_id": ACME_PROJECT, "limit": 0}),  # VALIDATION_ERROR
        ("atoms_search", {"project_id": ACME_PROJECT, "query": "brake", "access_token": "leak?"}),  # refused
        ("atoms_status", {}),
    ]
    async with Client(server, client_info=Implementation(name="cursor-audit", version="0.50")) as client:
        for name, arguments in calls:
            await client.call_tool(name, arguments)
        with pytest.raises(MCPError):
            await client.call_tool("atoms drop; --", {})  # unknown: a protocol error, and audited
    # Leaving the client ends the server's lifespan, which flushes the audit queue.
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select tool_name, status, error_code, user_id::text, project_id::text, org_id::text, client_name,"
            " actor, session_id, params, duration_ms from public.mcp_audit_log"
            " where client_name = 'cursor-audit' order by id"
        ).fetchall()
    viewer = PRINCIPALS["viewer"].user_id
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("atoms_list_projects", "success", None),
        ("atoms_get_item", "success", None),
        ("atoms_get_item", "error", "NOT_FOUND"),
        ("atoms_create_item", "error", "PERMISSION_DENIED"),
        ("atoms_list_items", "error", "VALIDATION_ERROR"),
        ("atoms_search", "error", "VALIDATION_ERROR"),
        ("atoms_status", "success", None),
        ("atoms_drop__--", "error", "VALIDATION_ERROR"),
    ]
    assert {r[3] for r in rows[:6]} == {viewer} and rows[7][3] == viewer
    assert rows[1][4] == ACME_PROJECT and rows[1][5] == "a0000000-0000-4000-8000-000000000001"
    assert {(r[6], r[7]) for r in rows} == {("cursor-audit", "mcp_cursor")}
    # Sessionless requests: each records a fresh server-generated session id, never anything the client sent.
    assert all(r[8].startswith("s_") for r in rows) and len({r[8] for r in rows}) == len(rows)
    assert rows[5][9] == {"project_id": ACME_PROJECT, "query": "brake"}  # the secret-looking key was dropped
    assert all(r[10] >= 0 for r in rows)


async def test_audit_rows_arrive_after_the_database_comes_back(url: str, tmp_path: Path) -> None:
    sink = DatabaseAuditSink("postgresql://atoms_mcp_gateway@127.0.0.1:1/unreachable", connect_timeout=1)
    settings = make_settings(url, tmp_path)
    server = create_server(settings, token_source=StaticTokenSource(token_for("admin")), audit_sink=sink)
    async with Client(server, client_info=Implementation(name="outage-test", version="1")) as client:
        for _ in range(5):
            result = await client.call_tool("atoms_list_projects", {})
            assert not result.is_error  # tool calls do not depend on the audit writer
        sink._url = gateway_url(url)  # the database is reachable again
        with anyio.fail_after(10):
            while True:
                with psycopg.connect(url) as conn:
                    count = conn.execute(
                        "select count(*) from public.mcp_audit_log where client_name = 'outage-test'"
                    ).fetchone()
                if count is not None and count[0] == 5:
                    break
                await anyio.sleep(0.05)


async def test_a_nul_character_in_an_argument_cannot_block_the_audit_queue(url: str, tmp_path: Path) -> None:
    """jsonb refuses \\u0000: the sink replaces NUL so the batch (and every record queued behind it) is written."""
    sink = DatabaseAuditSink(gateway_url(url))
    server = create_server(
        make_settings(url, tmp_path), token_source=StaticTokenSource(token_for("viewer")), audit_sink=sink
    )
    async with Client(server, client_info=Implementation(name="nul-test", version="1")) as client:
        refused = await client.call_tool("atoms_search", {"project_id": ACME_PROJECT, "query": "brake\x00pedal"})
        assert refused.is_error
        assert not (await client.call_tool("atoms_list_projects", {})).is_error
        with anyio.fail_after(10):
            while True:
                with psycopg.connect(url) as conn:
                    rows = conn.execute(
                        "select tool_name, params ->> 'query' from public.mcp_audit_log"
                        " where client_name = 'nul-test' order by id"
                    ).fetchall()
                if len(rows) == 2:
                    break
                await anyio.sleep(0.05)
    assert rows == [("atoms_search", "brake\ufffdpedal"), ("atoms_list_projects", None)]


class SleepInput(ToolInput):
    seconds: int = Field(ge=0, le=60)


class Slept(ToolOutput):
    slept: int


class SleepOutput(ToolOutput):
    data: Slept


SLEEP = ToolSpec(
    name="atoms_test_sleep",
    description="Test only: sleeps in the database.",
    input_model=SleepInput,
    output_model=SleepOutput,
    rpc="atoms_test_sleep",
    read_only=True,
)


@pytest.fixture
def sleep_rpc(module_db: psycopg.Connection) -> object:
    module_db.execute(
        "create function public.atoms_test_sleep(seconds integer) returns jsonb language plpgsql volatile"
        " security invoker set search_path = '' as $$ begin perform pg_catalog.pg_sleep(seconds); return"
        " jsonb_build_object('slept', seconds); end $$"
    )
    module_db.execute("grant execute on function public.atoms_test_sleep(integer) to authenticated")
    yield SLEEP
    module_db.execute("drop function public.atoms_test_sleep(integer)")


def _sleepers(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select count(*) from pg_stat_activity where usename = 'atoms_mcp_gateway' and state = 'active'"
            " and datname = current_database() and query like '%atoms_test_sleep%'"
        ).fetchone()
    return row[0] if row else 0


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_cancelling_a_call_cancels_its_statement(mode: str, url: str, tmp_path: Path, sleep_rpc: object) -> None:
    settings = make_settings(url, tmp_path, statement_timeout_ms=120_000)
    server = create_server(
        settings, token_source=StaticTokenSource(token_for("viewer")), audit_sink=ListSink(), tools=(*TOOLS, SLEEP)
    )
    async with Client(server, mode=mode) as client:
        async with anyio.create_task_group() as tg:

            async def call_and_get_cancelled() -> None:
                with anyio.CancelScope() as scope:
                    cancel_scopes.append(scope)
                    await client.call_tool("atoms_test_sleep", {"seconds": 60})

            cancel_scopes: list[anyio.CancelScope] = []
            tg.start_soon(call_and_get_cancelled)
            with anyio.fail_after(10):
                while _sleepers(url) == 0:  # the statement is running on the server
                    await anyio.sleep(0.02)
            cancel_scopes[0].cancel()  # the client sends notifications/cancelled
        with anyio.fail_after(10):  # well before the 60 s sleep could end by itself
            while _sleepers(url) > 0:
                await anyio.sleep(0.02)
        # The pool still serves calls afterwards.
        after = await client.call_tool("atoms_test_sleep", {"seconds": 0})
        assert payload(after)["data"] == {"slept": 0}


def test_interrupting_a_cli_call_cancels_its_statement(url: str, tmp_path: Path, sleep_rpc: object) -> None:
    """The CLI's gateway (plain asyncio, no anyio shield): Ctrl-C cancels the call's task as `asyncio.run` does,
    the statement is cancelled on the server and the process's pool closes."""
    settings = make_settings(url, tmp_path, statement_timeout_ms=120_000)

    async def interrupted() -> None:
        call = asyncio.ensure_future(run_call(settings, SLEEP, {"seconds": 60}, StaticTokenSource(token_for("viewer"))))
        async with asyncio.timeout(10):
            while _sleepers(url) == 0:
                await asyncio.sleep(0.02)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(call, 10)

    asyncio.run(interrupted())  # the call ends within 10 s, not after the 60 s the statement asked for
    assert _sleepers(url) == 0


async def test_a_statement_over_the_timeout_is_stopped(url: str, tmp_path: Path, sleep_rpc: object) -> None:
    settings = make_settings(url, tmp_path, statement_timeout_ms=200)
    server = create_server(
        settings, token_source=StaticTokenSource(token_for("viewer")), audit_sink=ListSink(), tools=(*TOOLS, SLEEP)
    )
    async with Client(server) as client:
        result = await client.call_tool("atoms_test_sleep", {"seconds": 20})
    assert error_code(result) == "INTERNAL"
    assert "took too long" in payload(result)["error"]["message"]


async def test_database_errors_never_leak_sql(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path)
    server = create_server(settings, token_source=StaticTokenSource(token_for("editor")), audit_sink=ListSink())
    async with Client(server) as client:
        # A cross-project parent is refused by the database, worded by the RPC, not by a constraint name.
        result = await client.call_tool(
            "atoms_create_item",
            {"project_id": ACME_PROJECT, "type": "requirement", "title": "child", "parent_ids": ["REQ-999"]},
        )
    error = payload(result)["error"]
    assert error["code"] in {"VALIDATION_ERROR", "NOT_FOUND"}
    for leak in ("select", "constraint", "violates", "public.", "pkey", "fkey"):
        assert leak not in error["message"].lower()


class BlockedSink(ListSink):
    """An audit database that hangs until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = anyio.Event()

    async def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        await self.release.wait()
        await super().write(records)


async def test_a_hanging_audit_sink_does_not_hold_up_tool_responses(url: str, tmp_path: Path) -> None:
    sink = BlockedSink()
    settings = make_settings(url, tmp_path)
    server = create_server(settings, token_source=StaticTokenSource(token_for("viewer")), audit_sink=sink)
    async with Client(server) as client:
        with anyio.fail_after(5):  # would never finish if a response waited for the audit write
            for _ in range(10):
                assert error_code(await client.call_tool("atoms_list_projects", {"limit": 1})) is None
        assert sink.records == []
        sink.release.set()
    assert len(sink.records) == 10  # flushed on shutdown
