"""Composable, versioned history: chains keyed by (scope, scope_id), row_hash = sha256(prev_hash || canonical row)
with the canonical row of hash_version 1 (every column but id / prev_hash / row_hash, null columns left out,
timestamps in UTC). A column added later keeps old rows verifying and covers its new values; the session's time zone
changes nothing; one tampered row fails its own check and every later row's. The actor vocabulary is checked by the
database, and anything but `user` comes only from the MCP gateway's login."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import psycopg
import pytest

from atoms_mcp.database import migrations
from conftest import SUPABASE_DIR
from principals import ACME_PROJECT, GLOBEX_PROJECT, PRINCIPALS, as_principal
from test_write_history import gateway_call
from writepath import raises_sqlstate, rpc

P = ACME_PROJECT
EDITOR = PRINCIPALS["editor"]
VIEWER = PRINCIPALS["viewer"]

# Appends one row to the Acme project's chain as the write path does (next position after the head, hash over the
# whole row), with one extra column set: how a later migration's writer would fill a column it added.
APPEND_WITH_REASON = """
do $$
declare
  entry public.change_history;
begin
  select h.* into entry from public.change_history as h
  where h.scope = 'project' and h.scope_id = '{project}'
  order by h.chain_seq desc limit 1;
  select c.last_seq + 1, c.last_hash into entry.chain_seq, entry.prev_hash
  from private.history_chain_heads as c where c.scope = 'project' and c.scope_id = '{project}' for update;
  entry.id := nextval(pg_get_serial_sequence('public.change_history', 'id')::regclass);
  entry.event_type := 'updated';
  entry.changed_at := clock_timestamp();
  entry.review_ref := 'safety review SR-7';
  entry.row_hash := private.history_row_hash(entry.prev_hash, entry);
  insert into public.change_history overriding system value select (entry).*;
  update private.history_chain_heads set last_seq = entry.chain_seq, last_hash = entry.row_hash
  where scope = 'project' and scope_id = '{project}';
