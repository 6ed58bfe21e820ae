"""The `atoms` commands of the MCP server: dev token, call, whoami (typer's CliRunner, in-process)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jwt
import pytest
from typer.testing import CliRunner

from atoms_mcp.cli.app import app
from atoms_mcp.settings import DEV_JWT_SECRET
from mcp_support import ACME_PROJECT, gateway_url, token_for

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> None:
    """Only the ATOMS_* variables a test sets are seen by the CLI."""
    for name in list(os.environ):
        if name.startswith("ATOMS_") and name != "ATOMS_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ATOMS_DATABASE_URL", url)
    monkeypatch.setenv("ATOMS_GATEWAY_DATABASE_URL", gateway_url(url))
    monkeypatch.setenv("ATOMS_STATE_DIR", str(tmp_path / "state"))


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


def test_call_runs_a_tool_as_a_seed_user() -> None:
    arguments = json.dumps({"project_id": ACME_PROJECT, "item_id": "REQ-001"})
    result = runner.invoke(app, ["call", "atoms_get_item", arguments, "--as", "viewer@acme.test"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["status"] == "success" and body["data"]["id"] == "REQ-001"


def test_call_exits_1_on_a_refused_call_and_prints_the_error() -> None:
    arguments = json.dumps({"project_id": ACME_PROJECT, "type": "note", "title": "from the CLI"})
    result = runner.invoke(app, ["call", "atoms_create_item", arguments, "--as", "viewer@acme.test"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"]["code"] == "PERMISSION_DENIED"


def test_call_of_an_unknown_tool_or_bad_json_fails() -> None:
    assert runner.invoke(app, ["call", "atoms_nope", "{}"]).exit_code == 1
    bad = runner.invoke(app, ["call", "atoms_status", "{not json"])
    assert bad.exit_code == 1 and "JSON object" in bad.output


def test_call_without_a_token_and_no_terminal_says_how_to_sign_in() -> None:
    result = runner.invoke(app, ["call", "atoms_list_projects"])
    assert result.exit_code == 1
    assert "atoms login" in result.output


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
