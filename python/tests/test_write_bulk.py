"""Bulk import: items are independent, a bad item leaves nothing behind, >100 rejects the whole call."""

from __future__ import annotations

import psycopg

from principals import ACME_PROJECT, PRINCIPALS, act_as, as_principal
from writepath import counts, raises_sqlstate, rpc, superuser

P = ACME_PROJECT
EDITOR = PRINCIPALS["editor"]


def bulk(conn: psycopg.Connection, items: object) -> dict[str, object]:
    return rpc(conn, "atoms_bulk_import", project_id=P, items=items)


def test_good_items_are_created_and_bad_ones_reported_by_index(db: psycopg.Connection) -> None:
    before = counts(db)
    with db.transaction():
        act_as(db, EDITOR)
        out = bulk(
            db,
            [
                {"type": "requirement", "title": "Top", "domains": ["Safety"], "level": "System"},
                {"type": "requirement", "title": 5},
                {"type": "requirement", "title": "Child by index", "parent_id": "#0"},
                {"type": "requirement", "title": "Bad domains", "domains": "x"},
                {"type": "test-case", "title": "Child by key", "parent_id": "REQ-010"},
                {"type": "widget", "title": "Bad type"},
                {"type": "note", "title": "Missing parent", "parent_id": "REQ-999"},
                {"type": "note", "title": "Forward ref", "parent_id": "#8"},
                "not an object",
                {"type": "note", "title": "x" * 501},
                {"type": "note", "title": "Unknown field", "colour": "red"},
                {"type": "note", "title": "ok", "body": "<b>kept</b>'; drop table public.items; --"},
            ],
        )
    assert out["created"] == 4
    assert out["items"] == [
        {"id": "REQ-009", "type": "requirement", "title": "Top"},
        {"id": "REQ-010", "type": "requirement", "title": "Child by index"},
        {"id": "TC-009", "type": "test-case", "title": "Child by key"},
        {"id": "NOTE-005", "type": "note", "title": "ok"},
    ]
    errors = {e["index"]: e for e in out["errors"]}
    assert sorted(errors) == [1, 3, 5, 6, 7, 8, 9, 10]
    assert errors[1]["title"] is None and "title must be a string" in errors[1]["error"]
    assert errors[3]["title"] == "Bad domains" and "domains" in errors[3]["error"]
    assert "type must be one of" in errors[5]["error"]
    assert "REQ-999" in errors[6]["error"]
    assert "earlier in this call" in errors[7]["error"]
    assert "JSON object" in errors[8]["error"]
    assert "1 to 500" in errors[9]["error"]
    assert "colour" in errors[10]["error"]
    # Only the four good items (plus their two parent links) reached the tables and the history.
    after = counts(db)
    assert after["public.items"] - before["public.items"] == 4
    assert after["public.item_links"] - before["public.item_links"] == 2
    assert after["public.change_history"] - before["public.change_history"] == 6
    body = db.execute("select body from public.items where project_id = %s and key = 'NOTE-005'", (P,)).fetchone()[0]
    assert body == "<b>kept</b>'; drop table public.items; --"


def test_parent_id_may_name_a_key_created_earlier_in_the_same_call(db: psycopg.Connection) -> None:
    # The call's items get REQ-009..REQ-012 in order, so item 2 can name item 1 (REQ-010) by its key.
    with as_principal(db, EDITOR) as conn:
        out = bulk(
            conn,
            [
                {"type": "requirement", "title": "a"},
                {"type": "requirement", "title": "b"},
                {"type": "requirement", "title": "c", "parent_id": "REQ-010"},
                {"type": "requirement", "title": "d", "parent_id": "REQ-001"},
            ],
        )
        assert out["created"] == 4 and out["errors"] == []
        with superuser(conn):
            parents = conn.execute(
                """select t.key, s.key from public.item_links l join public.items s on s.id = l.source_item_id
                   join public.items t on t.id = l.target_item_id
                   where l.project_id = %s and t.key in ('REQ-011', 'REQ-012') order by 1""",
                (P,),
            ).fetchall()
        assert parents == [("REQ-011", "REQ-010"), ("REQ-012", "REQ-001")]


def test_a_failed_item_does_not_consume_a_key(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        out = bulk(
            conn,
            [
                {"type": "requirement", "title": "first"},
                {"type": "requirement", "title": "fails on its parent", "parent_id": "REQ-404"},
                {"type": "requirement", "title": "third"},
            ],
        )
        assert [i["id"] for i in out["items"]] == ["REQ-009", "REQ-010"]


def test_more_than_100_items_or_none_rejects_the_whole_call(db: psycopg.Connection) -> None:
    before = counts(db)
    with as_principal(db, EDITOR) as conn:
        for items in ([{"type": "note", "title": f"n{i}"} for i in range(101)], [], {"type": "note"}, "x"):
            with raises_sqlstate(conn, "22023") as info:
                bulk(conn, items)
            assert "items must" in str(info.value)
        assert bulk(conn, [{"type": "note", "title": f"n{i}"} for i in range(100)])["created"] == 100
    assert counts(db) == before
