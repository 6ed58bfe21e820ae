"""Names in the record: history, test results and the MCP audit log carry the person's display name and email as
they were when the row was written, inside the history hash; a rename changes only later rows; a removed member and
a deleted account still show by name; rows written before names were recorded still verify."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from atoms_mcp.database import migrations
from conftest import SUPABASE_DIR, TEST_SERVER_URL
from people import create_item, delete_account, new_member, record_result, rename, write_audit
from principals import ACME_ORG, ACME_PROJECT, PRINCIPALS, Principal, act_as, as_principal
from writepath import rpc

ADMIN = PRINCIPALS["admin"]
PEOPLE_MIGRATIONS = "20261207"


def history(conn: psycopg.Connection, principal: Principal, key: str) -> list[dict[str, Any]]:
    with as_principal(conn, principal):
        return rpc(conn, "atoms_get_history", project_id=ACME_PROJECT, item_id=key, limit=100)["data"]


def results(conn: psycopg.Connection, principal: Principal, key: str) -> list[dict[str, Any]]:
    with as_principal(conn, principal):
        return rpc(conn, "atoms_get_item", project_id=ACME_PROJECT, item_id=key)["test_results"]


def audit(conn: psycopg.Connection, tool_name: str) -> list[dict[str, Any]]:
    with as_principal(conn, ADMIN):
        return rpc(conn, "atoms_get_audit_log", project_id=ACME_PROJECT, tool_name=tool_name)["data"]


def chain_intact(conn: psycopg.Connection) -> dict[str, Any]:
    with as_principal(conn, ADMIN):
        return rpc(conn, "atoms_verify_history", project_id=ACME_PROJECT)


def names(rows: list[dict[str, Any]], prefix: str) -> list[tuple[str | None, str | None]]:
    return [(r[f"{prefix}_name"], r[f"{prefix}_email"]) for r in rows]


def test_every_record_shows_the_name_and_email_beside_the_id(db: psycopg.Connection) -> None:
    tess = new_member(db, "tess@acme.test", "Tess Tester", "editor")
    key = create_item(db, tess, "Brakes hold on a slope", "test-case")
    record_result(db, tess, key, "passed")
    write_audit(db, tess.user_id or "", "probe_before_rename")

    (created, recorded) = sorted(history(db, ADMIN, key), key=lambda e: e["event_type"])
    assert (created["event_type"], recorded["event_type"]) == ("created", "test_recorded")
    for event in (created, recorded):
        assert event["changed_by"] == tess.user_id
        assert (event["changed_by_name"], event["changed_by_email"]) == ("Tess Tester", "tess@acme.test")
    (run,) = results(db, ADMIN, key)
    assert (run["recorded_by"], run["recorded_by_name"], run["recorded_by_email"]) == (
        tess.user_id,
        "Tess Tester",
        "tess@acme.test",
    )
    (call,) = audit(db, "probe_before_rename")
    assert (call["user_id"], call["user_name"], call["user_email"]) == (tess.user_id, "Tess Tester", "tess@acme.test")
    with as_principal(db, ADMIN):
        recent = rpc(db, "atoms_project_summary", project_id=ACME_PROJECT)["recent_changes"][0]
    assert (recent["item_id"], recent["changed_by_name"], recent["changed_by_email"]) == (
        key,
        "Tess Tester",
        "tess@acme.test",
    )
    assert chain_intact(db)["intact"] is True


def test_a_renamed_users_old_rows_keep_the_old_name(db: psycopg.Connection) -> None:
    tess = new_member(db, "tess@acme.test", "Tess Tester", "editor")
    key = create_item(db, tess, "Brakes hold on a slope", "test-case")
    record_result(db, tess, key, "failed")
    write_audit(db, tess.user_id or "", "probe_before_rename")

    rename(db, tess.user_id or "", name="Tess Married-Name", email="tess.m@acme.test")
    record_result(db, tess, key, "passed")
    write_audit(db, tess.user_id or "", "probe_after_rename")

    events = sorted(history(db, ADMIN, key), key=lambda e: e["changed_at"])
    assert names(events, "changed_by") == [
        ("Tess Tester", "tess@acme.test"),
        ("Tess Tester", "tess@acme.test"),
        ("Tess Married-Name", "tess.m@acme.test"),
    ]
    assert names(results(db, ADMIN, key), "recorded_by") == [
        ("Tess Married-Name", "tess.m@acme.test"),
        ("Tess Tester", "tess@acme.test"),
    ]
    assert names(audit(db, "probe_before_rename"), "user") == [("Tess Tester", "tess@acme.test")]
    assert names(audit(db, "probe_after_rename"), "user") == [("Tess Married-Name", "tess.m@acme.test")]
    assert chain_intact(db)["intact"] is True


def test_a_removed_member_still_shows_by_name(db: psycopg.Connection) -> None:
    tess = new_member(db, "tess@acme.test", "Tess Tester", "editor")
    key = create_item(db, tess, "Brakes hold on a slope", "test-case")
    record_result(db, tess, key, "passed")
    db.execute("delete from public.organization_members where user_id = %s", (tess.user_id,))

    assert names(history(db, ADMIN, key), "changed_by") == [("Tess Tester", "tess@acme.test")] * 2
    assert names(results(db, ADMIN, key), "recorded_by") == [("Tess Tester", "tess@acme.test")]
    with as_principal(db, PRINCIPALS["viewer"]):
        row = db.execute("select display_name, email from public.profiles where id = %s", (tess.user_id,)).fetchone()
    assert row == ("Tess Tester", "tess@acme.test"), "a former member's profile stays readable to the organisation"


def test_a_deleted_user_still_shows_by_name_and_their_records_stay(db: psycopg.Connection) -> None:
    tess = new_member(db, "tess@acme.test", "Tess Tester", "editor")
    key = create_item(db, tess, "Brakes hold on a slope", "test-case")
    record_result(db, tess, key, "passed")
    write_audit(db, tess.user_id or "", "probe_before_rename")
    counted = "select (select count(*) from public.change_history), (select count(*) from public.test_results)"
    before = db.execute(counted).fetchone()

    delete_account(db, tess.user_id or "")

    after = db.execute(counted).fetchone()
    assert before is not None and after is not None
    # Nothing is removed with the account; the organisation's chain gains the membership's end.
    assert after[0] >= before[0] and after[1] == before[1], "no record is removed with the account"
    assert names(history(db, ADMIN, key), "changed_by") == [("Tess Tester", "tess@acme.test")] * 2
    assert names(results(db, ADMIN, key), "recorded_by") == [("Tess Tester", "tess@acme.test")]
    assert names(audit(db, "probe_before_rename"), "user") == [("Tess Tester", "tess@acme.test")]
    assert chain_intact(db)["intact"] is True
    with as_principal(db, ADMIN):
        row = db.execute(
            "select display_name, email, deleted_at is not null from public.profiles where id = %s", (tess.user_id,)
        ).fetchone()
    assert row == ("Tess Tester", "tess@acme.test", True)


def test_a_name_is_inside_the_hash_chain(db: psycopg.Connection) -> None:
    tess = new_member(db, "tess@acme.test", "Tess Tester", "editor")
    create_item(db, tess, "Brakes hold on a slope")
    row_id = db.execute(
        "select id from public.change_history where changed_by = %s order by id desc limit 1", (tess.user_id,)
    ).fetchone()[0]
    # Only a superuser who switches triggers off can alter a history row: the chain must still tell.
    with db.transaction():
        db.execute("set local session_replication_role = replica")
        db.execute("update public.change_history set changed_by_name = 'Someone Else' where id = %s", (row_id,))
    verdict = chain_intact(db)
    assert verdict["intact"] is False
    assert verdict["first_broken"]["reason"] == "row_hash does not match the row's contents"


def test_a_writer_hash_that_was_wrong_is_not_made_right_by_naming(db: psycopg.Connection) -> None:
    """The naming trigger re-hashes only a row whose hash was right: a forged row stays detectable."""
    db.execute(
        "insert into public.change_history (scope, scope_id, org_id, project_id, event_type, changed_by, actor,"
        " hash_version, chain_seq, prev_hash, row_hash)"
        " select 'project', %s, %s, %s, 'updated', %s, 'user', 1, h.last_seq + 1, h.last_hash, repeat('a', 64)"
        " from private.history_chain_heads as h where h.scope = 'project' and h.scope_id = %s",
        (ACME_PROJECT, ACME_ORG, ACME_PROJECT, PRINCIPALS["editor"].user_id, ACME_PROJECT),
    )
    stored = db.execute(
        "select changed_by_name, row_hash from public.change_history order by id desc limit 1"
    ).fetchone()
    assert stored == ("Eddie Editor", "a" * 64)


def test_the_chain_head_follows_the_named_row(db: psycopg.Connection) -> None:
    tess = new_member(db, "tess@acme.test", "Tess Tester", "editor")
    for title in ("One", "Two", "Three"):
        create_item(db, tess, title)
    head, tail = db.execute(
        "select h.last_hash, c.row_hash from private.history_chain_heads as h"
        " join public.change_history as c on c.scope = h.scope and c.scope_id = h.scope_id and c.chain_seq = h.last_seq"
        " where h.scope = 'project' and h.scope_id = %s",
        (ACME_PROJECT,),
    ).fetchone()
    assert head == tail


def test_concurrent_writers_keep_a_named_chain_intact(db_url: str, db: psycopg.Connection) -> None:
    people = [new_member(db, f"p{i}@acme.test", f"Person {i}", "editor") for i in range(4)]

    def write_as(person: Principal) -> None:
        with psycopg.connect(db_url) as conn:
            act_as(conn, person)
            rpc(conn, "atoms_create_item", project_id=ACME_PROJECT, type="note", title=f"by {person.email}")

    with ThreadPoolExecutor(max_workers=len(people)) as pool:
        list(pool.map(write_as, people))
    assert chain_intact(db)["intact"] is True
    stamped = db.execute(
        "select changed_by_name, changed_by_email from public.change_history where new_values ->> 'title' like 'by %%'"
    ).fetchall()
    assert sorted(stamped) == [(f"Person {i}", f"p{i}@acme.test") for i in range(4)]


# ---- rows written before names were recorded ----


@pytest.fixture
def pre_people_database(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A database migrated and seeded without this feature's migrations, and a folder holding all of them."""
    older = tmp_path / "supabase"
    shutil.copytree(SUPABASE_DIR, older)
    for path in (older / "migrations").glob(f"{PEOPLE_MIGRATIONS}*.sql"):
        path.unlink()
    name = f"atoms_people_{uuid.uuid4().hex[:10]}"
    url = make_conninfo(TEST_SERVER_URL, dbname=name)
    migrations.create_database(url)
    try:
        migrations.migrate(url, older, with_seed=True)
        yield url, SUPABASE_DIR
    finally:
        with psycopg.connect(make_conninfo(TEST_SERVER_URL, dbname="postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def test_rows_written_before_names_were_recorded_still_verify(pre_people_database: tuple[str, Path]) -> None:
    url, full = pre_people_database
    with psycopg.connect(url, autocommit=True) as conn:
        old_rows = conn.execute("select count(*) from public.change_history").fetchone()[0]
        acme_rows = conn.execute(
            "select count(*) from public.change_history where scope = 'project' and scope_id = %s", (ACME_PROJECT,)
        ).fetchone()[0]
        assert acme_rows > 0
        migrations.migrate(url, full, with_seed=False)
        unnamed = conn.execute("select count(*) from public.change_history where changed_by_name is null").fetchone()[0]
        assert unnamed == old_rows, "rows written before keep their form (no name)"
        assert conn.execute("select count(*) from public.profiles").fetchone()[0] == 7, "accounts backfilled"
        assert chain_intact(conn) == {"intact": True, "checked_rows": acme_rows, "first_broken": None}

        create_item(conn, PRINCIPALS["editor"], "Written after names were recorded")
        newest = conn.execute(
            "select changed_by_name, changed_by_email from public.change_history order by id desc limit 1"
        ).fetchone()
        assert newest == ("Eddie Editor", "editor@acme.test")
        assert chain_intact(conn) == {"intact": True, "checked_rows": acme_rows + 1, "first_broken": None}
        with as_principal(conn, PRINCIPALS["viewer"]):
            seen = {r[0] for r in conn.execute("select email from public.profiles")}
        assert "editor@acme.test" in seen and "admin@globex.test" not in seen


FORGED_WRITE = """
do $$
declare
  entry public.change_history;
begin
  select h.last_seq + 1, h.last_hash into entry.chain_seq, entry.prev_hash
  from private.history_chain_heads as h where h.scope = 'project' and h.scope_id = '{project}' for update;
  entry.scope := 'project';
  entry.scope_id := '{project}';
  entry.org_id := '{org}';
  entry.project_id := '{project}';
  entry.event_type := 'updated';
  entry.changed_by := '{user}';
  entry.changed_by_name := 'Forged Name';
  entry.changed_by_email := 'forged@example.test';
  entry.changed_at := clock_timestamp();
  entry.actor := 'user';
  entry.fields_changed := '{{}}';
  entry.hash_version := 1;
  entry.id := nextval(pg_get_serial_sequence('public.change_history', 'id')::regclass);
  entry.row_hash := private.history_row_hash(entry.prev_hash, entry);
  insert into public.change_history overriding system value select (entry).*;
  update private.history_chain_heads set last_seq = entry.chain_seq, last_hash = entry.row_hash
  where scope = 'project' and scope_id = '{project}';
end
$$
"""


def test_a_writer_cannot_put_another_name_in_the_record(db: psycopg.Connection) -> None:
    editor = PRINCIPALS["editor"]
    db.execute(FORGED_WRITE.format(project=ACME_PROJECT, org=ACME_ORG, user=editor.user_id))
    stored = db.execute(
        "select changed_by_name, changed_by_email from public.change_history order by id desc limit 1"
    ).fetchone()
    assert stored == ("Eddie Editor", "editor@acme.test"), "the profile is the only source of a name"
    assert chain_intact(db)["intact"] is True, "the row was re-hashed with the names it now holds"

    result = db.execute(
        "insert into public.test_results (org_id, project_id, item_id, result, recorded_by, recorded_by_name,"
        " recorded_by_email) select org_id, project_id, id, 'passed', %s, 'Forged', 'forged@example.test'"
        " from public.items where project_id = %s and key = 'TC-001' returning recorded_by_name, recorded_by_email",
        (editor.user_id, ACME_PROJECT),
    ).fetchone()
    assert result == ("Eddie Editor", "editor@acme.test")
