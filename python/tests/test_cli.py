"""The `atoms` command line as a person or a script uses it: dev tokens, `atoms tools`, `atoms call` (exit codes,
output formats, one-line usage errors, the CLI's actor and audit records), `atoms whoami` (typer's CliRunner)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jwt
import psycopg
import pytest
from typer.testing import CliRunner

from atoms_mcp.cli.app import app
from atoms_mcp.core.gateway import CallContext, Gateway
from atoms_mcp.core.registry import TOOLS
from atoms_mcp.settings import DEV_JWT_SECRET
from mcp_support import ACME_PROJECT, gateway_url, token_for

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> None:
    """The CLI sees the module's test database and a private state directory."""
    monkeypatch.setenv("ATOMS_DATABASE_URL", url)
    monkeypatch.setenv("ATOMS_GATEWAY_DATABASE_URL", gateway_url(url))
    monkeypatch.setenv("ATOMS_STATE_DIR", str(tmp_path / "state"))


def _call(*args: str) -> Any:
    return runner.invoke(app, ["call", *args])


def test_dev_token_is_a_jwt_of_the_seed_user() -> None:
    result = runner.invoke(app, ["dev", "token", "--user", "Editor@Acme.test"])
    assert result.exit_code == 0, result.output
    claims = jwt.decode(result.output.strip(), DEV_JWT_SECRET, audience="authenticated", algorithms=["HS256"])
    assert (claims["sub"], claims["email"], claims["role"]) == (
        "a0000000-0000-4000-8000-0000000000a2",
        "editor@acme.test",
        "authenticated",
    )


def test_dev_token_for_an_unknown_user_fails_clearly() -> None:
    result = runner.invoke(app, ["dev", "token", "--user", "nobody@acme.test"])
    assert result.exit_code == 1
    assert "no user 'nobody@acme.test'" in result.output


