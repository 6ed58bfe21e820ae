"""The MCP server attacked with ordinary user tokens: every call metered and audited, bounded work, no insecure
default, server-owned sessions. One test (or group) per attack; each failed on the pipeline before it was hardened."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psycopg
import pytest
import uvicorn
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client
from psycopg import sql
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from atoms_mcp.cli.app import app as cli_app
from atoms_mcp.core.audit import DatabaseAuditSink
from atoms_mcp.core.caller import StaticTokenSource
from atoms_mcp.core.gateway import CallContext, Gateway, Metering
from atoms_mcp.core.pipeline import CallOrigin, CallPipeline, is_canonical_uuid
from atoms_mcp.core.refusals import RefusalCounter
from atoms_mcp.core.registry import TOOLS, TOOLS_BY_NAME
from atoms_mcp.core.sessions import SessionIds
from atoms_mcp.identity.verifier import JwtVerifier, mint_token
from atoms_mcp.server.app import create_server
from atoms_mcp.server.request_guard import client_address
from atoms_mcp.server.transports import create_http_app
from atoms_mcp.settings import DEV_JWT_SECRET, ConfigurationError, Settings, require_servable
from mcp_support import ACME_PROJECT, GLOBEX_PROJECT, ListSink, error_code, make_settings, token_for
from principals import PRINCIPALS
from test_server_calls import SLEEP, sleep_rpc  # noqa: F401  # pyright: ignore[reportUnusedImport] (a fixture)
from test_server_calls import _sleepers as running_sleeps  # pyright: ignore[reportPrivateUsage]

pytestmark = pytest.mark.anyio

LIST_PROJECTS = TOOLS_BY_NAME["atoms_list_projects"]
VIEWER = str(PRINCIPALS["viewer"].user_id)
GLOBEX_ADMIN = str(PRINCIPALS["other_org_admin"].user_id)
ACCEPT = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


def origin(session: str = "t") -> CallOrigin:
    return CallOrigin(actor="mcp_other", client_name="attack", transport_session=session)


def pipeline_for(settings: Settings, principal: str, **kwargs: Any) -> CallPipeline:
    return CallPipeline(
        settings,
        verifier=JwtVerifier(settings),
        token_source=StaticTokenSource(token_for(principal)),
        **kwargs,
    )


def audit_rows(url: str, client_name: str, columns: str = "status, error_code") -> list[tuple[Any, ...]]:
    query = sql.SQL("select {} from public.mcp_audit_log where client_name = %s order by id").format(
        sql.SQL(columns)  # pyright: ignore[reportArgumentType] (the tests' own column lists)
    )
    with psycopg.connect(url) as conn:
        return conn.execute(query, (client_name,)).fetchall()


# ---- 1. a non-finite number must not stop the audit trail ----


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), json.loads("1e400")])
async def test_a_non_finite_argument_is_refused_and_audited_and_later_calls_are_audited(
    bad: float, url: str, tmp_path: Path
) -> None:
    settings = make_settings(url, tmp_path)
    client = f"nan-{uuid.uuid4().hex[:8]}"
    call_origin = CallOrigin(actor="mcp_other", client_name=client, transport_session="t")
    async with pipeline_for(settings, "viewer") as pipeline:  # the real database writer
        refused = await pipeline.call(LIST_PROJECTS, {"limit": bad}, call_origin)
        assert refused.error is not None and refused.error.code == "VALIDATION_ERROR"
        later = await pipeline.call(LIST_PROJECTS, {"limit": 1}, call_origin)
        assert later.error is None
    assert audit_rows(url, client) == [("error", "VALIDATION_ERROR"), ("success", None)]
    assert not (tmp_path / "audit-spill.jsonl").exists()


# ---- 2. one request must not freeze the server ----


def unknown_keys(n: int) -> dict[str, int]:
    return {f"unknown_argument_{i:05d}": i for i in range(n)}


async def test_validation_errors_are_capped_and_linear() -> None:
    from atoms_mcp.core.errors import ValidationError
    from atoms_mcp.core.validation import MAX_PROBLEMS, validate_arguments

    with pytest.raises(ValidationError) as raised:
        validate_arguments(LIST_PROJECTS.input_model, unknown_keys(20_000))
    details = raised.value.details
    assert len(details) == MAX_PROBLEMS + 1
    assert details[-1]["problem"] == f"{20_000 - MAX_PROBLEMS} more problems not listed"
    assert len(raised.value.message) < 4_000


async def test_a_concurrent_call_completes_before_a_huge_invalid_call(url: str, tmp_path: Path) -> None:
    """With the caps raised so the attack reaches validation, it is validated off the event loop: another call
    finishes first."""
    settings = make_settings(url, tmp_path, max_argument_keys=1_000_000)
    finished: list[str] = []
    async with pipeline_for(settings, "viewer", audit_sink=ListSink()) as pipeline:
        await pipeline.call(LIST_PROJECTS, {"limit": 1}, origin())  # warm: pool open, model built

        async def attack() -> None:
            outcome = await pipeline.call(LIST_PROJECTS, unknown_keys(300_000), origin())
            assert outcome.error is not None and outcome.error.code == "VALIDATION_ERROR"
            finished.append("attack")

        async def ordinary() -> None:
            await asyncio.sleep(0.05)  # the attack is already validating
            outcome = await pipeline.call(LIST_PROJECTS, {"limit": 1}, origin())
            assert outcome.error is None
            finished.append("ordinary")

        await asyncio.gather(attack(), ordinary())
    assert finished == ["ordinary", "attack"]


# ---- HTTP fixture: the real app with its guard, a refusal counter the tests read, the real audit writer ----


@pytest.fixture(scope="module")
def http_refusals() -> RefusalCounter:
    return RefusalCounter(per_minute=1_000_000, server_instance="http-test")


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port, in a thread; yields its /mcp URL."""
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


