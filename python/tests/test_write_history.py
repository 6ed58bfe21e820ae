"""Change history: the actor is decided by the login role, the log is append-only for everyone, the hash chain
verifies on the seed and names the first tampered row; physical DELETE and TRUNCATE are refused for every role."""

from __future__ import annotations

import json

import psycopg
import pytest

from principals import ACME_PROJECT, GLOBEX_PROJECT, PRINCIPALS, act_as, as_principal
from writepath import last_history, raises_sqlstate, rpc

P = ACME_PROJECT
EDITOR = PRINCIPALS["editor"]
VIEWER = PRINCIPALS["viewer"]
PROTECTED_TABLES = (
    "public.items",
    "public.item_links",
    "public.test_results",
    "public.change_history",
    "private.history_chain_heads",
)


def verify(conn: psycopg.Connection) -> dict[str, object]:
    with as_principal(conn, VIEWER):
        return rpc(conn, "atoms_verify_history", project_id=P)


def gateway_call(db_url: str, actor: str | None, tool: str, **args: object) -> dict[str, object]:
    """Log in as atoms_mcp_gateway, take on the editor like the MCP server does, call, return the history row."""
    with psycopg.connect(db_url, user="atoms_mcp_gateway") as conn, conn.transaction(force_rollback=True):
        conn.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true),"
            " set_config('atoms.session_id', %s, true), set_config('atoms.client_name', %s, true)",
            (json.dumps(EDITOR.claims), "sess-42\x01", "Claude Desktop"),
        )
        if actor is not None:
            conn.execute("select set_config('atoms.actor', %s, true)", (actor,))
        rpc(conn, tool, **args)
        row = conn.execute(
            "select actor, session_id, client_name, changed_by::text from public.change_history"
            " where project_id = %s order by chain_seq desc limit 1",
            (P,),
        ).fetchone()
        return dict(zip(("actor", "session_id", "client_name", "changed_by"), row, strict=True))


def test_the_seeded_chains_verify(db: psycopg.Connection) -> None:
    assert verify(db) == {"intact": True, "checked_rows": 41, "first_broken": None}
    with as_principal(db, PRINCIPALS["other_org_admin"]):
        assert rpc(db, "atoms_verify_history", project_id=GLOBEX_PROJECT)["intact"] is True
    assert db.execute("select private.history_chain_intact('project', %s)", (P,)).fetchone()[0] is True


def test_a_web_session_is_a_user_even_when_it_claims_to_be_an_ai(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        conn.execute(
            "select set_config('atoms.actor', 'mcp_claude', true), set_config('atoms.session_id', 'forged', true)"
        )
        rpc(conn, "atoms_create_item", project_id=P, type="note", title="from the web")
        row = last_history(conn)[0]
        assert (row["actor"], row["session_id"], row["client_name"]) == ("user", None, None)
        assert row["changed_by"] == EDITOR.user_id


def test_the_gateway_records_its_mcp_actor_session_and_client(db: psycopg.Connection, db_url: str) -> None:
    row = gateway_call(db_url, "mcp_claude", "atoms_create_item", project_id=P, type="note", title="from claude")
    assert row == {
        "actor": "mcp_claude",
        "session_id": "sess-42",
        "client_name": "Claude Desktop",
        "changed_by": EDITOR.user_id,
    }
    result = gateway_call(
        db_url, "mcp_cursor", "atoms_record_test_result", project_id=P, item_id="TC-001", result="passed"
    )
    assert result["actor"] == "mcp_cursor"


@pytest.mark.parametrize("actor", [None, "user", "MCP_CLAUDE", "mcp_", "claude", "mcp_" + "x" * 41])
def test_the_gateway_without_a_valid_actor_is_mcp_other_never_a_user(db_url: str, actor: str | None) -> None:
    row = gateway_call(db_url, actor, "atoms_update_item", project_id=P, item_id="REQ-001", title="gateway edit")
    assert row["actor"] == "mcp_other"


def test_test_results_carry_the_actor_too(db_url: str) -> None:
    with psycopg.connect(db_url, user="atoms_mcp_gateway") as conn, conn.transaction(force_rollback=True):
        act_as(conn, EDITOR)
        conn.execute("select set_config('atoms.actor', 'mcp_claude', true)")
        rpc(conn, "atoms_record_test_result", project_id=P, item_id="TC-002", result="failed")
        actor = conn.execute("select actor from public.test_results order by recorded_at desc limit 1").fetchone()[0]
        assert actor == "mcp_claude"


def test_every_event_type_is_chained_in_order(db: psycopg.Connection) -> None:
    with db.transaction():
        act_as(db, PRINCIPALS["admin"])
        rpc(db, "atoms_create_item", project_id=P, type="requirement", title="r", parent_ids=["REQ-001"])
        rpc(db, "atoms_update_item", project_id=P, item_id="REQ-009", summary="changed")
        rpc(db, "atoms_link_items", project_id=P, from_id="REQ-009", to_id="REQ-001", type="parent", action="remove")
        rpc(db, "atoms_record_test_result", project_id=P, item_id="TC-001", result="passed")
        rpc(db, "atoms_delete_item", project_id=P, item_id="REQ-009")
        rpc(db, "atoms_restore_item", project_id=P, item_id="REQ-009")
    rows = last_history(db, 7)[::-1]
    assert [r["event_type"] for r in rows] == [
        "created",
        "linked",
        "updated",
        "unlinked",
        "test_recorded",
        "deleted",
        "restored",
    ]
    assert [r["chain_seq"] for r in rows] == list(range(42, 49))
    assert all(b["prev_hash"] == a["row_hash"] for a, b in zip(rows, rows[1:], strict=False))
    assert all(a["changed_at"] <= b["changed_at"] for a, b in zip(rows, rows[1:], strict=False))
    assert verify(db) == {"intact": True, "checked_rows": 48, "first_broken": None}


def test_the_row_hash_does_not_depend_on_the_session_time_zone(db: psycopg.Connection) -> None:
    query = """select private.history_row_hash(h.prev_hash, h), h.row_hash from public.change_history as h
               where h.project_id = %s and h.chain_seq = 5"""
    db.execute("set timezone = 'UTC'")
    utc, stored = db.execute(query, (P,)).fetchone()
    db.execute("set timezone = 'Pacific/Chatham'")
    assert db.execute(query, (P,)).fetchone() == (utc, stored)
    assert utc == stored and len(utc) == 64
    assert verify(db)["intact"] is True


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        ('update public.change_history set new_values = \'{"title": "forged"}\' where {row}', "row_hash"),
        ("update public.change_history set changed_by = null where {row}", "row_hash"),
        ("update public.change_history set row_hash = repeat('a', 64) where {row}", "row_hash"),
        ("delete from public.change_history where {row}", "gap"),
    ],
)
def test_tampering_is_detected_at_exactly_that_row(db: psycopg.Connection, tamper: str, reason: str) -> None:
    target = db.execute("select id from public.change_history where project_id = %s and chain_seq = 17", (P,))
    target_id = target.fetchone()[0]
    db.execute("set session_replication_role = replica")
    db.execute(tamper.replace("{row}", f"id = {int(target_id)}"))
    db.execute("set session_replication_role = origin")
    out = verify(db)
    assert out["intact"] is False
    broken = out["first_broken"]
    if reason == "gap":  # the row after the removed one is the first link that no longer fits
        assert broken["chain_seq"] == 18 and "gap" in broken["reason"]
    else:
        assert (broken["chain_seq"], broken["id"]) == (17, target_id) and reason in broken["reason"]
    assert db.execute("select private.history_chain_intact('project', %s)", (P,)).fetchone()[0] is False
    assert (
        db.execute("select private.history_chain_intact('project', %s)", (GLOBEX_PROJECT,)).fetchone()[0] is True
    )  # per project


