"""Database tooling: statement splitting, migration discovery, push/reset semantics, and agreement with the pinned
Supabase CLI (`npx supabase db push --db-url ...` applies the same files, and finds our databases up to date)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from atoms_mcp.database import migrations
from atoms_mcp.database.sqlsplit import split_statements
from conftest import REPO_ROOT, SUPABASE_DIR, TEST_SERVER_URL


def test_split_keeps_semicolons_inside_strings_comments_and_bodies() -> None:
    script = """
    -- a comment; with a semicolon
    select 'a;b', E'c\\';d', "we;ird" from t; /* block; /* nested; */ still */
    create function f() returns int language sql as $$ select 1; $$;
    create function g() returns int language plpgsql as $body$ begin return 1; end; $body$;
    select $1;
    """
    statements = split_statements(script)
    assert len(statements) == 4
    assert statements[0].endswith("""select 'a;b', E'c\\';d', "we;ird" from t""")
    assert statements[1].endswith("$$ select 1; $$")
    assert "begin return 1; end;" in statements[2]
    assert statements[3].endswith("select $1")


def test_migration_files_follow_the_cli_pattern_in_strict_order() -> None:
    files = sorted(p.name for p in (SUPABASE_DIR / "migrations").iterdir())
    assert files, "there are migrations"
    for name in files:
        assert re.fullmatch(r"\d{14}_[a-z0-9_]+\.sql", name), name
    versions = [m.version for m in migrations.load_migrations(SUPABASE_DIR)]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)


def test_push_on_an_up_to_date_database_applies_nothing(db_url: str) -> None:
    assert migrations.migrate(db_url, SUPABASE_DIR, with_seed=True) == []


def test_reset_refuses_the_maintenance_database() -> None:
    url = make_conninfo(TEST_SERVER_URL, dbname="postgres")
    with pytest.raises(ValueError, match="refusing to reset"):
        migrations.reset_database(url, SUPABASE_DIR, with_seed=False)


def test_a_failing_migration_leaves_nothing_behind(db_url: str, tmp_path: object) -> None:
    """Each file is one transaction: a broken file applies none of its statements and is not recorded."""
    broken = tmp_path / "supabase"  # type: ignore[operator]
    shutil.copytree(SUPABASE_DIR, broken)
    (broken / "migrations" / "29991231235959_broken.sql").write_text(
        "create table public.half_done (id int);\nselect 1 / 0;\n", encoding="utf-8"
    )
    with pytest.raises(psycopg.errors.DivisionByZero):
        migrations.migrate(db_url, broken, with_seed=False)
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select to_regclass('public.half_done')").fetchone()[0] is None
        recorded = conn.execute(
            "select count(*) from supabase_migrations.schema_migrations where version = '29991231235959'"
        )
        assert recorded.fetchone()[0] == 0


@pytest.fixture
def scratch_databases() -> Iterator[list[str]]:
    """Empty databases on the test server, dropped afterwards."""
    names: list[str] = []
    yield names
    with psycopg.connect(make_conninfo(TEST_SERVER_URL, dbname="postgres"), autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _new_database(names: list[str], *, compat: bool) -> str:
    name = f"atoms_cli_{uuid.uuid4().hex[:10]}"
    names.append(name)
    url = make_conninfo(TEST_SERVER_URL, dbname=name)
    migrations.create_database(url)
    if compat:
        with psycopg.connect(url, autocommit=True) as conn:
            assert migrations.apply_compat_if_needed(conn, SUPABASE_DIR)
    return url


def _supabase_push(url: str) -> str:
    info = conninfo_to_dict(url)
    host, port = info.get("host", "127.0.0.1"), info.get("port", 5432)
    cli_url = f"postgresql://{info.get('user', 'postgres')}@{host}:{port}/{info['dbname']}?sslmode=disable"
    npx = shutil.which("npx")
    assert npx, "npx is needed (make setup installs the pinned Supabase CLI)"
    assert (REPO_ROOT / "node_modules" / "supabase").is_dir(), "run `npm ci` (make setup) to install the pinned CLI"
    done = subprocess.run(
        [npx, "--no-install", "supabase", "db", "push", "--db-url", cli_url, "--yes"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ, "DO_NOT_TRACK": "1"},
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    return output


def _schema_dump(url: str) -> str:
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed"
    info = conninfo_to_dict(url)
    done = subprocess.run(
        [
            pg_dump,
            "--schema-only",
            "--no-owner",
            "--schema=public",
            "--schema=private",
            "-h",
            str(info.get("host")),
            "-p",
            str(info.get("port", 5432)),
            "-U",
            str(info.get("user", "postgres")),
            str(info["dbname"]),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    # pg_dump's \restrict / \unrestrict lines carry a random key per run.
    return "\n".join(line for line in done.stdout.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def test_supabase_cli_pushes_every_migration_and_then_reports_up_to_date(scratch_databases: list[str]) -> None:
    cli_url = _new_database(scratch_databases, compat=True)
    first = _supabase_push(cli_url)
    for migration in migrations.load_migrations(SUPABASE_DIR):
        assert migration.path.name in first
    assert "up to date" in _supabase_push(cli_url).lower()

    ours_url = _new_database(scratch_databases, compat=False)
    migrations.migrate(ours_url, SUPABASE_DIR, with_seed=False)
    assert "up to date" in _supabase_push(ours_url).lower(), "the CLI must accept our migration history"
    assert _schema_dump(ours_url) == _schema_dump(cli_url), "atoms db push and supabase db push build the same schema"
