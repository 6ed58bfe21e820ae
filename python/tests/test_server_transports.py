"""The server over its real transports: a stdio subprocess (ClientSession) and streamable HTTP with bearer
tokens (uvicorn on a random local port)."""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import psycopg
import pytest
import uvicorn
from mcp import Client, ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import Implementation

from atoms_mcp.identity.verifier import mint_token
from atoms_mcp.server.transports import create_http_app
from conftest import REPO_ROOT
from mcp_support import ACME_PROJECT, ListSink, error_code, gateway_url, make_settings, payload, token_for

pytestmark = pytest.mark.anyio


def server_env(url: str, state_dir: Path, **extra: str) -> dict[str, str]:
    """The subprocess inherits nothing of ours but what we pass (the SDK passes HOME, PATH, ... only)."""
    return {
        "PYTHONPATH": str(REPO_ROOT / "python" / "src"),
        "ATOMS_DEV": "1",
        "ATOMS_GATEWAY_DATABASE_URL": gateway_url(url),
        "ATOMS_DATABASE_URL": url,
        "ATOMS_STATE_DIR": str(state_dir),
        **extra,
    }


async def test_stdio_subprocess_serves_tools_and_flushes_its_audit_on_exit(url: str, tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "atoms_mcp", "serve", "--transport", "stdio"],
        env=server_env(url, tmp_path, ATOMS_ACCESS_TOKEN=token_for("editor")),
    )
    with anyio.fail_after(30):
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write, client_info=Implementation(name="claude-code", version="2")) as session,
        ):
            await session.initialize()
            tools = await session.list_tools()
            assert len(tools.tools) == 35
            status = payload(await session.call_tool("atoms_status", {}))
            assert (status["status"], status["email"]) == ("authenticated", "editor@acme.test")
            created = await session.call_tool(
                "atoms_create_item", {"project_id": ACME_PROJECT, "type": "note", "title": "over stdio"}
            )
            assert error_code(created) is None
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select tool_name, actor, client_name from public.mcp_audit_log where client_name = 'claude-code'"
            " order by id"
        ).fetchall()
        actor = conn.execute(
            "select h.actor from public.change_history h join public.items i on i.id = h.item_id"
            " where i.title = 'over stdio'"
        ).fetchone()
    assert [r[0] for r in rows] == ["atoms_status", "atoms_create_item"]
    assert actor == ("mcp_claude",)


# ---- streamable HTTP ----


@pytest.fixture(scope="module")
def http_audit() -> ListSink:
    return ListSink()


@pytest.fixture(scope="module")
def http_url(url: str, tmp_path_factory: pytest.TempPathFactory, http_audit: ListSink) -> Iterator[str]:
    settings = make_settings(url, tmp_path_factory.mktemp("http-state"))
    app = create_http_app(settings, audit_sink=http_audit)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def bearer_client(token: str | None) -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(20.0))


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_http_with_a_user_token_runs_tools_as_that_user(mode: str, http_url: str, http_audit: ListSink) -> None:
    async with (
        bearer_client(token_for("viewer")) as http,
        Client(
            streamable_http_client(http_url, http_client=http),
            mode=mode,
            client_info=Implementation(name="windsurf", version="1"),
        ) as client,
    ):
        assert len((await client.list_tools()).tools) == 35
        status = payload(await client.call_tool("atoms_status", {}))
        assert (status["status"], status["email"]) == ("authenticated", "viewer@acme.test")
        projects = payload(await client.call_tool("atoms_list_projects", {}))
        assert [p["id"] for p in projects["data"]] == [ACME_PROJECT]
        refused = await client.call_tool("atoms_delete_item", {"project_id": ACME_PROJECT, "item_id": "REQ-001"})
        assert error_code(refused) == "PERMISSION_DENIED"
    records = [r for r in http_audit.records if r["tool_name"] == "atoms_list_projects"]
    assert records[-1]["user_id"] == "a0000000-0000-4000-8000-0000000000a3"
    assert records[-1]["actor"] == "mcp_windsurf"


async def test_http_sessions_are_told_apart_in_the_audit(http_url: str, http_audit: ListSink) -> None:
    for _ in range(2):
        async with (
            bearer_client(token_for("admin")) as http,
            Client(streamable_http_client(http_url, http_client=http), mode="legacy") as client,
        ):
            await client.call_tool("atoms_list_projects", {"limit": 1})
    admin = "a0000000-0000-4000-8000-0000000000a1"
    sessions = [r["session_id"] for r in http_audit.records if r["user_id"] == admin]
    assert len(sessions) == 2 and sessions[0] != sessions[1]


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "1"}},
}


@pytest.mark.parametrize(
    "token",
    [
        None,
        token_for("editor", ttl_seconds=-600),
        mint_token(
            "forged-secret-forged-secret-forged-secret", user_id="a0000000-0000-4000-8000-0000000000a1", email=None
        ),
        token_for("editor", role="service_role"),
        token_for("editor", audience="another-api"),
    ],
    ids=["missing", "expired", "forged", "service-role", "wrong-audience"],
)
async def test_http_refuses_requests_without_an_acceptable_token(http_url: str, token: str | None) -> None:
    async with bearer_client(token) as http:
        response = await http.post(
            http_url,
            json=INITIALIZE,
            headers={"Accept": "application/json, text/event-stream", "Content-Type": "application/json"},
        )
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer") and "resource_metadata=" in challenge


async def test_http_bulk_items_with_nul_nested_in_the_json_fail_only_their_item(http_url: str) -> None:
    async with (
        bearer_client(token_for("editor")) as http,
        Client(streamable_http_client(http_url, http_client=http)) as client,
    ):
        result = await client.call_tool(
            "atoms_bulk_import",
            {
                "project_id": ACME_PROJECT,
                "items": [
                    {"type": "note", "title": "over HTTP"},
                    {"type": "note", "title": "nested", "summary": "a \x00 in the JSON"},
                ],
            },
        )
        assert error_code(result) is None
        data = payload(result)["data"]
        assert data["created"] == 1
        assert [(e["index"], e["error"].split(" (")[0]) for e in data["errors"]] == [
            (1, "summary must not contain U+0000")
        ]
        title = await client.call_tool(
            "atoms_create_item", {"project_id": ACME_PROJECT, "type": "note", "title": "\x00"}
        )
        assert error_code(title) == "VALIDATION_ERROR"