def test_tools_lists_every_tool_on_one_line_each() -> None:
    result = runner.invoke(app, ["tools"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == len(TOOLS) + 1  # a header, then one line per tool
    for spec in TOOLS:
        (line,) = [line for line in lines if line.split()[0] == spec.name]
        assert spec.summary[:40] in line


def test_tools_as_json_names_each_tool_with_its_summary() -> None:
    result = runner.invoke(app, ["tools", "--output", "json"])
    assert result.exit_code == 0, result.output
    assert [t["name"] for t in json.loads(result.output)] == [spec.name for spec in TOOLS]


def test_call_runs_a_tool_as_a_seed_user() -> None:
    result = _call(
        "atoms_get_item", json.dumps({"project_id": ACME_PROJECT, "item_id": "REQ-001"}), "--as", "viewer@acme.test"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["status"] == "success" and body["data"]["id"] == "REQ-001"


def test_call_prints_a_table_on_request() -> None:
    arguments = json.dumps({"project_id": ACME_PROJECT, "type": "requirement", "limit": 3})
    result = _call("atoms_list_items", arguments, "--as", "viewer@acme.test", "--output", "table")
    assert result.exit_code == 0, result.output
    header, *rows, meta = result.output.splitlines()
    assert header.split()[0] == "ID" and {"TYPE", "TITLE", "DOMAINS"} <= set(header.split())
    assert [row.split()[0] for row in rows] == ["REQ-001", "REQ-002", "REQ-003"]
    assert "has_more: true" in meta


def test_call_exits_1_on_a_refused_call_and_prints_the_error() -> None:
    arguments = json.dumps({"project_id": ACME_PROJECT, "type": "note", "title": "from the CLI"})
    result = _call("atoms_create_item", arguments, "--as", "viewer@acme.test")
    assert result.exit_code == 1
    assert json.loads(result.output)["error"]["code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(
    ("items", "exit_code"),
    [
        ([{"type": "note", "title": "fine"}, {"type": "note", "title": "also fine"}], 0),
        ([{"type": "note", "title": "fine"}, {"type": "bogus", "title": "bad type"}], 3),
        ([{"type": "bogus", "title": "bad"}, {"type": "note", "title": ""}], 1),
    ],
)
def test_a_bulk_call_exits_0_when_all_3_when_some_and_1_when_no_item_was_created(
    items: list[dict[str, str]], exit_code: int
) -> None:
    result = _call(
        "atoms_bulk_import", json.dumps({"project_id": ACME_PROJECT, "items": items}), "--as", "editor@acme.test"
    )
    assert result.exit_code == exit_code, result.output
    data = json.loads(result.output)["data"]
    assert data["created"] + len(data["errors"]) == len(items)


def test_an_unknown_tool_is_one_line_exit_2_and_still_audited(url: str) -> None:
    result = _call("atoms_nope", "{}", "--as", "viewer@acme.test")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "Usage error: unknown tool 'atoms_nope'; `atoms tools` lists the tools."
    ]
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select status::text, error_code, client_name, actor, user_id::text from public.mcp_audit_log"
            " where tool_name = 'atoms_nope'"
        ).fetchone()
    assert row == ("error", "VALIDATION_ERROR", "atoms-cli", "cli", "a0000000-0000-4000-8000-0000000000a3")


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", '"text"', ""])
def test_arguments_that_are_not_a_json_object_are_one_line_exit_2(arguments: str) -> None:
    result = _call("atoms_status", arguments)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Usage error: arguments must be a JSON object")
    assert "Traceback" not in result.output


def test_a_cli_call_runs_as_the_cli_actor(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[CallContext] = []
    original = Gateway.call_rpc

    async def recording(self: Gateway, rpc: str, arguments: Any, call: CallContext, **kwargs: Any) -> Any:
        seen.append(call)
        return await original(self, rpc, arguments, call, **kwargs)

    monkeypatch.setattr(Gateway, "call_rpc", recording)
    result = _call("atoms_list_projects", "{}", "--as", "editor@acme.test")
    assert result.exit_code == 0, result.output
    assert [(c.actor, c.client_name) for c in seen] == [("cli", "atoms-cli")]


def test_a_change_made_through_the_cli_is_recorded_with_actor_cli_in_history_and_audit(url: str) -> None:
    arguments = json.dumps({"project_id": ACME_PROJECT, "type": "note", "title": "typed at a terminal"})
    result = _call("atoms_create_item", arguments, "--as", "editor@acme.test")
    assert result.exit_code == 0, result.output
    key = json.loads(result.output)["data"]["id"]
    with psycopg.connect(url) as conn:
        history = conn.execute(
            "select h.actor::text, h.client_name from public.change_history h"
            " join public.items i on i.id = h.item_id where i.project_id = %s and i.key = %s",
            (ACME_PROJECT, key),
        ).fetchall()
        audit = conn.execute(
            "select actor::text, client_name from public.mcp_audit_log"
            " where tool_name = 'atoms_create_item' and status = 'success' order by id desc limit 1"
        ).fetchone()
    assert history == [("cli", "atoms-cli")]
    assert audit == ("cli", "atoms-cli")


def test_a_cli_call_is_audited_over_the_one_connection_it_opens(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    opened: list[str] = []
    original = psycopg.AsyncConnection.connect

    async def counting(conninfo: str = "", **kwargs: Any) -> Any:
        opened.append(str(kwargs.get("application_name")))
        return await original(conninfo, **kwargs)

    monkeypatch.setattr(psycopg.AsyncConnection, "connect", counting)
    monkeypatch.setenv("ATOMS_ACCESS_TOKEN", token_for("viewer"))
    result = _call("atoms_get_item", json.dumps({"project_id": ACME_PROJECT, "item_id": "REQ-002"}))
    assert result.exit_code == 0, result.output
    assert opened == ["atoms-mcp"]  # the gateway pool's connection; no second one for the audit record
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select status::text, client_name, user_id::text, params ->> 'item_id' from public.mcp_audit_log"
            " where tool_name = 'atoms_get_item' and client_name = 'atoms-cli'"
        ).fetchall()
    assert ("success", "atoms-cli", "a0000000-0000-4000-8000-0000000000a3", "REQ-002") in rows


def test_call_without_a_token_and_no_terminal_says_how_to_sign_in() -> None:
    result = _call("atoms_list_projects")
    assert result.exit_code == 1
    assert "atoms login" in result.output


def test_atoms_call_never_loads_the_mcp_sdk(url: str) -> None:
    arguments = json.dumps({"project_id": ACME_PROJECT, "item_id": "REQ-001"})
    script = (
        "import sys\n"
        "from atoms_mcp.cli.app import app\n"
        "try:\n"
        f"    app(['call', 'atoms_get_item', {arguments!r}, '--as', 'viewer@acme.test'])\n"
        "except SystemExit as done:\n"
        "    code = done.code\n"
        "loaded = sorted(m for m in sys.modules if m == 'mcp' or m.startswith(('mcp.', 'mcp_types')))\n"
        "print(code, loaded, file=sys.stderr)\n"
    )
    env = {
        "ATOMS_DEV": "1",
        "ATOMS_DATABASE_URL": url,
        "ATOMS_GATEWAY_DATABASE_URL": gateway_url(url),
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert done.stderr.strip().splitlines()[-1] == "0 []", done.stderr
    assert json.loads(done.stdout)["data"]["id"] == "REQ-001"


def test_whoami_shows_the_user_and_their_organisations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_ACCESS_TOKEN", token_for("editor"))
    result = runner.invoke(app, ["whoami"])
    assert result.exit_code == 0, result.output
    assert "editor@acme.test" in result.output
    assert "a0000000-0000-4000-8000-0000000000a2" in result.output
    assert "Acme Automotive (editor)" in result.output


def test_whoami_refuses_an_expired_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_ACCESS_TOKEN", token_for("editor", ttl_seconds=-600))
    result = runner.invoke(app, ["whoami"])
    assert result.exit_code == 1
    assert "expired" in result.output


def test_a_bad_setting_is_one_line_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_RATE_LIMIT_RPM", "many")
    result = runner.invoke(app, ["tools"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Usage error: invalid configuration: ATOMS_RATE_LIMIT_RPM")