@pytest.fixture(scope="module")
def http_url(url: str, tmp_path_factory: pytest.TempPathFactory, http_refusals: RefusalCounter) -> Iterator[str]:
    settings = make_settings(url, tmp_path_factory.mktemp("http-state"), max_argument_keys=2_000, rate_limit_rpm=20)
    with serving(create_http_app(settings, audit_sink=ListSink(), refusals=http_refusals)) as endpoint:
        yield endpoint


def counted(refusals: RefusalCounter, reason: str) -> int:
    return sum(r["request_count"] for r in refusals.drain(True) if r["error_code"] == reason)


async def test_http_refuses_20000_unknown_arguments_before_identification(
    http_url: str, http_refusals: RefusalCounter
) -> None:
    http_refusals.drain(True)
    body = {
        "jsonrpc": "2.0",
        "id": 7,
        "method": "tools/call",
        "params": {"name": "atoms_list_projects", "arguments": unknown_keys(20_000)},
    }
    async with httpx2.AsyncClient(timeout=20) as http:  # no token at all: refused before identification
        response = await http.post(http_url, json=body, headers=ACCEPT)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == -32602 and response.json()["id"] == 7
    assert counted(http_refusals, "TOO_MANY_KEYS") == 1


async def test_http_refuses_deep_nesting_and_oversized_bodies(http_url: str, http_refusals: RefusalCounter) -> None:
    http_refusals.drain(True)
    deep: Any = 1
    for _ in range(40):
        deep = [deep]
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x", "arguments": {"a": deep}}}
    async with httpx2.AsyncClient(timeout=20) as http:
        nested = await http.post(http_url, json=body, headers=ACCEPT)
        huge = await http.post(http_url, content=b"[" + b"0," * 3_000_000 + b"0]", headers=ACCEPT)
    assert nested.status_code == 400 and huge.status_code == 413
    records = http_refusals.drain(True)
    assert sorted((r["error_code"], r["request_count"]) for r in records) == [
        ("PAYLOAD_TOO_LARGE", 1),
        ("TOO_DEEP", 1),
    ]


