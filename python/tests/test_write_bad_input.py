"""Bad input as a class, for every write RPC (and the verification reads): each malformed argument gets a clear
22023 naming the field and leaves no row and no history behind; hostile-looking text is stored and returned verbatim."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atoms_mcp.core.text_rules import first_refused_code_point
from principals import ACME_PROJECT, PRINCIPALS, as_principal
from writepath import counts, item, raises_sqlstate, rpc

P = ACME_PROJECT
EDITOR = PRINCIPALS["editor"]

BAD_UUIDS = ["", "not-a-uuid", P[:-1], P + "0", "{" + P + "}", P.replace("-", ""), "' or 1=1 --", P[:-1] + "g"]
BAD_KEYS = [
    "",
    "REQ-1",
    "REQ-01",
    "req-001",
    "REQ001",
    "REQ_001",
    " REQ-001",
    "REQ-001 ",
    "REQ-001' or '1'='1",
    "R" * 41,
]
BAD_TEXT = ["bell\x07", "escape\x1b[31m", "delete\x7f", "form\x0cfeed", "vt\x0b", "c1\x85", "rtl\u202eoverride"]

# tool -> (a valid call, [(field, bad value), ...]); every bad value must give 22023 naming the field.
CASES: dict[str, tuple[dict[str, object], list[tuple[str, object]]]] = {
    "atoms_create_item": (
        {"project_id": P, "type": "requirement", "title": "ok", "parent_ids": ["REQ-001"]},
        [("project_id", v) for v in BAD_UUIDS]
        + [("type", v) for v in ("", "Requirement", "table", "requirement ", "testcase")]
        + [("title", v) for v in ["", "x" * 501, *BAD_TEXT]]
        + [("summary", v) for v in ["x" * 2001, *BAD_TEXT]]
        + [("body", v) for v in ["x" * 100_001, *BAD_TEXT]]
        + [("level", v) for v in ("", "system", "Module")]
        + [("domains", v) for v in ([""], ["  "], ["x" * 65], [f"t{i}" for i in range(21)], ["ok", "bad\x01"])]
        + [("parent_ids", v) for v in ([f"REQ-{i:03d}" for i in range(1, 52)], ["req-001"], [""], ["REQ-1"])],
    ),
    "atoms_update_item": (
        {"project_id": P, "item_id": "TC-001", "title": "ok"},
        [("project_id", v) for v in BAD_UUIDS]
        + [("item_id", v) for v in BAD_KEYS]
        + [("title", v) for v in ["", "x" * 501, *BAD_TEXT]]
        + [("summary", "x" * 2001), ("body", "x" * 100_001), ("level", "component"), ("status", "PASSED")]
        + [("status", "skipped"), ("domains", [f"t{i}" for i in range(21)]), ("domains", ["x" * 65])],
    ),
    "atoms_delete_item": (
        {"project_id": P, "item_id": "NOTE-001"},
        [("project_id", v) for v in BAD_UUIDS] + [("item_id", v) for v in BAD_KEYS],
    ),
    "atoms_link_items": (
        {"project_id": P, "from_id": "TC-008", "to_id": "REQ-008", "type": "verifies", "action": "add"},
        [("project_id", v) for v in BAD_UUIDS]
        + [("from_id", v) for v in BAD_KEYS]
        + [("to_id", v) for v in BAD_KEYS]
        + [("type", v) for v in ("", "parents", "verified-by", "Related", "hierarchy")]
        + [("action", v) for v in ("", "delete", "ADD")],
    ),
    "atoms_record_test_result": (
        {"project_id": P, "item_id": "TC-008", "result": "passed", "note": "ok"},
        [("project_id", v) for v in BAD_UUIDS]
        + [("item_id", v) for v in BAD_KEYS]
        + [("result", v) for v in ("", "pass", "Passed", "not_run")]
        + [("note", v) for v in ["x" * 1001, *BAD_TEXT]],
    ),
    "atoms_bulk_import": (
        {"project_id": P, "items": [{"type": "note", "title": "ok"}]},
        [("project_id", v) for v in BAD_UUIDS] + [("items", v) for v in ([], {}, "x", 5, None)],
    ),
    "atoms_restore_item": (
        {"project_id": P, "item_id": "NOTE-001"},
        [("project_id", v) for v in BAD_UUIDS] + [("item_id", v) for v in BAD_KEYS],
    ),
    "atoms_verify_history": ({"project_id": P}, [("project_id", v) for v in BAD_UUIDS]),
    "atoms_clear_suspect": (
        {"project_id": P, "from_id": "TC-001", "to_id": "REQ-001", "reason": "reviewed"},
        [("project_id", v) for v in BAD_UUIDS]
        + [("from_id", v) for v in BAD_KEYS]
        + [("to_id", v) for v in BAD_KEYS]
        + [("reason", v) for v in ["", None, "x" * 1001, *BAD_TEXT]],
    ),
    "atoms_list_suspect_links": (
        {"project_id": P},
        [("project_id", v) for v in BAD_UUIDS]
        + [("item_id", v) for v in BAD_KEYS]
        + [("limit", v) for v in (0, 201, -1)]
        + [("offset", -1)],
    ),
    "atoms_trace_matrix": (
        {"project_id": P},
        [("project_id", v) for v in BAD_UUIDS]
        + [("level", v) for v in ("", "system", "Module")]
        + [("domain", v) for v in ["", "x" * 65, *BAD_TEXT]]
        + [("status", v) for v in ("", "green", "Verified", "not-run", "suspect ")]
        + [("limit", v) for v in (0, 201)]
        + [("offset", -1)],
    ),
}


@pytest.mark.parametrize("tool", sorted(CASES))
def test_every_bad_argument_is_a_validation_error_that_writes_nothing(db: psycopg.Connection, tool: str) -> None:
    valid, bad = CASES[tool]
    before = counts(db)
    principal = PRINCIPALS["admin"] if tool == "atoms_restore_item" else EDITOR
    with as_principal(db, principal) as conn:
        for field, value in bad:
            with raises_sqlstate(conn, "22023") as info:
                rpc(conn, tool, **{**valid, field: value})
            assert field in str(info.value) or field == "items", (field, value, str(info.value))
    assert counts(db) == before


HOSTILE = [
    "Robert'); drop table public.items; --",
    "<script>alert('x')</script>",
    '"><img src=x onerror=alert(1)>',
    "$$; select pg_sleep(10); $$",
    "%s %n {0} ${jndi:ldap://x}",
    'REQ-001"];\nA-->B',
    "tab\tnewline\ncarriage\r return",
    "\u0645\u0631\u062d\u0628\u0627 \u200f RLM, ZWJ \u200d and ZWNJ \u200c stay",
    "emoji 🚗💥 and ümlaut",
    "back\\slash \\x00 not a NUL",
]


def test_hostile_text_is_stored_verbatim_and_returned_intact(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        for text in HOSTILE:
            out = rpc(conn, "atoms_create_item", project_id=P, type="test-case", title=text, body=text, summary=text)
            assert out["title"] == text
            row = item(conn, out["id"])
            assert (row["title"], row["body"], row["summary"]) == (text, text, text)
            updated = rpc(conn, "atoms_update_item", project_id=P, item_id=out["id"], title=text + "!")
            assert updated["title"] == text + "!"
            recorded = rpc(
                conn, "atoms_record_test_result", project_id=P, item_id=out["id"], result="passed", note=text
            )
            assert recorded["note"] == text
        assert conn.execute("select count(*) from public.items").fetchone()[0] > 20


def test_a_nul_byte_never_reaches_the_database(db: psycopg.Connection) -> None:
    before = counts(db)
    with as_principal(db, EDITOR) as conn, pytest.raises(psycopg.DataError):
        rpc(conn, "atoms_create_item", project_id=P, type="note", title="nul\x00byte")
    assert counts(db) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=520))
def test_any_title_is_either_stored_verbatim_or_refused_with_22023(db: psycopg.Connection, title: str) -> None:
    acceptable = 1 <= len(title) <= 500 and first_refused_code_point(title, single_line=True) is None
    with as_principal(db, EDITOR) as conn:
        if acceptable:
            out = rpc(conn, "atoms_create_item", project_id=P, type="note", title=title)
            assert item(conn, out["id"])["title"] == title
        else:
            with raises_sqlstate(conn, "22023"):
                rpc(conn, "atoms_create_item", project_id=P, type="note", title=title)
