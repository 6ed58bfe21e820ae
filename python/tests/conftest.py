"""Shared fixtures: a template database built by the same code path as `atoms db reset --seed`, a fresh clone
of it per test (pytest-postgresql `postgresql_noproc` against the running server), and principal helpers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import settings
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pytest_postgresql import factories
from pytest_postgresql.executors.noop import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from atoms_mcp.database import migrations
from atoms_mcp.settings import Settings
from oauth_server import TestAuthorizationServer

# `make fuzz` (--hypothesis-profile=fuzz): at least 2,000 argument sets per tool (test_fuzz_tools.py).
settings.register_profile("fuzz", max_examples=2_000, deadline=None, database=None)

REPO_ROOT = Path(__file__).resolve().parents[2]  # the tests run from a checkout of the repository
SUPABASE_DIR = REPO_ROOT / "supabase"
TEST_SERVER_URL = os.environ.get("ATOMS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
_SERVER = conninfo_to_dict(TEST_SERVER_URL)


def load_schema(host: str, port: int, user: str, dbname: str, password: str | None, **_: object) -> None:
    """Build the template database exactly as `atoms db reset --seed` would (compat, migrations, seed)."""
    url = make_conninfo(host=host, port=port, user=user, dbname=dbname, password=password or "")
    migrations.migrate(url, SUPABASE_DIR, with_seed=True)


postgresql_noproc = factories.postgresql_noproc(
    host=str(_SERVER.get("host", "127.0.0.1")),
    port=int(_SERVER.get("port", 5432)),
    user=str(_SERVER.get("user", "postgres")),
    password=str(_SERVER.get("password", "")) or None,
    # One template per pytest process, so parallel runs (worktrees, CI) never collide.
    dbname=f"atoms_test_{os.getpid()}",
    load=[load_schema],
)
postgresql = factories.postgresql("postgresql_noproc")

# A database's own ACL is not copied from its template, so a clone starts with PUBLIC's default TEMPORARY again; the
# migration that revokes it is re-run on every clone so tests see the database as the migrations leave it.
DATABASE_ACL_MIGRATION = SUPABASE_DIR / "migrations" / "20261202000100_revoke_temporary_from_public.sql"


def apply_database_acl(conn: psycopg.Connection) -> None:
    """Re-run the migration that sets the database's own ACL (a clone does not inherit it from the template)."""
    conn.execute(DATABASE_ACL_MIGRATION.read_text(encoding="utf-8"))


# The variables the test harness itself reads (where its PostgreSQL server is); every other ATOMS_* is cleared.
HARNESS_VARIABLES = frozenset({"ATOMS_TEST_DATABASE_URL"})


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ATOMS_* variable of the developer's environment reaches a test (only HARNESS_VARIABLES stay), and every test
    runs in local development mode (ATOMS_DEV=1: the local demo secret signs the seed users' tokens); a test of the
    production configuration removes it or passes dev=False."""
    for name in [n for n in os.environ if n.startswith("ATOMS_") and n not in HARNESS_VARIABLES]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("ATOMS_DEV", "1")


@pytest.fixture
def db(postgresql: psycopg.Connection) -> psycopg.Connection:
    """A connection (superuser, autocommit) to a fresh clone of the seeded template database."""
    postgresql.commit()
    postgresql.autocommit = True
    apply_database_acl(postgresql)
    return postgresql


@pytest.fixture
def db_url(db: psycopg.Connection) -> str:
    """URL of the fresh clone, for tests that open more connections (concurrency, other login roles)."""
    info = db.info
    return make_conninfo(host=info.host, port=info.port, user=info.user, dbname=info.dbname, password=info.password)


@pytest.fixture(scope="module")
def module_db(postgresql_noproc: NoopExecutor) -> Iterator[psycopg.Connection]:
    """One clone of the template shared by a module whose tests all roll back (e.g. the contract cells)."""
    janitor = DatabaseJanitor(
        user=postgresql_noproc.user,
        host=postgresql_noproc.host,
        port=postgresql_noproc.port,
        password=postgresql_noproc.password,
        dbname=f"{postgresql_noproc.template_dbname}_m{uuid.uuid4().hex[:8]}",
        template_dbname=postgresql_noproc.template_dbname,
    )
    with janitor:
        info = postgresql_noproc
        with psycopg.connect(
            host=info.host,
            port=info.port,
            user=info.user,
            password=info.password,
            dbname=janitor.dbname,
            autocommit=True,
        ) as conn:
            apply_database_acl(conn)
            yield conn


@pytest.fixture
def anyio_backend() -> str:
    """anyio's pytest plugin runs `@pytest.mark.anyio` tests on asyncio (the MCP SDK's backend)."""
    return "asyncio"


# ---- sign-in: a real authorization server on loopback, settings pointing at it ----


@pytest.fixture
def auth_server() -> Iterator[TestAuthorizationServer]:
    """A running OAuth 2.1 authorization server (authlib) on 127.0.0.1; see oauth_server.py."""
    server = TestAuthorizationServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def oauth_settings(tmp_path: Path, auth_server: TestAuthorizationServer) -> Settings:
    """Settings for the CLI against `auth_server`, with a private state dir."""
    return Settings(
        auth_issuer_url=auth_server.url,
        state_dir=tmp_path / "state",
        login_port=0,
        login_timeout_seconds=10,
        oauth_client_id="atoms-cli",
    )


@pytest.fixture(scope="module")
def url(module_db: psycopg.Connection) -> str:
    """URL of the module's shared clone (servers under test open their own pools on it)."""
    info = module_db.info
    return make_conninfo(host=info.host, port=info.port, user=info.user, dbname=info.dbname, password=info.password)
