"""Item writes: create (with parents), update only what is given, soft delete, restore, test results, keys."""

from __future__ import annotations

import psycopg

from principals import ACME_PROJECT, PRINCIPALS, act_as, as_principal
from writepath import counts, item, last_history, raises_sqlstate, rpc

P = ACME_PROJECT
EDITOR = PRINCIPALS["editor"]
ADMIN = PRINCIPALS["admin"]


def test_create_returns_the_documented_shape_and_links_parents_in_the_same_transaction(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        created = rpc(
            conn,
            "atoms_create_item",
            project_id=P,
            type="requirement",
            title="Brake light",
            summary="s",
            body="b",
            domains=["Safety ", "HMI", "safety"],
            level="Component",
            parent_ids=["REQ-001", "REQ-006", "REQ-001"],
        )
        assert created == {"id": "REQ-009", "type": "requirement", "title": "Brake light", "project_id": P}
        row = item(conn, "REQ-009")
        assert (row["domains"], row["level"], row["created_by"]) == (["safety", "hmi"], "Component", EDITOR.user_id)
        parents = conn.execute(
            """select s.key from public.item_links l join public.items s on s.id = l.source_item_id
               where l.target_item_id = %s and l.link_kind = 'hierarchy' order by 1""",
            (row["id"],),
        ).fetchall()
        assert parents == [("REQ-001",), ("REQ-006",)]
        events = [h["event_type"] for h in last_history(conn, 3)]
        assert events == ["linked", "linked", "created"]


def test_create_with_a_missing_or_deleted_parent_writes_nothing(db: psycopg.Connection) -> None:
    before = counts(db)
    with as_principal(db, EDITOR) as conn:
        with raises_sqlstate(conn, "PT404") as info:
            rpc(conn, "atoms_create_item", project_id=P, type="note", title="t", parent_ids=["REQ-001", "REQ-999"])
        assert "REQ-999" in str(info.value)
        rpc(conn, "atoms_delete_item", project_id=P, item_id="REQ-008", force=True, reason="superseded")
        with raises_sqlstate(conn, "PT404") as info:
            rpc(conn, "atoms_create_item", project_id=P, type="note", title="t", parent_ids=["REQ-008"])
        assert "deleted" in str(info.value)
    assert counts(db) == before


def test_keys_are_per_type_and_padded_to_three_digits_without_truncation(db: psycopg.Connection) -> None:
    db.execute(
        "update private.item_key_counters set last_number = 998 where project_id = %s and item_type = 'requirement'",
        (P,),
    )
    with as_principal(db, EDITOR) as conn:
        keys = [rpc(conn, "atoms_create_item", project_id=P, type="requirement", title=f"r{i}")["id"] for i in range(3)]
        assert keys == ["REQ-999", "REQ-1000", "REQ-1001"]
        assert rpc(conn, "atoms_create_item", project_id=P, type="test-case", title="t")["id"] == "TC-009"
        assert rpc(conn, "atoms_create_item", project_id=P, type="note", title="n")["id"] == "NOTE-005"


def test_deleted_keys_are_never_reused(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        first = rpc(conn, "atoms_create_item", project_id=P, type="note", title="a")["id"]
        rpc(conn, "atoms_delete_item", project_id=P, item_id=first)
        assert rpc(conn, "atoms_create_item", project_id=P, type="note", title="b")["id"] != first


def test_update_changes_only_the_given_fields_and_records_old_and_new_values(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        before = item(conn, "REQ-002")
        out = rpc(conn, "atoms_update_item", project_id=P, item_id="REQ-002", title="New title", domains=["X"])
        assert out == {
            "id": "REQ-002",
            "title": "New title",
            "type": "requirement",
            "updated_fields": ["title", "domains"],
        }
        after = item(conn, "REQ-002")
        assert (after["body"], after["summary"], after["level"]) == (before["body"], before["summary"], before["level"])
        assert after["domains"] == ["x"] and after["updated_by"] == EDITOR.user_id
        # The title change also made REQ-002's link to its child REQ-007 and TC-002's verification link suspect.
        *marked, event = last_history(conn, 3)
        assert [e["event_type"] for e in marked] == ["suspect_marked", "suspect_marked"]
        assert event["event_type"] == "updated" and event["fields_changed"] == ["title", "domains"]
        assert event["old_values"] == {"title": before["title"], "domains": before["domains"]}
        assert event["new_values"] == {"title": "New title", "domains": ["x"]}
        assert event["changed_by"] == EDITOR.user_id and event["actor"] == "user"


def test_update_with_nothing_given_is_a_validation_error(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn, raises_sqlstate(conn, "22023") as info:
        rpc(conn, "atoms_update_item", project_id=P, item_id="REQ-001")
    assert "nothing to update" in str(info.value)


def test_status_records_a_test_result_for_test_cases_only(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        out = rpc(conn, "atoms_update_item", project_id=P, item_id="TC-007", status="failed")
        assert out["updated_fields"] == ["status"]
        result = conn.execute(
            "select r.result, r.recorded_by::text from public.test_results r join public.items i on i.id = r.item_id "
            "where i.key = 'TC-007' and i.project_id = %s",
            (P,),
        ).fetchall()
        assert result == [("failed", EDITOR.user_id)]
        assert last_history(conn)[0]["event_type"] == "test_recorded"
        with raises_sqlstate(conn, "22023") as info:
            rpc(conn, "atoms_update_item", project_id=P, item_id="REQ-001", status="passed")
        assert "test cases only" in str(info.value)


def test_updating_or_deleting_a_deleted_item_is_not_found(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        out = rpc(conn, "atoms_delete_item", project_id=P, item_id="REQ-004", force=True, reason="lamp dropped")
        assert out == {
            "id": "REQ-004",
            "title": "Fault indicator lamp",
            "type": "requirement",
            "deleted": True,
            "message": "Item REQ-004 has been soft-deleted",
            "reason": "lamp dropped",
            "impact": {
                "id": "REQ-004",
                "children": [],
                "parents": ["REQ-008"],
                "verified_by": ["TC-004"],
                "verifies": [],
                "related": [],
                "link_count": 2,
                "requirements_losing_coverage": [],
            },
        }
        row = item(conn, "REQ-004")
        assert row["deleted_at"] is not None and row["deleted_by"] == EDITOR.user_id
        for tool, extra in (("atoms_update_item", {"title": "x"}), ("atoms_delete_item", {})):
            with raises_sqlstate(conn, "PT404"):
                rpc(conn, tool, project_id=P, item_id="REQ-004", **extra)
        with raises_sqlstate(conn, "PT404"):
            rpc(conn, "atoms_record_test_result", project_id=P, item_id="REQ-404", result="passed")


def test_restore_undoes_a_soft_delete_and_is_logged(db: psycopg.Connection) -> None:
    with as_principal(db, ADMIN) as conn:
        rpc(conn, "atoms_delete_item", project_id=P, item_id="TC-003", force=True, reason="rewritten")
        out = rpc(conn, "atoms_restore_item", project_id=P, item_id="TC-003")
        assert out["restored"] is True and out["message"] == "Item TC-003 has been restored"
        assert item(conn, "TC-003")["deleted_at"] is None
        assert [h["event_type"] for h in last_history(conn, 2)] == ["restored", "deleted"]
        with raises_sqlstate(conn, "PT409"):
            rpc(conn, "atoms_restore_item", project_id=P, item_id="TC-003")
        with raises_sqlstate(conn, "PT404"):
            rpc(conn, "atoms_restore_item", project_id=P, item_id="TC-999")


def test_record_test_result_returns_the_run_and_refuses_non_test_cases(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        out = rpc(conn, "atoms_record_test_result", project_id=P, item_id="TC-008", result="blocked", note="rig down")
        assert {k: out[k] for k in ("item_id", "result", "run_by", "note", "message")} == {
            "item_id": "TC-008",
            "result": "blocked",
            "run_by": EDITOR.user_id,
            "note": "rig down",
            "message": "Test result recorded for TC-008",
        }
        assert out["run_at"]
        event = last_history(conn)[0]
        assert event["event_type"] == "test_recorded" and event["new_values"]["result"] == "blocked"
        with raises_sqlstate(conn, "22023"):
            rpc(conn, "atoms_record_test_result", project_id=P, item_id="REQ-001", result="passed")


def test_writes_touch_the_project_updated_at(db: psycopg.Connection) -> None:
    before = db.execute("select updated_at from public.projects where id = %s", (P,)).fetchone()[0]
    with db.transaction():
        act_as(db, EDITOR)
        rpc(db, "atoms_create_item", project_id=P, type="note", title="touch")
    after = db.execute("select updated_at from public.projects where id = %s", (P,)).fetchone()[0]
    assert after > before
