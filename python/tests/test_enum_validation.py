"""Validation driven by the enums: the RPCs take their allowed values from the enum types, so a value added later
(`alter type ... add value`, in its own migration) is accepted everywhere at once and refusals list the enum."""

from __future__ import annotations

import psycopg

from principals import ACME_PROJECT, PRINCIPALS, as_principal
from writepath import raises_sqlstate, rpc

EDITOR = PRINCIPALS["editor"]


def test_a_level_added_to_the_enum_is_accepted_by_create_update_and_filters(db: psycopg.Connection) -> None:
    db.execute("alter type public.item_level add value 'Part'")
    with as_principal(db, EDITOR) as conn:
        created = rpc(
            conn, "atoms_create_item", project_id=ACME_PROJECT, type="requirement", title="a part", level="Part"
        )
        rpc(conn, "atoms_update_item", project_id=ACME_PROJECT, item_id=created["id"], level="Part")
        listed = rpc(conn, "atoms_list_items", project_id=ACME_PROJECT, level="Part")
        assert [i["id"] for i in listed["data"]] == [created["id"]]
        coverage = rpc(conn, "atoms_get_coverage", project_id=ACME_PROJECT, level="Part")
        assert coverage["total"] == 1


def test_a_test_result_added_to_the_enum_can_be_recorded(db: psycopg.Connection) -> None:
    db.execute("alter type public.test_result add value 'skipped'")
    with as_principal(db, EDITOR) as conn:
        recorded = rpc(conn, "atoms_record_test_result", project_id=ACME_PROJECT, item_id="TC-001", result="skipped")
        assert recorded["result"] == "skipped"


def test_a_refusal_lists_the_enum_values_in_enum_order(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn, raises_sqlstate(conn, "22023") as refused:
        rpc(conn, "atoms_create_item", project_id=ACME_PROJECT, type="requirement", title="x", level="Module")
    assert 'level must be one of System | Subsystem | Component, got "Module"' in str(refused.value)