# ---- 3. no insecure default ----


def test_without_a_secret_the_server_refuses_to_start(tmp_path: Path) -> None:
    settings = Settings(dev=False, app_url="https://atoms.example.com", state_dir=tmp_path, session_key="k" * 32)
    with pytest.raises(ConfigurationError, match="ATOMS_JWT_SECRET"):
        create_http_app(settings)
    with pytest.raises(ConfigurationError):
        require_servable(settings, http_host="0.0.0.0")


async def test_the_demo_secret_is_refused_outside_development(tmp_path: Path) -> None:
    settings = Settings(dev=False, jwt_secret=DEV_JWT_SECRET, state_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="demo secret"):
        JwtVerifier(settings)
    forged = mint_token(DEV_JWT_SECRET, user_id=GLOBEX_ADMIN, email=None)
    real = JwtVerifier(Settings(dev=False, jwt_secret="a-real-project-secret-of-32-characters!!", state_dir=tmp_path))
    with pytest.raises(Exception, match="rejected"):
        await real.verify(forged)


def test_development_mode_is_refused_for_a_public_url_and_binds_loopback_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ATOMS_DEV=1 is for local development only"):
        Settings(dev=True, app_url="https://atoms.example.com", state_dir=tmp_path)
    local = Settings(dev=True, state_dir=tmp_path)
    assert local.jwt_secret == DEV_JWT_SECRET
    require_servable(local, http_host="127.0.0.1")
    require_servable(local, http_host=None)  # stdio
    with pytest.raises(ConfigurationError, match="loopback"):
        require_servable(local, http_host="0.0.0.0")


def test_a_public_url_needs_a_session_key(tmp_path: Path) -> None:
    settings = Settings(dev=False, app_url="https://atoms.example.com", jwt_secret="s" * 40, state_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="ATOMS_SESSION_KEY"):
        require_servable(settings, http_host="0.0.0.0")
    require_servable(settings.model_copy(update={"session_key": "k" * 32}), http_host="0.0.0.0")


