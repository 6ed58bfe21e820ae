"""Links: five words onto three canonical kinds, idempotent add/remove, and every refused shape."""

from __future__ import annotations

import psycopg
import pytest

from principals import ACME_PROJECT, GLOBEX_PROJECT, PRINCIPALS, as_principal
from writepath import counts, item, last_history, raises_sqlstate, rpc, superuser

P = ACME_PROJECT
EDITOR = PRINCIPALS["editor"]


def live_edges(conn: psycopg.Connection, kind: str) -> set[tuple[str, str]]:
    with superuser(conn):
        rows = conn.execute(
            """select s.key, t.key from public.item_links l
               join public.items s on s.id = l.source_item_id join public.items t on t.id = l.target_item_id
               where l.project_id = %s and l.link_kind = %s and l.deleted_at is null""",
            (P, kind),
        ).fetchall()
    return set(rows)


def link(conn: psycopg.Connection, from_id: str, word: str, to_id: str, action: str = "add") -> dict[str, object]:
    return rpc(conn, "atoms_link_items", project_id=P, from_id=from_id, to_id=to_id, type=word, action=action)


@pytest.mark.parametrize(
    ("from_id", "word", "to_id", "kind", "edge"),
    [
        ("NOTE-001", "child", "NOTE-002", "hierarchy", ("NOTE-001", "NOTE-002")),
        ("NOTE-001", "parent", "NOTE-002", "hierarchy", ("NOTE-002", "NOTE-001")),
        ("TC-007", "verifies", "REQ-007", "verification", ("TC-007", "REQ-007")),
        ("REQ-008", "verified_by", "TC-008", "verification", ("TC-008", "REQ-008")),
    ],
)
def test_link_words_map_to_canonical_directed_edges(
    db: psycopg.Connection, from_id: str, word: str, to_id: str, kind: str, edge: tuple[str, str]
) -> None:
    with as_principal(db, EDITOR) as conn:
        before = live_edges(conn, kind)
        out = link(conn, from_id, word, to_id)
        assert out["action"] == "add" and out["changed"] is True
        assert live_edges(conn, kind) - before == {edge}
        event = last_history(conn)[0]
        assert event["event_type"] == "linked" and event["new_values"]["link_kind"] == kind


def test_related_is_stored_once_whichever_way_it_is_given(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        before = live_edges(conn, "related")
        assert link(conn, "NOTE-001", "related", "REQ-004")["changed"] is True
        assert link(conn, "REQ-004", "related", "NOTE-001")["changed"] is False
        (added,) = live_edges(conn, "related") - before
        ids = sorted([item(conn, "NOTE-001")["id"], item(conn, "REQ-004")["id"]])
        assert [item(conn, k)["id"] for k in added] == ids


def test_message_reads_as_a_sentence(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        assert link(conn, "TC-007", "verifies", "REQ-007")["message"] == "Relationship added: TC-007 verifies REQ-007"


def test_adding_an_existing_link_and_removing_a_missing_one_are_no_ops(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        history_before = last_history(conn)[0]["chain_seq"]
        assert link(conn, "TC-001", "verifies", "REQ-001")["changed"] is False
        assert link(conn, "REQ-001", "verified_by", "TC-001")["changed"] is False
        out = link(conn, "TC-008", "verifies", "REQ-008", "remove")
        assert out["changed"] is False and out["action"] == "remove"
        assert last_history(conn)[0]["chain_seq"] == history_before


def test_remove_soft_deletes_the_edge_and_logs_unlinked(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        out = link(conn, "REQ-001", "child", "REQ-002", "remove")
        assert out["changed"] is True and out["message"] == "Relationship removed: REQ-002 is a child of REQ-001"
        assert ("REQ-001", "REQ-002") not in live_edges(conn, "hierarchy")
        with superuser(conn):
            row = conn.execute(
                """select l.deleted_at is not null, l.deleted_by::text from public.item_links l
                   join public.items s on s.id = l.source_item_id join public.items t on t.id = l.target_item_id
                   where s.key = 'REQ-001' and t.key = 'REQ-002' and l.project_id = %s""",
                (P,),
            ).fetchone()
        assert row == (True, EDITOR.user_id)
        assert last_history(conn)[0]["event_type"] == "unlinked"
        # Re-adding makes a fresh live edge; the removed one stays stored.
        assert link(conn, "REQ-002", "parent", "REQ-001")["changed"] is True


@pytest.mark.parametrize(
    ("from_id", "word", "to_id", "needle"),
    [
        ("REQ-001", "related", "REQ-001", "itself"),
        ("REQ-007", "child", "REQ-001", "cycle"),  # REQ-001 > REQ-002 > REQ-007: three-step cycle
        ("REQ-002", "child", "REQ-001", "cycle"),  # direct two-cycle
        ("REQ-001", "parent", "REQ-007", "cycle"),
        ("REQ-001", "verifies", "REQ-002", "test case to a requirement"),
        ("TC-001", "verifies", "TC-002", "test case to a requirement"),
        ("TC-001", "verified_by", "REQ-001", "test case to a requirement"),
        ("NOTE-001", "verifies", "REQ-001", "test case to a requirement"),
    ],
)
def test_refused_links_are_validation_errors_and_write_nothing(
    db: psycopg.Connection, from_id: str, word: str, to_id: str, needle: str
) -> None:
    before = counts(db)
    with as_principal(db, EDITOR) as conn, raises_sqlstate(conn, "22023") as info:
        link(conn, from_id, word, to_id)
    assert needle in str(info.value)
    assert counts(db) == before


def test_links_to_a_deleted_item_are_refused_but_can_still_be_removed(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        rpc(conn, "atoms_delete_item", project_id=P, item_id="REQ-005", force=True, reason="obsolete")
        with raises_sqlstate(conn, "PT404") as info:
            link(conn, "TC-008", "verifies", "REQ-005")
        assert "deleted" in str(info.value)
        assert link(conn, "TC-005", "verifies", "REQ-005", "remove")["changed"] is True


def test_items_of_another_project_cannot_be_linked(db: psycopg.Connection) -> None:
    # Keys resolve inside the given project only, and the composite foreign keys refuse a cross-project edge
    # even for a writer that bypasses the RPCs.
    globex_req = db.execute(
        "select id from public.items where project_id = %s and key = 'REQ-001'", (GLOBEX_PROJECT,)
    ).fetchone()[0]
    acme_tc = db.execute("select id from public.items where project_id = %s and key = 'TC-007'", (P,)).fetchone()[0]
    with raises_sqlstate(db, "23503"):
        db.execute(
            """insert into public.item_links (org_id, project_id, link_kind, source_item_id, target_item_id)
               values ('a0000000-0000-4000-8000-000000000001', %s, 'verification', %s, %s)""",
            (P, acme_tc, globex_req),
        )
    with as_principal(db, EDITOR) as conn, raises_sqlstate(conn, "PT404"):
        link(conn, "TC-001", "verifies", "REQ-404")
