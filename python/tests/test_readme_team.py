"""README "Set up your team", run verbatim: its shell block takes an empty database to an organisation with an admin,
an editor and a viewer on a project, through the `atoms` CLI only; then an MCP client as the new editor creates an
item, and the organisation's history says who made whom what."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from mcp import Client
from mcp.types import Implementation
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql.executors.noop import NoopExecutor

from atoms_mcp.identity.verifier import mint_token
from atoms_mcp.server.app import create_server
from atoms_mcp.settings import DEV_JWT_SECRET
from conftest import REPO_ROOT
from mcp_support import ListSink, make_settings, payload

pytestmark = pytest.mark.anyio


def team_block() -> str:
    """The first ```sh block of the README's "Set up your team" section."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Set up your team\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert match is not None, "the section has no ```sh block"
    return match.group(1)


@pytest.fixture
def empty_database_url(postgresql_noproc: NoopExecutor) -> Iterator[str]:
    """A database name of its own on the test server; `atoms db reset` in the block creates it."""
    server = make_conninfo(
        host=postgresql_noproc.host, port=postgresql_noproc.port, user=postgresql_noproc.user, dbname="postgres"
    )
    name = f"atoms_readme_team_{uuid.uuid4().hex[:8]}"
    yield make_conninfo(server, dbname=name)
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,))
        conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(name)))


def run_block(block: str, database_url: str, state_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATOMS_")}
    env.update(
        ATOMS_DATABASE_URL=database_url,
        ATOMS_STATE_DIR=str(state_dir),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=300,
        check=False,
    )


async def test_the_readme_team_commands_run_verbatim_and_the_new_editor_creates_an_item(
    empty_database_url: str, tmp_path: Path
) -> None:
    done = run_block(team_block(), empty_database_url, tmp_path / "state")
    assert done.returncode == 0, done.stdout + done.stderr
    # `atoms member list`, the block's last command: the admin, the editor and the viewer.
    assert re.search(r"eddie@pumpco\.test\s+Eddie Editor\s+editor", done.stdout), done.stdout
    assert re.search(r"lead@pumpco\.test\s+Quinn Lead\s+admin", done.stdout), done.stdout
    assert re.search(r"vera@pumpco\.test\s+Vera Viewer\s+viewer", done.stdout), done.stdout

    with psycopg.connect(empty_database_url) as conn:
        eddie = conn.execute("select id::text from auth.users where email = 'eddie@pumpco.test'").fetchone()
        lead = conn.execute("select id::text from auth.users where email = 'lead@pumpco.test'").fetchone()
    assert eddie is not None and lead is not None

    gateway = conninfo_to_dict(empty_database_url)
    gateway.update(user="atoms_mcp_gateway")
    settings = make_settings(empty_database_url, tmp_path / "server", gateway_database_url=make_conninfo(**gateway))

    class Eddie:
        token: str | None = mint_token(DEV_JWT_SECRET, user_id=eddie[0], email="eddie@pumpco.test")

        async def access_token(self) -> str | None:
            return self.token

        def status(self) -> str:
            return "test"

    server = create_server(settings, token_source=Eddie(), audit_sink=ListSink())
    async with Client(server, client_info=Implementation(name="claude-code", version="1")) as client:
        projects = payload(await client.call_tool("atoms_list_projects", {}))["data"]
        assert [(p["name"], p["org_name"], p["role"]) for p in projects] == [("Infusion pump", "PumpCo", "editor")]
        created = payload(
            await client.call_tool(
                "atoms_create_item",
                {"project_id": projects[0]["id"], "type": "requirement", "title": "Occlusion alarm within 30 s"},
            )
        )
        assert created["status"] == "success" and created["data"]["id"] == "REQ-001"
        # An editor is no admin: the organisation's history is not theirs to read.
        refused = payload(await client.call_tool("atoms_get_org_history", {"org_id": projects[0]["org_id"]}))
        assert refused["error"]["code"] == "PERMISSION_DENIED"

    # Who made Eddie an editor, when, through which channel: one call as the admin.
    Eddie.token = mint_token(DEV_JWT_SECRET, user_id=lead[0], email="lead@pumpco.test")
    async with Client(create_server(settings, token_source=Eddie(), audit_sink=ListSink())) as client:
        history = payload(await client.call_tool("atoms_get_org_history", {"org_id": projects[0]["org_id"]}))["data"]
    invited = [e for e in history if e["event_type"] == "invitation_created" and e["new_values"]["role"] == "editor"]
    joined = [e for e in history if e["event_type"] == "member_added" and e["subject_email"] == "eddie@pumpco.test"]
    assert [(e["changed_by_email"], e["actor"], e["subject_email"]) for e in invited] == [
        ("lead@pumpco.test", "cli", "eddie@pumpco.test")
    ]
    assert [(e["changed_by_email"], e["new_values"]["role"]) for e in joined] == [("eddie@pumpco.test", "editor")]