end
$$
"""


def verify(conn: psycopg.Connection, project: str = P) -> dict[str, object]:
    with as_principal(conn, VIEWER if project == P else PRINCIPALS["other_org_admin"]):
        return rpc(conn, "atoms_verify_history", project_id=project)


def stored_hashes(conn: psycopg.Connection) -> list[tuple[int, str]]:
    return conn.execute(
        "select chain_seq, row_hash from public.change_history where scope = 'project' and scope_id = %s"
        " order by chain_seq",
        (P,),
    ).fetchall()


def checks(conn: psycopg.Connection) -> list[tuple[int, str | None]]:
    return conn.execute(
        "select chain_seq, reason from private.history_chain_checks('project', %s) order by chain_seq", (P,)
    ).fetchall()


def test_every_seeded_row_is_hash_version_1_keyed_by_its_project_or_organisation(db: psycopg.Connection) -> None:
    rows = db.execute(
        "select distinct scope::text, scope_id = coalesce(project_id, org_id), project_id is null, hash_version"
        " from public.change_history order by 1"
    ).fetchall()
    # Item history in each project's chain; organisations, members, invitations and projects in each organisation's.
    assert rows == [("org", True, True, 1), ("project", True, False, 1)]
    canonical = db.execute(
        "select private.history_canonical_v1(h) from public.change_history as h where h.scope_id = %s"
        " and h.chain_seq = 1",
        (P,),
    ).fetchone()[0]
    keys = set(json.loads(canonical))
    assert {"scope", "scope_id", "hash_version", "chain_seq", "changed_at", "new_values"} <= keys
    assert not keys & {"id", "prev_hash", "row_hash", "session_id", "old_values"}, "no id, no hashes, no nulls"


def test_a_column_added_later_keeps_old_rows_verifying_and_covers_its_values(
    db: psycopg.Connection, db_url: str, tmp_path: Path
) -> None:
    before = stored_hashes(db)
    scratch = tmp_path / "supabase"
    shutil.copytree(SUPABASE_DIR, scratch)
    (scratch / "migrations" / "29991231000000_history_review_ref.sql").write_text(
        "-- A later column of the history: nullable, no default.\n"
        "alter table public.change_history add column review_ref text;\n",
        encoding="utf-8",
    )
    assert migrations.migrate(db_url, scratch, with_seed=False) == ["29991231000000"]

    assert verify(db) == {"intact": True, "checked_rows": len(before), "first_broken": None}
    recomputed = db.execute(
        "select chain_seq, private.history_row_hash(prev_hash, h) from public.change_history as h"
        " where scope = 'project' and scope_id = %s order by chain_seq",
        (P,),
    ).fetchall()
    assert recomputed == before, "old rows hash exactly as before the column existed"

    with as_principal(db, EDITOR) as conn:  # the write path keeps working and stays verifiable (rolled back)
        rpc(conn, "atoms_update_item", project_id=P, item_id="REQ-001", title="after the new column")
        # The update and the suspect_marked rows of REQ-001's two child links and two verification links.
        assert rpc(conn, "atoms_verify_history", project_id=P)["checked_rows"] == len(before) + 5
        assert rpc(conn, "atoms_verify_history", project_id=P)["intact"] is True
    db.execute(APPEND_WITH_REASON.format(project=P))
    newest = db.execute(
        "select chain_seq, review_ref, private.history_canonical_v1(h) from public.change_history as h"
        " where scope_id = %s order by chain_seq desc limit 1",
        (P,),
    ).fetchone()
    assert newest[1] == "safety review SR-7" and '"review_ref": "safety review SR-7"' in newest[2]
    assert verify(db) == {"intact": True, "checked_rows": len(before) + 1, "first_broken": None}

    db.execute("set session_replication_role = replica")
    db.execute(
        "update public.change_history set review_ref = 'no review' where scope_id = %s and chain_seq = %s",
        (P, newest[0]),
    )
    db.execute("set session_replication_role = origin")
    broken = verify(db)["first_broken"]
    assert broken["chain_seq"] == newest[0] and "row_hash" in broken["reason"], "the new column is covered"


def test_a_session_in_another_time_zone_verifies_the_same_chain(db: psycopg.Connection) -> None:
    db.execute("set timezone = 'America/Los_Angeles'")
    db.execute("select set_config('request.jwt.claims', %s, false)", (json.dumps(EDITOR.claims),))
    rpc(db, "atoms_update_item", project_id=P, item_id="REQ-002", summary="written at UTC-8")  # committed
    db.execute("select set_config('request.jwt.claims', '', false)")
    written = db.execute(
        "select private.history_canonical_v1(h) from public.change_history as h where scope_id = %s"
        " order by chain_seq desc limit 1",
        (P,),
    ).fetchone()[0]
    assert "+00:00" in written and "-08:00" not in written and "-07:00" not in written

    verdicts = []
    expected = []
    for zone in ("Asia/Kathmandu", "UTC", "Pacific/Chatham", "America/St_Johns"):
        db.execute(f"set timezone = '{zone}'")
        verdicts.append(verify(db))
        expected.append(
            db.execute(
                "select array_agg(expected_hash order by chain_seq) from private.history_chain_checks('project', %s)",
                (P,),
            ).fetchone()[0]
        )
    # 41 seed rows, the update and the two suspect_marked rows it writes (REQ-002's child link and its test's link).
    assert all(v == {"intact": True, "checked_rows": 44, "first_broken": None} for v in verdicts)
    assert all(e == expected[0] for e in expected)
    assert expected[0] == [h for _, h in stored_hashes(db)]


@pytest.mark.parametrize(
    "tamper",
    [
        'update public.change_history set new_values = new_values || \'{"title": "forged"}\' where {row}',
        "update public.change_history set actor = 'mcp_claude' where {row}",
        "update public.change_history set changed_at = changed_at + interval '1 microsecond' where {row}",
        "update public.change_history set old_values = '{\"title\": null}' where {row}",
    ],
    ids=["new_values", "actor", "changed_at", "null inside old_values"],
)
def test_tampering_with_one_row_breaks_its_check_and_every_later_rows(db: psycopg.Connection, tamper: str) -> None:
    assert all(reason is None for _, reason in checks(db))
    db.execute("set session_replication_role = replica")
    db.execute(tamper.replace("{row}", f"scope_id = '{P}' and chain_seq = 17"))
    db.execute("set session_replication_role = origin")
    result = checks(db)
    assert [seq for seq, reason in result if reason is None] == list(range(1, 17))
    assert [seq for seq, reason in result if reason is not None] == list(range(17, 42))
    assert "row_hash" in result[16][1] and all("prev_hash" in reason for _, reason in result[17:])
    assert verify(db)["first_broken"]["chain_seq"] == 17
    assert verify(db, GLOBEX_PROJECT)["intact"] is True, "chains are independent"


def test_rewriting_every_later_hash_is_caught_by_the_chain_head(db: psycopg.Connection) -> None:
    db.execute("set session_replication_role = replica")
    db.execute(
        'update public.change_history set new_values = \'{"title": "forged"}\' where scope_id = %s and chain_seq = 40',
        (P,),
    )
    # The forger recomputes row 40 and 41 in order; only the chain head (not rewritable by anyone) still disagrees.
    for seq in (40, 41):
        db.execute(
            "update public.change_history as h set prev_hash = coalesce(p.row_hash, h.prev_hash),"
            " row_hash = private.history_row_hash(coalesce(p.row_hash, h.prev_hash), h)"
            " from public.change_history as p where h.scope_id = %s and h.chain_seq = %s"
            " and p.scope_id = h.scope_id and p.chain_seq = h.chain_seq - 1",
            (P, seq),
        )
    db.execute("set session_replication_role = origin")
    assert all(reason is None for _, reason in checks(db))
    broken = verify(db)["first_broken"]
    assert broken["chain_seq"] == 42 and "missing at the end" in broken["reason"]


def test_an_unknown_hash_version_is_named_not_trusted(db: psycopg.Connection) -> None:
    db.execute("set session_replication_role = replica")
    db.execute("update public.change_history set hash_version = 9 where scope_id = %s and chain_seq = 30", (P,))
    db.execute("set session_replication_role = origin")
    broken = verify(db)["first_broken"]
    assert broken["chain_seq"] == 30 and "hash_version 9" in broken["reason"]


def test_chains_are_keyed_by_scope_and_scope_id(db: psycopg.Connection) -> None:
    heads = db.execute(
        "select scope::text, scope_id::text, last_seq from private.history_chain_heads order by scope_id"
    ).fetchall()
    assert ("project", P, 41) in heads and {scope for scope, _, _ in heads} == {"project", "org"}
    assert db.execute("select enum_range(null::public.history_scope)::text").fetchone()[0] == "{project,org,audit}"
    with raises_sqlstate(db, "23514"):  # a project row must name its own project as the chain owner
        db.execute(
            "insert into public.change_history (scope, scope_id, org_id, project_id, event_type, actor, hash_version,"
            " chain_seq, prev_hash, row_hash) values ('project', %s, 'a0000000-0000-4000-8000-000000000001', %s,"
            " 'created', 'user', 1, 1, repeat('0', 64), repeat('0', 64))",
            (GLOBEX_PROJECT, P),
        )


def test_event_types_and_audit_statuses_are_enums(db: psycopg.Connection) -> None:
    types = db.execute(
        "select attname, atttypid::regtype::text from pg_attribute where attrelid in"
        " ('public.change_history'::regclass, 'public.mcp_audit_log'::regclass)"
        " and attname in ('event_type', 'status', 'actor', 'scope') order by attrelid, attname"
    ).fetchall()
    assert types == [
        ("actor", "actor_tag"),
        ("event_type", "history_event_type"),
        ("scope", "history_scope"),
        ("actor", "actor_tag"),
        ("status", "mcp_call_status"),
    ]


# ---- the actor vocabulary ----


@pytest.mark.parametrize("actor", ["user", "cli", "mcp_claude", "mcp_ci_bot_7", "import:reqif", "import:csv"])
def test_the_actor_vocabulary_accepts(db: psycopg.Connection, actor: str) -> None:
    assert db.execute("select private.is_actor(%s), %s::public.actor_tag::text", (actor, actor)).fetchone() == (
        True,
        actor,
    )


@pytest.mark.parametrize(
    "actor", ["", "User", "CLI", "mcp_", "mcp_Claude", "mcp_" + "x" * 41, "import:", "import:ReqIF", "robot", "cli "]
)
def test_the_actor_vocabulary_refuses(db: psycopg.Connection, actor: str) -> None:
    assert db.execute("select private.is_actor(%s)", (actor,)).fetchone()[0] is False
    with raises_sqlstate(db, "23514"):
        db.execute("select %s::public.actor_tag", (actor,))


@pytest.mark.parametrize("actor", ["cli", "import:reqif", "mcp_cursor"])
def test_the_gateway_may_record_any_actor_of_the_vocabulary(db_url: str, actor: str) -> None:
    row = gateway_call(db_url, actor, "atoms_update_item", project_id=P, item_id="REQ-001", title="via the gateway")
    assert row["actor"] == actor


def test_a_login_other_than_the_gateway_cannot_record_another_actor(db: psycopg.Connection) -> None:
    """A role that may insert rows directly (here a throwaway login with INSERT and BYPASSRLS) is still refused any
    actor but user: the trigger checks the login (session_user), which no SET ROLE changes."""
    values = (
        "insert into public.test_results (org_id, project_id, item_id, result, actor) select i.org_id, i.project_id,"
        " i.id, 'passed', %s from public.items as i where i.project_id = %s and i.key = 'TC-001'"
    )
    with db.transaction(force_rollback=True):
        db.execute("create role atoms_test_direct_writer login bypassrls")
        db.execute("grant insert, select on public.test_results, public.items to atoms_test_direct_writer")
        db.execute("grant usage on schema private to atoms_test_direct_writer")
        db.execute("grant execute on function private.is_actor(text) to atoms_test_direct_writer")
        db.execute("set local session authorization atoms_test_direct_writer")
        db.execute(values, ("user", P))
        for actor in ("cli", "mcp_claude", "import:reqif"):
            with raises_sqlstate(db, "42501") as refused:
                db.execute(values, (actor, P))
            assert "MCP gateway" in str(refused.value)
