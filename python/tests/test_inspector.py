"""The MCP Inspector CLI (pinned in package.json) lists the tools of the stdio server, with --strict schema
checks, and calls one against the database."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from conftest import REPO_ROOT
from mcp_support import ACME_PROJECT, gateway_url, token_for

INSPECTOR = REPO_ROOT / "node_modules" / ".bin" / "mcp-inspector"


def run_inspector(tmp_path: Path, url: str, *method_args: str) -> subprocess.CompletedProcess[str]:
    """`mcp-inspector --cli <server> -- -e ... --method ...` with a private HOME (it writes ~/.mcp-inspector)."""
    if not INSPECTOR.exists():
        pytest.fail(f"{INSPECTOR} is missing: run `npm ci` (make setup) first")
    server_env = {
        "PYTHONPATH": str(REPO_ROOT / "python" / "src"),
        "ATOMS_GATEWAY_DATABASE_URL": gateway_url(url),
        "ATOMS_ACCESS_TOKEN": token_for("viewer"),
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


def test_inspector_lists_the_tools_strictly_and_calls_one(tmp_path: Path, url: str) -> None:
    listed = run_inspector(tmp_path, url, "--method", "tools/list", "--strict")
    assert listed.returncode == 0, listed.stderr
    names = [tool["name"] for tool in json.loads(listed.stdout)["result"]["tools"]]
    assert len(names) == 23 and names[0] == "atoms_status"

    called = run_inspector(
        tmp_path,
        url,
        "--method",
        "tools/call",
        "--tool-name",
        "atoms_get_item",
        "--tool-args-json",
        json.dumps({"project_id": ACME_PROJECT, "item_id": "REQ-001"}),
    )
    assert called.returncode == 0, called.stderr
    result = json.loads(called.stdout)["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["data"]["id"] == "REQ-001"
