"""Closed to session-local objects, the parts pgTAP cannot show (supabase/tests/database/05_session_local.test.sql
shows the rest): plpgsql_check resolving every PL/pgSQL body under `pg_catalog, pg_temp` (the extension needs a
superuser to install), a fresh login session refused any temporary object, and the TEMP-revoking migration's two
branches (the runner owns the database, or does not)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from atoms_mcp.database.plpgsql_lint import check_functions, load_waivers, unused_waivers, unwaived
from conftest import REPO_ROOT

REVOKE_MIGRATION = REPO_ROOT / "supabase" / "migrations" / "20261202000100_revoke_temporary_from_public.sql"
WAIVERS = REPO_ROOT / "supabase" / "plpgsql_check_waivers.toml"


def _public_may_create_temporary(conn: psycopg.Connection) -> bool:
    return conn.execute(
        "select exists (select 1 from pg_catalog.pg_database as d,"
        " aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) as a"
        " where d.datname = current_database() and a.grantee = 0 and a.privilege_type = 'TEMPORARY')"
    ).fetchone()[0]


# ---- layer a: every PL/pgSQL body resolves under the pinned path ----


def test_plpgsql_check_finds_no_error_and_only_reviewed_warnings(db: psycopg.Connection) -> None:
    findings = check_functions(db)
    waivers = load_waivers(WAIVERS)
    assert [f.describe() for f in findings if f.is_error] == []
    assert [f.describe() for f in unwaived(findings, waivers)] == []
    assert unused_waivers(findings, waivers) == []
    checked = {f.function for f in findings}
    assert "public.atoms_list_items(text,text,text,text,integer,integer)" in checked


def test_plpgsql_check_reports_an_unqualified_name_and_a_wrong_column_per_trigger_table(db: psycopg.Connection) -> None:
    # A pinned search path alone is not enough: an unqualified name would resolve in pg_temp.
    db.execute(
        "create function private.scratch_count_items() returns bigint language plpgsql stable security definer"
        " set search_path = pg_catalog, pg_temp as $$ begin return (select count(*) from items); end; $$"
    )
    db.execute(
        "create function private.scratch_touch() returns trigger language plpgsql security invoker"
        " set search_path = pg_catalog, pg_temp as $$ begin perform new.title; return new; end; $$"
    )
    db.execute(
        "create trigger scratch_touch_items before update on public.items for each row execute function"
        " private.scratch_touch()"
    )
    db.execute(
        "create trigger scratch_touch_links before update on public.item_links for each row execute function"
        " private.scratch_touch()"
    )
    db.execute(
        "create function private.scratch_unattached() returns trigger language plpgsql security invoker"
        " set search_path = pg_catalog, pg_temp as $$ begin return new; end; $$"
    )
    errors = {(f.function, f.relation, f.message) for f in check_functions(db) if f.is_error}
    assert ("private.scratch_count_items()", "", 'relation "items" does not exist') in errors
    assert ("private.scratch_touch()", "public.item_links", 'record "new" has no field "title"') in errors
    assert not any(f == "private.scratch_touch()" and r == "public.items" for f, r, _ in errors)
    assert (
        "private.scratch_unattached()",
        "",
        "trigger function attached to no table: it cannot be checked",
    ) in errors


# ---- layer b: a fresh session of an API login can create no temporary object ----


def _as_login(db_url: str, login: str) -> str:
    info = conninfo_to_dict(db_url)
    info["user"] = login
    info.pop("password", None)
    return make_conninfo(**info)


def test_a_fresh_gateway_session_cannot_create_temporary_objects(db: psycopg.Connection, db_url: str) -> None:
    with psycopg.connect(_as_login(db_url, "atoms_mcp_gateway")) as gateway:
        for statement in (
            "create temporary table planted (a int)",
            "create temporary view items as select 1 as id",
            "create domain pg_temp.uuid as pg_catalog.uuid",
        ):
            for role in ("atoms_mcp_gateway", "authenticated"):
                with pytest.raises(psycopg.errors.InsufficientPrivilege), gateway.transaction():
                    if role != "atoms_mcp_gateway":
                        gateway.execute("select set_config('role', %s, true)", (role,))
                    gateway.execute(statement)
    # Layer b removed: the same fresh session may plant again.
    db.execute(sql.SQL("grant temporary on database {} to public").format(sql.Identifier(db.info.dbname)))
    with psycopg.connect(_as_login(db_url, "atoms_mcp_gateway")) as gateway, gateway.transaction():
        gateway.execute("select set_config('role', 'authenticated', true)")
        gateway.execute("create temporary view items as select 1 as id")


# ---- the migration's two branches ----


@pytest.fixture
def probe_roles(db: psycopg.Connection) -> Iterator[tuple[str, str]]:
    """Two plain roles: one will own the test database, the other will not (dropped afterwards)."""
    suffix = uuid.uuid4().hex[:8]
    owner, other = f"atoms_probe_owner_{suffix}", f"atoms_probe_other_{suffix}"
    for role in (owner, other):
        db.execute(sql.SQL("create role {} nologin nosuperuser").format(sql.Identifier(role)))
    try:
        yield owner, other
    finally:
        db.execute("reset role")
        db.execute(sql.SQL("alter database {} owner to current_user").format(sql.Identifier(db.info.dbname)))
        for role in (owner, other):
            db.execute(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_the_migration_revokes_temporary_only_when_its_runner_owns_the_database(
    db: psycopg.Connection, probe_roles: tuple[str, str]
) -> None:
    owner, other = probe_roles
    database = sql.Identifier(db.info.dbname)
    migration = REVOKE_MIGRATION.read_text(encoding="utf-8")
    notices: list[str] = []
    db.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    db.execute(sql.SQL("grant temporary on database {} to public").format(database))
    db.execute(sql.SQL("alter database {} owner to {}").format(database, sql.Identifier(owner)))

    db.execute(sql.SQL("set role {}").format(sql.Identifier(other)))
    db.execute(migration)
    db.execute("reset role")
    assert _public_may_create_temporary(db), "a runner that does not own the database changes nothing"
    database_name = db.info.dbname
    assert notices == [
        f"temporary on database {database_name} stays granted to PUBLIC: {other} does not own it (its owner is {owner})"
    ]

    db.execute(sql.SQL("set role {}").format(sql.Identifier(owner)))
    db.execute(migration)
    db.execute("reset role")
    assert not _public_may_create_temporary(db), "the owner revokes it"
    assert len(notices) == 1
