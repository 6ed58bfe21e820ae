"""Per-user rate limit: checked in the database, so every server instance on it shares the count."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from atoms_mcp.core.caller import StaticTokenSource
from atoms_mcp.server.app import create_server
from mcp_support import ListSink, error_code, make_settings, payload, token_for

pytestmark = pytest.mark.anyio


async def test_the_61st_call_in_a_minute_is_refused_with_retry_after(url: str, tmp_path: Path) -> None:
    sink = ListSink()
    settings = make_settings(url, tmp_path, rate_limit_rpm=60)
    server = create_server(settings, token_source=StaticTokenSource(token_for("viewer")), audit_sink=sink)
    async with Client(server) as client:
        for _ in range(60):
            assert error_code(await client.call_tool("atoms_list_projects", {"limit": 1})) is None
        refused = await client.call_tool("atoms_list_projects", {"limit": 1})
    assert error_code(refused) == "RATE_LIMITED"
    error = payload(refused)["error"]
    assert 1 <= error["retryAfterSeconds"] <= 60
    assert "60 calls per minute" in error["message"]
    assert sink.records[-1]["error_code"] == "RATE_LIMITED"  # refused calls are audited too


async def test_two_server_instances_share_the_count(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path, rate_limit_rpm=10)
    token = StaticTokenSource(token_for("editor"))
    first = create_server(settings, token_source=token, audit_sink=ListSink())
    second = create_server(settings, token_source=token, audit_sink=ListSink())
    async with Client(first) as a, Client(second) as b:
        for i in range(10):
            client = a if i % 2 == 0 else b
            assert error_code(await client.call_tool("atoms_list_projects", {"limit": 1})) is None
        assert error_code(await a.call_tool("atoms_list_projects", {"limit": 1})) == "RATE_LIMITED"
        assert error_code(await b.call_tool("atoms_list_projects", {"limit": 1})) == "RATE_LIMITED"
        # Another user has a window of their own.
        other = create_server(settings, token_source=StaticTokenSource(token_for("admin")), audit_sink=ListSink())
        async with Client(other) as c:
            assert error_code(await c.call_tool("atoms_list_projects", {"limit": 1})) is None