def test_atoms_serve_refuses_without_a_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ATOMS_DEV")
    monkeypatch.setenv("ATOMS_APP_URL", "https://atoms.example.com")
    monkeypatch.setenv("ATOMS_STATE_DIR", str(tmp_path))
    result = CliRunner().invoke(cli_app, ["serve", "--transport", "http", "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "ATOMS_JWT_SECRET" in result.output


# ---- 4. refused calls are metered; a probe lands in no other tenant's log ----


async def test_invalid_unknown_and_status_calls_consume_slots(url: str, tmp_path: Path) -> None:
    sink = ListSink()
    settings = make_settings(url, tmp_path, rate_limit_rpm=20)
    server = create_server(settings, token_source=StaticTokenSource(token_for("editor")), audit_sink=sink)
    codes: list[str | None] = []
    async with Client(server) as client:
        for _ in range(10):
            codes.append(error_code(await client.call_tool("atoms_list_items", {"project_id": GLOBEX_PROJECT})))
        for _ in range(5):
            codes.append(error_code(await client.call_tool("atoms_list_projects", {"limit": "x"})))
        for _ in range(3):
            codes.append(error_code(await client.call_tool("atoms_status", {})))
        for _ in range(2):
            with pytest.raises(MCPError):
                await client.call_tool("atoms_nope", {})
        for _ in range(6):
            codes.append(error_code(await client.call_tool("atoms_list_projects", {"limit": "x"})))
        with pytest.raises(MCPError, match="Rate limit"):
            await client.call_tool("atoms_nope", {})
    assert codes[:18] == ["NOT_FOUND"] * 10 + ["VALIDATION_ERROR"] * 5 + [None] * 3
    assert codes[18:] == ["RATE_LIMITED"] * 6
    assert len(sink.records) == 27
    assert [r["status"] for r in sink.records[-7:]] == ["rate_limited"] * 7


async def test_calls_naming_another_tenants_project_never_reach_its_log(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path, rate_limit_rpm=20)
    call_origin = CallOrigin(actor="mcp_other", client_name="probe-tenant", transport_session="t")
    spec = TOOLS_BY_NAME["atoms_list_items"]
    async with pipeline_for(settings, "non_member") as pipeline:
        for _ in range(26):
            await pipeline.call(spec, {"project_id": GLOBEX_PROJECT, "limit": 0}, call_origin)
    rows = audit_rows(url, "probe-tenant", "status, project_id::text, org_id")
    assert len(rows) == 26
    assert [r[0] for r in rows] == ["error"] * 20 + ["rate_limited"] * 6
    assert {(r[1], r[2]) for r in rows} == {(GLOBEX_PROJECT, None)}


# ---- 5. calls that left no audit row ----


@pytest.mark.usefixtures("sleep_rpc")
async def test_a_cancelled_call_is_audited_as_cancelled(url: str, tmp_path: Path) -> None:
    sink = ListSink()
    settings = make_settings(url, tmp_path, statement_timeout_ms=120_000)
    async with pipeline_for(settings, "viewer", audit_sink=sink, tools=(*TOOLS, SLEEP)) as pipeline:
        task = asyncio.ensure_future(pipeline.call(SLEEP, {"seconds": 60}, origin()))
        with anyio.fail_after(10):
            while running_sleeps(url) == 0:
                await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert [(r["tool_name"], r["status"]) for r in sink.records] == [("atoms_test_sleep", "cancelled")]


async def test_every_http_401_is_counted_per_address(http_url: str, http_refusals: RefusalCounter) -> None:
    http_refusals.drain(True)
    forged = mint_token("forged-secret-forged-secret-forged-secret", user_id=VIEWER, email=None)
    async with httpx2.AsyncClient(timeout=20) as http:
        for token in (None, forged, "garbage"):
            headers = {**ACCEPT, **({"Authorization": f"Bearer {token}"} if token else {})}
            response = await http.post(http_url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=headers)
            assert response.status_code == 401
    records = http_refusals.drain(True)
    assert [(r["client_address"], r["error_code"], r["request_count"], r["status"]) for r in records] == [
        ("127.0.0.1", "UNAUTHENTICATED", 3, "refused")
    ]


async def test_an_address_over_its_refusals_gets_429_unless_its_token_verifies(url: str, tmp_path: Path) -> None:
    refusals = RefusalCounter(per_minute=2, server_instance="t")
    sink = ListSink()
    with serving(create_http_app(make_settings(url, tmp_path), audit_sink=sink, refusals=refusals)) as endpoint:
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
        async with httpx2.AsyncClient(timeout=20) as http:
            first = [(await http.post(endpoint, json=ping, headers=ACCEPT)).status_code for _ in range(4)]
            bad = {**ACCEPT, "Authorization": "Bearer forged"}
            forged = (await http.post(endpoint, json=ping, headers=bad)).status_code
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {token_for('viewer')}"}, timeout=20) as http,
            Client(streamable_http_client(endpoint, http_client=http)) as client,
        ):
            assert error_code(await client.call_tool("atoms_list_projects", {})) is None
    assert first == [401, 401, 429, 429] and forged == 429
    # The server's shutdown drained the counts into the audit log.
    refused = [r for r in sink.records if r["status"] == "refused"]
    reasons: dict[str, int] = {}
    for record in refused:
        reasons[record["error_code"]] = reasons.get(record["error_code"], 0) + record["request_count"]
    assert reasons == {"UNAUTHENTICATED": 2, "RATE_LIMITED": 3}


def test_an_address_over_its_refusals_is_limited_until_the_minute_ends() -> None:
    now = [600.0]
    counter = RefusalCounter(per_minute=3, server_instance="t", clock=lambda: now[0])
    for _ in range(3):
        counter.count("10.0.0.9", "UNAUTHENTICATED")
    assert counter.is_limited("10.0.0.9") and not counter.is_limited("10.0.0.8")
    assert counter.drain(False) == []  # the minute has not ended
    now[0] += 60
    assert not counter.is_limited("10.0.0.9")
    (row,) = counter.drain(False)
    assert (row["request_count"], row["called_at"]) == (3, "1970-01-01T00:10:00Z")


def test_forwarded_for_is_believed_from_trusted_proxies_only() -> None:
    import ipaddress

    proxies = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_address("203.0.113.5", "1.2.3.4", proxies) == "203.0.113.5"  # not a proxy: header ignored
    assert client_address("10.0.0.2", "1.2.3.4, 10.0.0.7", proxies) == "1.2.3.4"
    assert client_address("10.0.0.2", "6.6.6.6, 1.2.3.4", proxies) == "1.2.3.4"  # a spoofed left entry is ignored
    assert client_address("10.0.0.2", "not-an-ip", proxies) == "10.0.0.2"


@pytest.mark.parametrize(
    "project_id",
    [
        "urn:uuid:a0000000-0000-4000-8000-000000000101",
        "{a0000000-0000-4000-8000-000000000101}",
        "a00000000000400080000000000001010000",
        "a0000000-0000-4000-8000-000000000101\n",
        " a0000000-0000-4000-8000-000000000101",
        "A0000000-0000-4000-8000-000000000101",
        "a0000000-0000-4000-8000-000000000101",
    ],
)
def test_the_project_id_check_is_the_same_in_python_and_sql(db: psycopg.Connection, project_id: str) -> None:
    try:
        db.execute("select private.require_uuid(%s, 'project_id')", (project_id,))
        accepted = True
    except psycopg.errors.InvalidParameterValue:
        accepted = False
    assert is_canonical_uuid(project_id) == accepted


async def test_a_urn_project_id_still_leaves_its_audit_row(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path)
    call_origin = CallOrigin(actor="mcp_other", client_name="urn-probe", transport_session="t")
    async with pipeline_for(settings, "viewer") as pipeline:
        await pipeline.call(TOOLS_BY_NAME["atoms_list_items"], {"project_id": f"urn:uuid:{ACME_PROJECT}"}, call_origin)
        await pipeline.call(LIST_PROJECTS, {}, call_origin)
    assert audit_rows(url, "urn-probe", "status, error_code, project_id") == [
        ("error", "VALIDATION_ERROR", None),
        ("success", None, None),
    ]
    assert not (tmp_path / "audit-rejected.jsonl").exists()


async def test_stdio_spills_records_at_once_when_the_database_is_down(url: str, tmp_path: Path) -> None:
    settings = make_settings(url, tmp_path)
    sink = DatabaseAuditSink("postgresql://atoms_mcp_gateway@127.0.0.1:1/unreachable", connect_timeout=1)
    spill = tmp_path / "audit-spill.jsonl"
    async with pipeline_for(settings, "viewer", audit_sink=sink, spill_at_once=True) as pipeline:
        await pipeline.call(LIST_PROJECTS, {}, origin())
        with anyio.fail_after(5):  # well before shutdown: a client kills the server ~2 s after closing stdin
            while not spill.exists():
                await asyncio.sleep(0.02)
        assert [json.loads(line)["tool_name"] for line in spill.read_text().splitlines()] == ["atoms_list_projects"]


# ---- 6. the client does not choose its session id ----


def test_session_ids_are_derived_by_the_server() -> None:
    one, two = SessionIds(b"k" * 32), SessionIds(b"k" * 32)
    assert one.derive(VIEWER, "http:abc") == two.derive(VIEWER, "http:abc")  # every instance agrees
    assert one.derive(VIEWER, "http:abc") != one.derive(GLOBEX_ADMIN, "http:abc")
    assert one.derive(VIEWER, "http:abc") != SessionIds(b"x" * 32).derive(VIEWER, "http:abc")
    assert one.derive(VIEWER, "http:abc").startswith("s_") and len(one.derive(VIEWER, "x")) == 28


def test_development_session_key_is_kept_in_the_state_directory(tmp_path: Path) -> None:
    settings = Settings(dev=True, state_dir=tmp_path)
    first = SessionIds.from_settings(settings).derive(VIEWER, "t")
    assert SessionIds.from_settings(settings).derive(VIEWER, "t") == first
    assert (tmp_path / "session-key").stat().st_mode & 0o777 == 0o600


async def test_a_client_sent_session_header_is_never_recorded(url: str, tmp_path: Path) -> None:
    sink = ListSink()
    settings = make_settings(url, tmp_path)
    app = create_http_app(settings, audit_sink=sink, refusals=RefusalCounter(per_minute=100, server_instance="t"))
    with serving(app) as endpoint:
        headers = {"Authorization": f"Bearer {token_for('viewer')}", "mcp-session-id": "attacker-chosen-session"}
        async with (
            httpx2.AsyncClient(headers=headers, timeout=20) as http,
            Client(streamable_http_client(endpoint, http_client=http), mode="auto") as client,
        ):
            for _ in range(2):
                assert error_code(await client.call_tool("atoms_list_projects", {})) is None
    sessions = [r["session_id"] for r in sink.records if r["tool_name"] == "atoms_list_projects"]
    assert len(sessions) == 2
    assert all(s.startswith("s_") and "attacker" not in s and "chosen" not in s for s in sessions)
    assert sessions[0] != sessions[1]  # no transport session: a fresh id per request, not one shared id


# ---- metering: one round trip, and the rules it must keep ----


@pytest.mark.parametrize("metering", list(Metering))
async def test_a_refused_slot_runs_no_rpc_and_a_failing_rpc_keeps_its_slot(
    metering: Metering, db: psycopg.Connection, tmp_path: Path
) -> None:
    info = db.info
    url = make_conninfo(host=info.host, port=info.port, user=info.user, dbname=info.dbname, password=info.password)
    gateway = Gateway(make_settings(url, tmp_path), metering=metering, connections=1)
    editor = PRINCIPALS["editor"]
    call = CallContext(claims=editor.claims, actor="mcp_other", session_id="s", client_name="metering")
    create = {"project_id": ACME_PROJECT, "type": "note", "title": f"metered {metering.value}"}
    await gateway.open()
    try:
        with pytest.raises(psycopg.Error) as missing:  # a failing RPC: the project does not exist
            await gateway.call_rpc("atoms_create_item", {**create, "project_id": GLOBEX_PROJECT}, call, rate_limit=2)
        assert missing.value.sqlstate == "PT404"
        await gateway.call_rpc("atoms_create_item", create, call, rate_limit=2)
        with pytest.raises(psycopg.Error) as limited:  # the failing call kept its slot: this third one is refused
            await gateway.call_rpc("atoms_create_item", create, call, rate_limit=2)
        assert limited.value.sqlstate == "PT429"
        assert int(limited.value.diag.message_detail or 0) >= 1
    finally:
        await gateway.close()
    created = db.execute("select count(*) from public.items where title = %s", (create["title"],)).fetchone()
    assert created == (1,)  # the refused call's RPC never ran


async def test_an_escaped_method_name_does_not_slip_past_the_caps(http_url: str, http_refusals: RefusalCounter) -> None:
    http_refusals.drain(True)
    arguments = json.dumps(unknown_keys(5_000))
    body = (
        '{"jsonrpc": "2.0", "id": 3, "method": "tools\\/call", "params": {"name": "x", "arguments": ' + arguments + "}}"
    )
    async with httpx2.AsyncClient(timeout=20) as http:
        response = await http.post(http_url, content=body.encode(), headers=ACCEPT)
    assert response.status_code == 400
    assert counted(http_refusals, "TOO_MANY_KEYS") == 1
