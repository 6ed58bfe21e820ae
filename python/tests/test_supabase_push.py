"""Deploying onto hosted Supabase, PostgreSQL 15 and 17: on a cluster shaped like a hosted project (see
supabase_cluster.py), the pinned Supabase CLI pushes every migration and the seed as the non-superuser `postgres`,
and the whole pgTAP suite then passes run by pg_prove as `postgres`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest

from atoms_mcp.database import migrations
from conftest import SUPABASE_DIR
from supabase_cluster import SupabaseShapedCluster, start_supabase_shaped

pytestmark = pytest.mark.supabase_shape

VERSIONS = (15, 17)


@dataclass(frozen=True, slots=True)
class PushedCluster:
    """A Supabase-shaped cluster after `supabase db push --include-seed`, with what the CLI printed."""

    cluster: SupabaseShapedCluster
    push_output: str


def _cli_url(cluster: SupabaseShapedCluster) -> str:
    return f"{cluster.url()}?sslmode=disable"


def _supabase_push(cluster: SupabaseShapedCluster) -> subprocess.CompletedProcess[str]:
    npx = shutil.which("npx")
    assert npx, "npx is needed (make setup installs the pinned Supabase CLI)"
    return subprocess.run(
        [npx, "--no-install", "supabase", "db", "push", "--db-url", _cli_url(cluster), "--include-seed", "--yes"],
        cwd=SUPABASE_DIR.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "DO_NOT_TRACK": "1"},
    )


@pytest.fixture(scope="session", params=VERSIONS, ids=[f"pg{v}" for v in VERSIONS])
def pushed(request: pytest.FixtureRequest) -> Iterator[PushedCluster]:
    """One Supabase-shaped cluster per PostgreSQL version, pushed once; stopped and deleted afterwards."""
    cluster = start_supabase_shaped(request.param)
    try:
        done = _supabase_push(cluster)
        output = done.stdout + done.stderr
        assert done.returncode == 0, f"supabase db push failed on PostgreSQL {cluster.version}:\n{output}"
        yield PushedCluster(cluster, output)
    finally:
        cluster.stop()


def test_the_cluster_is_shaped_like_a_hosted_project(pushed: PushedCluster) -> None:
    with psycopg.connect(pushed.cluster.url(), autocommit=True) as conn:
        version = conn.execute("select current_setting('server_version_num')::int / 10000").fetchone()[0]
        assert version == pushed.cluster.version
        attributes = conn.execute(
            "select rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls from pg_roles"
            " where rolname = current_user"
        ).fetchone()
        assert attributes == (False, True, True, True, True), "postgres is demoted as on hosted Supabase"
        owners = conn.execute(
            "select (select datdba::regrole::text from pg_database where datname = current_database()),"
            " (select nspowner::regrole::text from pg_namespace where nspname = 'auth'),"
            " (select relowner::regrole::text from pg_class where oid = 'auth.users'::regclass),"
            " (select rolsuper from pg_roles where rolname = 'supabase_admin')"
        ).fetchone()
        assert owners == ("postgres", "supabase_auth_admin", "supabase_auth_admin", True)
        assert conn.execute("select has_schema_privilege('auth', 'create')").fetchone()[0] is False
        admin_of = conn.execute(
            "select array_agg(g.rolname::text order by g.rolname) from pg_auth_members as m"
            " join pg_roles as g on g.oid = m.roleid where m.member = 'postgres'::regrole and m.admin_option"
            " and g.rolname in ('anon', 'authenticated', 'authenticator')"
        ).fetchone()[0]
        assert admin_of == ["anon", "authenticated", "authenticator"]


def test_the_pinned_cli_pushes_every_migration_and_the_seed_as_postgres(pushed: PushedCluster) -> None:
    for migration in migrations.load_migrations(SUPABASE_DIR):
        assert migration.path.name in pushed.push_output
    with psycopg.connect(pushed.cluster.url(), autocommit=True) as conn:
        assert migrations.applied_versions(conn) == {m.version for m in migrations.load_migrations(SUPABASE_DIR)}
        assert conn.execute("select count(*) from supabase_migrations.seed_files").fetchone()[0] == 1
        assert conn.execute("select count(*) from public.items").fetchone()[0] > 0
        assert conn.execute("select count(*) from public.mcp_audit_log").fetchone()[0] == 4
        # Nothing the push created is owned by a superuser, and no role was granted to postgres by a migration.
        superuser_owned = conn.execute(
            "select count(*) from pg_class as c join pg_roles as r on r.oid = c.relowner"
            " where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace) and r.rolsuper"
        ).fetchone()[0]
        assert superuser_owned == 0
        # Memberships the tests need are granted inside the tests' own transactions, never by a migration.
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("set local role atoms_mcp_gateway")
    again = _supabase_push(pushed.cluster)
    assert again.returncode == 0 and "up to date" in (again.stdout + again.stderr).lower()


def test_the_pgtap_suite_passes_as_postgres(pushed: PushedCluster) -> None:
    pg_prove = shutil.which("pg_prove")
    assert pg_prove, "pg_prove is needed (libtap-parser-sourcehandler-pgtap-perl)"
    done = subprocess.run(
        [pg_prove, "-d", pushed.cluster.url(), "--ext", ".sql", "-r", str(SUPABASE_DIR / "tests")],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PGOPTIONS": "-c search_path=public,extensions"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Result: PASS" in output, output