def test_removing_the_tail_of_the_chain_is_detected(db: psycopg.Connection) -> None:
    db.execute("set session_replication_role = replica")
    db.execute("delete from public.change_history where project_id = %s and chain_seq = 41", (P,))
    db.execute("set session_replication_role = origin")
    out = verify(db)
    assert out["intact"] is False and out["first_broken"]["chain_seq"] == 41
    assert "missing at the end" in out["first_broken"]["reason"]


def test_history_is_append_only_for_every_role(db: psycopg.Connection) -> None:
    with raises_sqlstate(db, "42501") as info:
        db.execute("update public.change_history set actor = 'mcp_claude' where project_id = %s", (P,))
    assert "append-only" in str(info.value)
    for principal in (EDITOR, PRINCIPALS["admin"], PRINCIPALS["service_role"]):
        with as_principal(db, principal) as conn:
            for statement in (
                "update public.change_history set actor = 'user'",
                "insert into public.change_history (org_id, project_id, event_type, actor, chain_seq, prev_hash,"
                " row_hash) values ('a0000000-0000-4000-8000-000000000001', "
                f"'{P}', 'created', 'user', 999, '', '')",
                "update public.test_results set note = 'rewritten'",
                f"insert into private.history_chain_heads values ('project', '{P}', 1, repeat('0', 64))",
            ):
                with raises_sqlstate(conn, "42501"):
                    conn.execute(statement)
    with raises_sqlstate(db, "42501"):
        db.execute("update public.test_results set note = 'rewritten'")


@pytest.mark.parametrize("table", PROTECTED_TABLES)
def test_physical_delete_and_truncate_are_refused_for_every_role(db: psycopg.Connection, table: str) -> None:
    for principal in (EDITOR, PRINCIPALS["admin"], PRINCIPALS["service_role"], None):
        with db.transaction(force_rollback=True):
            if principal is not None:
                act_as(db, principal)
            for statement in (f"delete from {table}", f"truncate {table} cascade"):
                with raises_sqlstate(db, "42501") as info:
                    db.execute(statement)
                if principal is None:  # the table owner (superuser): the trigger, not a missing grant, refuses
                    assert "is not allowed" in str(info.value)
    assert db.execute(f"select count(*) from {table}").fetchone()[0] > 0


def test_the_chain_head_is_readable_by_members_only(db: psycopg.Connection) -> None:
    with as_principal(db, VIEWER) as conn:
        assert conn.execute("select last_seq from private.history_chain_heads").fetchall() == [(41,)]
    with as_principal(db, PRINCIPALS["non_member"]) as conn:
        assert conn.execute("select count(*) from private.history_chain_heads").fetchone()[0] == 0


def test_only_the_definer_triggers_can_append_history(db: psycopg.Connection) -> None:
    triggers = ("private.record_item_change()", "private.record_link_change()", "private.record_test_result_change()")
    for role in ("authenticated", "service_role", "atoms_rpc_owner", "atoms_mcp_gateway"):
        privileges = db.execute(
            "select has_table_privilege(%s, 'public.change_history', 'insert'),"
            " has_function_privilege(%s, 'private.append_history(uuid, uuid, uuid, public.history_event_type, text[],"
            " jsonb, jsonb)', 'execute')",
            (role, role),
        ).fetchone()
        assert privileges == (False, False), role
        for trigger in triggers:
            assert (
                db.execute("select has_function_privilege(%s, %s, 'execute')", (role, trigger)).fetchone()[0] is False
            )
    for trigger in triggers:
        definer = db.execute("select prosecdef from pg_proc where oid = %s::regprocedure", (trigger,))
        assert definer.fetchone()[0] is True, trigger
