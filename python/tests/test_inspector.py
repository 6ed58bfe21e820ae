"""The MCP Inspector CLI (pinned in package.json) lists the tools of the stdio server, with --strict schema
checks, and calls every tool against the database; the Inspector checks each result against the tool's
published output schema (a mismatch fails the call)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from atoms_mcp.core.registry import TOOLS
from conftest import REPO_ROOT
from mcp_support import gateway_url, token_for
from test_server_tools import CASES

INSPECTOR = REPO_ROOT / "node_modules" / ".bin" / "mcp-inspector"


def run_inspector(tmp_path: Path, url: str, *method_args: str, who: str = "viewer") -> subprocess.CompletedProcess[str]:
    """`mcp-inspector --cli <server> -- -e ... --method ...` with a private HOME (it writes ~/.mcp-inspector)."""
    if not INSPECTOR.exists():
        pytest.fail(f"{INSPECTOR} is missing: run `npm ci` (make setup) first")
    server_env = {
        "PYTHONPATH": str(REPO_ROOT / "python" / "src"),
        "ATOMS_DEV": "1",
        "ATOMS_GATEWAY_DATABASE_URL": gateway_url(url),
        "ATOMS_ACCESS_TOKEN": token_for(who),
        "ATOMS_STATE_DIR": str(tmp_path / "state"),
    }
    command = [str(INSPECTOR), "--cli", sys.executable, "-m", "atoms_mcp", "serve", "--"]
    for key, value in server_env.items():
        command += ["-e", f"{key}={value}"]
    command += [*method_args, "--format", "json"]
    env = {
        "HOME": str(tmp_path),
        "MCP_STORAGE_DIR": str(tmp_path / "inspector"),
        "MCP_INSPECTOR_OAUTH_STATE_PATH": str(tmp_path / "inspector-oauth"),
        "PATH": f"{Path(shutil.which('node') or 'node').parent}:/usr/bin:/bin",
    }
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=90, check=False)


@pytest.fixture
def url(db: psycopg.Connection) -> str:
    info = db.info
    return make_conninfo(host=info.host, port=info.port, user=info.user, dbname=info.dbname, password=info.password)


def test_inspector_lists_the_tools_strictly(tmp_path: Path, url: str) -> None:
    listed = run_inspector(tmp_path, url, "--method", "tools/list", "--strict")
    assert listed.returncode == 0, listed.stderr
    tools = json.loads(listed.stdout)["result"]["tools"]
    assert [tool["name"] for tool in tools] == [spec.name for spec in TOOLS]
    assert all("outputSchema" in tool for tool in tools)


ACME_INVITATION = "a0000000-0000-4000-8000-0000000001e1"  # the seed's: Acme invites the outsider as viewer
GLOBEX_INVITATION = "b0000000-0000-4000-8000-0000000001e1"  # planted by the test: Globex invites the outsider too
# Tools whose success needs another caller or other arguments than the role-matrix cases (which mostly refuse).
SUCCESSFUL_CALLS: dict[str, tuple[dict[str, Any], str]] = {
    "atoms_accept_invitation": ({"invitation_id": ACME_INVITATION}, "non_member"),
    "atoms_decline_invitation": ({"invitation_id": GLOBEX_INVITATION}, "non_member"),
    "atoms_remove_member": (
        {"org_id": "a0000000-0000-4000-8000-000000000001", "user_id": "a0000000-0000-4000-8000-0000000000a3"},
        "admin",
    ),
}


def _call(name: str) -> tuple[dict[str, Any], str]:
    if name in SUCCESSFUL_CALLS:
        return SUCCESSFUL_CALLS[name]
    make_args, _ = CASES[name]
    arguments = make_args(0, "admin")
    if name == "atoms_restore_item":  # what atoms_delete_item (called first, as the admin) deleted
        arguments = CASES["atoms_delete_item"][0](0, "admin")
    return arguments, "admin"


def test_inspector_calls_every_tool_and_validates_its_output(tmp_path: Path, url: str, db: psycopg.Connection) -> None:
    db.execute(
        "insert into public.organization_invitations (id, org_id, email, role, invited_by) "
        "values (%s, 'b0000000-0000-4000-8000-000000000001', 'outsider@example.test', 'editor', "
        "'b0000000-0000-4000-8000-0000000000b1')",
        (GLOBEX_INVITATION,),
    )
    failures: list[str] = []
    for spec in TOOLS:
        arguments, who = _call(spec.name)
        called = run_inspector(
            tmp_path,
            url,
            "--method",
            "tools/call",
            "--tool-name",
            spec.name,
            "--tool-args-json",
            json.dumps(arguments),
            who=who,
        )
        if called.returncode != 0:
            failures.append(f"{spec.name}: exit {called.returncode}: {called.stderr[-500:]}")
            continue
        result = json.loads(called.stdout)["result"]
        if result.get("isError") or "structuredContent" not in result:
            failures.append(f"{spec.name}: {json.dumps(result)[:500]}")
    assert not failures, "\n".join(failures)
