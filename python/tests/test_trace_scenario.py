"""The trial an auditor runs (IEC 62304 class C, two requirement levels, siblings with their own tests, results of
every kind), end to end through the RPCs: a bulk import that carries verification links, bulk links with errors by
index, results as evidence, trace `both` without siblings and with `via` rebuilding the tree, history from both ends
of a link, reasons, the guarded delete and what a member reads about a deleted item."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.types.json import Json

from atoms_mcp.core.errors import from_database_error
from principals import ACME_ORG, GLOBEX_EDITOR, PRINCIPALS, act_as
from writepath import raises_sqlstate, rpc

EDITOR = PRINCIPALS["editor"]
VIEWER = PRINCIPALS["viewer"]
TRIAL = "a0000000-0000-4000-8000-00000000d001"

# Two levels: REQ-001 and REQ-002 are system requirements; REQ-003..REQ-005 refine REQ-001, REQ-006 refines REQ-002.
# Each subsystem requirement has its own test; TC-005 verifies two siblings; TC-006 and TC-007 verify REQ-001.
IMPORT: list[dict[str, Any]] = [
    {"type": "requirement", "title": "Infusion safety", "level": "System"},
    {"type": "requirement", "title": "Alarm management", "level": "System"},
    {"type": "requirement", "title": "Occlusion detection", "level": "Subsystem", "parent_id": "#0"},
    {"type": "requirement", "title": "Free-flow prevention", "level": "Subsystem", "parent_id": "#0"},
    {"type": "requirement", "title": "Dose limit", "level": "Subsystem", "parent_id": "#0"},
    {"type": "requirement", "title": "Alarm volume", "level": "Subsystem", "parent_id": "#1"},
    {"type": "test-case", "title": "Occlusion at 50 kPa", "verifies": ["#2"]},
    {"type": "test-case", "title": "Free-flow clamp", "verifies": ["#3"]},
    {"type": "test-case", "title": "Dose limit reached", "verifies": ["#4"]},
    {"type": "test-case", "title": "Alarm at 70 dB", "verifies": ["#5", "REQ-002"]},
    {"type": "test-case", "title": "Pressure sensor sweep", "verifies": ["#2", "#3"]},
    {"type": "test-case", "title": "Refers to itself", "verifies": ["#11"]},
    {"type": "test-case", "title": "Refers to nothing", "verifies": ["REQ-999"]},
    {"type": "requirement", "title": "A requirement cannot verify", "verifies": ["#2"]},
    {"type": "test-case", "title": "System infusion run", "verifies": ["#0"]},
    {"type": "test-case", "title": "System soak test", "verifies": ["#0"]},
]


@pytest.fixture
def trial(db: psycopg.Connection) -> psycopg.Connection:
    """The trial project in Acme, imported by the editor; its test cases backdated a month (imported history)."""
    db.execute("insert into public.projects (id, org_id, name) values (%s, %s, 'Infusion pump')", (TRIAL, ACME_ORG))
    with db.transaction():
        act_as(db, EDITOR)
        out = rpc(db, "atoms_bulk_import", project_id=TRIAL, items=IMPORT)
    assert out["errors"] == [
        {
            "index": 11,
            "title": "Refers to itself",
            "error": "verifies #11 must name an item created earlier in this call",
        },
        {"index": 12, "title": "Refers to nothing", "error": "verifies element REQ-999 not found in this project"},
        {
            "index": 13,
            "title": "A requirement cannot verify",
            "error": "verification links go from a test case to a requirement: REQ-007 is a requirement, "
            "REQ-003 is a requirement",
        },
    ]
    assert [i["id"] for i in out["items"]] == [
        *(f"REQ-00{n}" for n in range(1, 7)),
        *(f"TC-00{n}" for n in range(1, 8)),
    ]
    db.execute("update public.items set created_at = created_at - interval '30 days' where project_id = %s", (TRIAL,))
    return db


def call(db: psycopg.Connection, who: Any, name: str, **args: Any) -> Any:
    """One committed RPC call as ``who``."""
    with db.transaction():
        act_as(db, who)
        return rpc(db, name, project_id=TRIAL, **args)


def refused(db: psycopg.Connection, who: Any, sqlstate: str, name: str, **args: Any) -> dict[str, Any]:
    """A refused call's error envelope as the shim returns it (code, message, details)."""
    with db.transaction(force_rollback=True):
        act_as(db, who)
        with raises_sqlstate(db, sqlstate) as info:
            rpc(db, name, project_id=TRIAL, **args)
    return from_database_error(info.value).to_error()


def live_links(db: psycopg.Connection) -> int:
    return db.execute(
        "select count(*) from public.item_links where project_id = %s and deleted_at is null", (TRIAL,)
    ).fetchone()[0]


def test_bulk_import_carries_verification_links(trial: psycopg.Connection) -> None:
    tc4 = call(trial, VIEWER, "atoms_get_item", item_id="TC-004")
    assert tc4["relationships"]["verifies"] == ["REQ-002", "REQ-006"]
    req1 = call(trial, VIEWER, "atoms_get_item", item_id="REQ-001")
    assert req1["relationships"]["children"] == ["REQ-003", "REQ-004", "REQ-005"]
    assert req1["relationships"]["verified_by"] == ["TC-006", "TC-007"]
    coverage = call(trial, VIEWER, "atoms_get_coverage")
    assert (coverage["covered"], coverage["total"]) == (6, 6)


def test_bulk_links_apply_each_link_alone_and_report_errors_by_index(trial: psycopg.Connection) -> None:
    before = live_links(trial)
    links = [
        {"from_id": "REQ-003", "to_id": "REQ-006", "type": "related"},
        {"from_id": "req-1", "to_id": "REQ-003", "type": "child"},
        {"from_id": "REQ-003", "to_id": "REQ-004", "type": "sibling"},
        {"from_id": "REQ-003", "to_id": "REQ-003", "type": "related"},
        {"from_id": "REQ-003", "to_id": "REQ-001", "type": "child"},
        {"from_id": "REQ-003", "to_id": "TC-002", "type": "verifies"},
        {"from_id": "TC-002", "to_id": "REQ-005", "type": "verifies", "note": "x"},
        {"from_id": "TC-002", "to_id": "REQ-005", "type": "verifies", "action": "delete"},
        {"from_id": "TC-002", "to_id": "REQ-404", "type": "verifies"},
        {"from_id": "TC-003", "to_id": "REQ-004", "type": "verifies"},
        {"from_id": "TC-001", "to_id": "REQ-003", "type": "verifies", "action": "remove"},
        {"from_id": "TC-001", "to_id": "REQ-003", "type": "verifies"},
    ]
    out = call(trial, EDITOR, "atoms_link_items", links=Json(links), reason="Import of the verification matrix")
    assert out["errors"] == [
        {
            "index": 1,
            "from_id": "req-1",
            "to_id": "REQ-003",
            "type": "child",
            "error": "from_id must be an item key such as REQ-001, TC-050 or NOTE-003 "
            '(upper-case prefix, hyphen, at least 3 digits), got "req-1"',
        },
        {
            "index": 2,
            "from_id": "REQ-003",
            "to_id": "REQ-004",
            "type": "sibling",
            "error": 'type must be one of parent | child | related | verifies | verified_by, got "sibling"',
        },
        {
            "index": 3,
            "from_id": "REQ-003",
            "to_id": "REQ-003",
            "type": "related",
            "error": "an item cannot be linked to itself (REQ-003)",
        },
        {
            "index": 4,
            "from_id": "REQ-003",
            "to_id": "REQ-001",
            "type": "child",
            "error": "this link would create a hierarchy cycle: REQ-001 is already an ancestor of REQ-003",
        },
        {
            "index": 5,
            "from_id": "REQ-003",
            "to_id": "TC-002",
            "type": "verifies",
            "error": "verification links go from a test case to a requirement: REQ-003 is a requirement, "
            "TC-002 is a test-case",
        },
        {
            "index": 6,
            "from_id": "TC-002",
            "to_id": "REQ-005",
            "type": "verifies",
            "error": 'unknown field "note" (allowed: from_id, to_id, type, action)',
        },
        {
            "index": 7,
            "from_id": "TC-002",
            "to_id": "REQ-005",
            "type": "verifies",
            "error": 'action must be one of add | remove, got "delete"',
        },
        {
            "index": 8,
            "from_id": "TC-002",
            "to_id": "REQ-404",
            "type": "verifies",
            "error": "to_id REQ-404 not found in this project",
        },
    ]
    assert out["links"] == [
        {"index": 0, "from_id": "REQ-003", "to_id": "REQ-006", "type": "related", "action": "add", "changed": True},
        {"index": 9, "from_id": "TC-003", "to_id": "REQ-004", "type": "verifies", "action": "add", "changed": True},
        {"index": 10, "from_id": "TC-001", "to_id": "REQ-003", "type": "verifies", "action": "remove", "changed": True},
        {"index": 11, "from_id": "TC-001", "to_id": "REQ-003", "type": "verifies", "action": "add", "changed": True},
    ]
    assert (out["processed"], out["changed"]) == (4, 4)
    # Only the four good links wrote anything (one removed and re-added: +2 live links overall).
    assert live_links(trial) == before + 2
    # One link keeps the single-link result shape.
    single = call(trial, EDITOR, "atoms_link_items", from_id="TC-003", to_id="REQ-004", type="verifies")
    assert single == {
        "from_id": "TC-003",
        "to_id": "REQ-004",
        "type": "verifies",
        "action": "add",
        "changed": False,
        "message": "Relationship already exists: TC-003 verifies REQ-004",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({}, "give from_id, to_id and type (one link) or links (1-500 links)"),
        (
            {"from_id": "TC-001", "to_id": "REQ-003", "type": "verifies", "links": Json([])},
            "give either from_id, to_id and type (one link) or links (many), not both",
        ),
        ({"links": Json([])}, "links must have 1 to 500 links, got 0"),
        ({"links": Json({"from_id": "TC-001"})}, "links must be a JSON array of 1 to 500 links, got object"),
        (
            {"links": Json([{"from_id": "TC-001", "to_id": "REQ-003", "type": "verifies"}] * 501)},
            "links must have 1 to 500 links, got 501",
        ),
    ],
)
def test_bulk_links_need_exactly_one_form_and_at_most_500(
    trial: psycopg.Connection, args: dict[str, Any], message: str
) -> None:
    before = live_links(trial)
    error = refused(trial, EDITOR, "22023", "atoms_link_items", **args)
    assert error["code"] == "VALIDATION_ERROR" and error["message"].startswith(message)
    assert live_links(trial) == before


def test_trace_both_is_upstream_and_downstream_without_siblings(trial: psycopg.Connection) -> None:
    call(trial, EDITOR, "atoms_link_items", from_id="REQ-003", to_id="REQ-006", type="related")
    result = call(trial, VIEWER, "atoms_trace", item_id="REQ-003", direction="both")
    items = result["items"]
    assert [(i["id"], i["relationship"], i["link_kind"], i["via"], i["depth"]) for i in items] == [
        ("REQ-001", "parent", "hierarchy", "REQ-003", 1),
        ("REQ-006", "related", "related", "REQ-003", 1),
        ("TC-001", "verified_by", "verification", "REQ-003", 1),
        ("TC-005", "verified_by", "verification", "REQ-003", 1),
    ]
    keys = {i["id"] for i in items}
    # Never a sibling through the shared parent, nor a sibling's tests, nor the parent's tests (upstream ends at it).
    assert keys.isdisjoint({"REQ-004", "REQ-005", "TC-002", "TC-003", "TC-006", "TC-007"})
    up = call(trial, VIEWER, "atoms_trace", item_id="REQ-003", direction="upstream")["items"]
    down = call(trial, VIEWER, "atoms_trace", item_id="REQ-003", direction="downstream")["items"]
    assert sorted(items, key=lambda i: i["id"]) == sorted(
        {i["id"]: i for i in up + down}.values(), key=lambda i: i["id"]
    )


def test_via_rebuilds_the_tree(trial: psycopg.Connection) -> None:
    result = call(trial, VIEWER, "atoms_trace", item_id="REQ-001", direction="downstream", depth=10)
    depth = {result["root"]: 0} | {i["id"]: i["depth"] for i in result["items"]}
    tree: dict[str, list[str]] = {}
    for i in result["items"]:
        assert depth[i["via"]] == i["depth"] - 1, i
        tree.setdefault(i["via"], []).append(i["id"])
    assert tree == {
        "REQ-001": ["REQ-003", "REQ-004", "REQ-005", "TC-006", "TC-007"],
        "REQ-003": ["TC-001", "TC-005"],
        "REQ-004": ["TC-002"],
        "REQ-005": ["TC-003"],
    }
    # Upstream from a test case: the requirement it verifies, then that requirement's parent.
    up = call(trial, VIEWER, "atoms_trace", item_id="TC-005", direction="upstream")["items"]
    assert [(i["id"], i["via"], i["relationship"]) for i in up] == [
        ("REQ-003", "TC-005", "verifies"),
        ("REQ-004", "TC-005", "verifies"),
        ("REQ-001", "REQ-003", "parent"),
    ]


def test_history_shows_links_from_both_ends_with_their_reasons(trial: psycopg.Connection) -> None:
    call(trial, EDITOR, "atoms_link_items", from_id="REQ-003", to_id="REQ-006", type="related", reason="Shared sensor")
    call(
        trial,
        EDITOR,
        "atoms_update_item",
        item_id="REQ-003",
        title="Occlusion detection within 30 s",
        reason="Hazard H-7",
    )
    page = call(trial, VIEWER, "atoms_get_history", item_id="REQ-003")
    events = page["data"]
    linked = {
        frozenset((e["new_values"]["source_id"], e["new_values"]["target_id"]))
        for e in events
        if e["event_type"] == "linked"
    }
    # The parent link is stored under REQ-001, the verification links under their test cases: all appear here.
    assert linked == {
        frozenset(pair)
        for pair in (("REQ-001", "REQ-003"), ("REQ-003", "REQ-006"), ("TC-001", "REQ-003"), ("TC-005", "REQ-003"))
    }
    # The title change also made REQ-003's two verification links suspect (recorded under REQ-003, same reason).
    assert page["meta"] == {"total_count": 8, "limit": 20, "offset": 0, "has_more": False}
    assert [(e["event_type"], e["reason"]) for e in events[:4]] == [
        ("suspect_marked", "Hazard H-7"),
        ("suspect_marked", "Hazard H-7"),
        ("updated", "Hazard H-7"),
        ("linked", "Shared sensor"),
    ]
    assert {e["new_values"]["source_id"] for e in events[:2]} == {"TC-001", "TC-005"}
    assert events[2]["new_values"] == {"title": "Occlusion detection within 30 s"}
    # The other end sees the same related link, with its reason, whichever end it is stored under.
    other = call(trial, VIEWER, "atoms_get_history", item_id="REQ-006")["data"]
    assert [(e["event_type"], e["reason"]) for e in other[:1]] == [("linked", "Shared sensor")]
    # An unlink is seen from the target too.
    call(
        trial,
        EDITOR,
        "atoms_link_items",
        from_id="TC-005",
        to_id="REQ-003",
        type="verifies",
        action="remove",
        reason="Test split",
    )
    newest = call(trial, VIEWER, "atoms_get_history", item_id="REQ-003", limit=1)
    assert [(e["event_type"], e["reason"], e["old_values"]["source_id"]) for e in newest["data"]] == [
        ("unlinked", "Test split", "TC-005")
    ]
    assert newest["meta"]["total_count"] == 9 and newest["meta"]["has_more"]


def test_results_carry_when_what_who_and_evidence(trial: psycopg.Connection) -> None:
    runs = [
        ("passed", "2026-11-20T09:00:00Z", "1.4.0", EDITOR.email, "https://ci.example.test/run/101"),
        ("failed", "2026-11-21T09:00:00Z", "1.4.1", "J. Tester (contract lab)", "REP-2026-044"),
        ("blocked", "2026-11-22T09:00:00Z", "1.4.2", None, None),
        ("not-run", None, None, None, None),
    ]
    outs = []
    for result, run_at, build, executed_by, evidence in runs:
        args = {"run_at": run_at, "build": build, "executed_by": executed_by, "evidence": evidence}
        given = {k: v for k, v in args.items() if v is not None}
        outs.append(call(trial, EDITOR, "atoms_record_test_result", item_id="TC-001", result=result, **given))
    first = outs[0]
    assert first["run_at"] == "2026-11-20T09:00:00.000000Z"
    assert (first["build"], first["executed_by"], first["executed_by_id"], first["evidence"]) == (
        "1.4.0",
        EDITOR.email,
        EDITOR.user_id,
        "https://ci.example.test/run/101",
    )
    assert first["run_by"] == first["recorded_by"] == EDITOR.user_id and first["recorded_at"] > first["run_at"]
    assert outs[1]["executed_by_id"] is None
    # Not stated: it ran when it was recorded.
    assert outs[3]["run_at"] == outs[3]["recorded_at"]
    # An older run recorded last does not become the latest: latest is by run_at.
    call(trial, EDITOR, "atoms_record_test_result", item_id="TC-001", result="passed", run_at="2026-11-01T08:00:00Z")
    tc = call(trial, VIEWER, "atoms_get_item", item_id="TC-001")
    assert tc["status"] == "not-run"
    assert [r["result"] for r in tc["test_results"]] == ["not-run", "blocked", "failed", "passed", "passed"]
    assert tc["test_results"][2]["evidence"] == "REP-2026-044"
    call(trial, EDITOR, "atoms_record_test_result", item_id="TC-002", result="failed", run_at="2026-11-25T08:00:00Z")
    call(trial, EDITOR, "atoms_record_test_result", item_id="TC-002", result="passed", run_at="2026-11-24T08:00:00Z")
    summary = call(trial, VIEWER, "atoms_project_summary")
    assert summary["tests"] == {"passed": 0, "failed": 1, "blocked": 0, "not-run": 1, "never_run": 5}
    history = call(trial, VIEWER, "atoms_get_history", item_id="TC-001", limit=6)["data"]
    recorded = [e["new_values"] for e in history if e["event_type"] == "test_recorded"]
    assert {(v["result"], v["build"], v["evidence"]) for v in recorded} >= {("failed", "1.4.1", "REP-2026-044")}


@pytest.mark.parametrize(
    ("run_at", "message"),
    [
        ("2999-01-01T00:00:00Z", "run_at must not be in the future, got 2999-01-01T00:00:00.000000Z"),
        ("2001-01-01T00:00:00Z", "run_at 2001-01-01T00:00:00.000000Z is before test case TC-001 existed"),
        ("yesterday", 'run_at must be an ISO-8601 timestamp such as 2026-11-30T12:00:00Z, got "yesterday"'),
        ("infinity", 'run_at must be an ISO-8601 timestamp such as 2026-11-30T12:00:00Z, got "infinity"'),
        ("2026-13-40T00:00:00Z", 'run_at is not a valid date or time: "2026-13-40T00:00:00Z"'),
    ],
)
def test_run_at_is_not_in_the_future_nor_before_the_test_case(
    trial: psycopg.Connection, run_at: str, message: str
) -> None:
    error = refused(
        trial, EDITOR, "22023", "atoms_record_test_result", item_id="TC-001", result="passed", run_at=run_at
    )
    assert error["message"].startswith(message)
    assert trial.execute("select count(*) from public.test_results where project_id = %s", (TRIAL,)).fetchone()[0] == 0


def test_delete_with_children_or_tests_is_a_conflict_with_the_impact(trial: psycopg.Connection) -> None:
    error = refused(trial, EDITOR, "PT409", "atoms_delete_item", item_id="REQ-001")
    assert error["code"] == "CONFLICT"
    assert error["message"].startswith("REQ-001 has 3 live children and 2 live verification links")
    assert error["details"] == {
        "id": "REQ-001",
        "children": ["REQ-003", "REQ-004", "REQ-005"],
        "parents": [],
        "verified_by": ["TC-006", "TC-007"],
        "verifies": [],
        "related": [],
        "link_count": 5,
        "requirements_losing_coverage": [],
    }
    # A test case that is a requirement's only test names the coverage it would take away.
    error = refused(trial, EDITOR, "PT409", "atoms_delete_item", item_id="TC-002")
    assert error["details"]["verifies"] == ["REQ-004"] and error["details"]["requirements_losing_coverage"] == []
    error = refused(trial, EDITOR, "PT409", "atoms_delete_item", item_id="TC-003")
    assert error["details"]["requirements_losing_coverage"] == ["REQ-005"]
    # force without a reason is refused too; nothing was deleted.
    error = refused(trial, EDITOR, "22023", "atoms_delete_item", item_id="REQ-001", force=True)
    assert error["message"].startswith("force needs a reason")
    assert (
        trial.execute(
            "select count(*) from public.items where project_id = %s and deleted_at is not null", (TRIAL,)
        ).fetchone()[0]
        == 0
    )
    # An item without children or verification links is deleted as before.
    assert call(trial, EDITOR, "atoms_create_item", type="note", title="scratch")["id"] == "NOTE-001"
    assert call(trial, EDITOR, "atoms_delete_item", item_id="NOTE-001")["deleted"] is True


def test_forced_delete_keeps_the_reason_and_a_member_learns_who_deleted_it(trial: psycopg.Connection) -> None:
    out = call(trial, EDITOR, "atoms_delete_item", item_id="REQ-001", force=True, reason="Merged into REQ-002 (CR-12)")
    assert out["deleted"] is True and out["reason"] == "Merged into REQ-002 (CR-12)"
    assert out["impact"]["children"] == ["REQ-003", "REQ-004", "REQ-005"]
    deleted = call(trial, VIEWER, "atoms_get_history", item_id="REQ-001", limit=1)["data"][0]
    assert (deleted["event_type"], deleted["reason"], deleted["changed_by"]) == (
        "deleted",
        "Merged into REQ-002 (CR-12)",
        EDITOR.user_id,
    )
    deleted_at = trial.execute(
        "select private.iso_utc(deleted_at) from public.items where project_id = %s and key = 'REQ-001'", (TRIAL,)
    ).fetchone()[0]
    for tool, args in (("atoms_get_item", {}), ("atoms_trace", {"direction": "both"})):
        error = refused(trial, VIEWER, "PT404", tool, item_id="REQ-001", **args)
        assert error["code"] == "NOT_FOUND" and "has been deleted" in error["message"]
        assert error["details"] == {"id": "REQ-001", "deleted_at": deleted_at, "deleted_by": EDITOR.user_id}
    for tool, args in (("atoms_update_item", {"title": "x"}), ("atoms_delete_item", {})):
        error = refused(trial, EDITOR, "PT404", tool, item_id="REQ-001", **args)
        assert error["details"]["deleted_by"] == EDITOR.user_id
    # An unknown key has no details; another organisation only learns that the project does not exist.
    assert "details" not in refused(trial, VIEWER, "PT404", "atoms_get_item", item_id="REQ-404")
    outsider = refused(trial, PRINCIPALS["other_org_admin"], "PT404", "atoms_get_item", item_id="REQ-001")
    assert "details" not in outsider and "REQ-001" not in outsider["message"]
    # The children are still there, their parent link out of every view.
    assert call(trial, VIEWER, "atoms_get_item", item_id="REQ-003")["relationships"]["parents"] == []


def test_the_project_setting_makes_a_reason_required(trial: psycopg.Connection) -> None:
    trial.execute("update public.projects set settings = '{\"require_change_reason\": true}' where id = %s", (TRIAL,))
    for tool, args in (
        ("atoms_update_item", {"item_id": "REQ-004", "title": "Free-flow prevention (hazard H-3)"}),
        ("atoms_delete_item", {"item_id": "REQ-006"}),
        ("atoms_link_items", {"from_id": "REQ-003", "to_id": "REQ-006", "type": "related"}),
        ("atoms_link_items", {"links": Json([{"from_id": "REQ-003", "to_id": "REQ-006", "type": "related"}])}),
    ):
        error = refused(trial, EDITOR, "22023", tool, **args)
        assert error["message"].startswith("reason is required: this project requires a reason for every"), tool
    out = call(
        trial, EDITOR, "atoms_update_item", item_id="REQ-004", title="Free-flow prevention (hazard H-3)", reason="RA-7"
    )
    assert out["updated_fields"] == ["title"]
    assert call(trial, VIEWER, "atoms_get_history", item_id="REQ-004", limit=1)["data"][0]["reason"] == "RA-7"
    # The setting off again (or absent): no reason needed.
    trial.execute("update public.projects set settings = '{}' where id = %s", (TRIAL,))
    call(trial, EDITOR, "atoms_update_item", item_id="REQ-004", summary="no reason needed")


@pytest.mark.parametrize("reason", ["", "x" * 1001, "bad\u0007bell", "rtl\u202eoverride"])
def test_a_bad_reason_is_refused_and_writes_nothing(trial: psycopg.Connection, reason: str) -> None:
    before = trial.execute("select count(*) from public.change_history where project_id = %s", (TRIAL,)).fetchone()[0]
    for tool, args in (
        ("atoms_update_item", {"item_id": "REQ-004", "title": "t"}),
        ("atoms_delete_item", {"item_id": "REQ-006", "force": True}),
        ("atoms_link_items", {"from_id": "REQ-003", "to_id": "REQ-006", "type": "related"}),
    ):
        error = refused(trial, EDITOR, "22023", tool, reason=reason, **args)
        assert error["message"].startswith("reason "), (tool, error)
    after = trial.execute("select count(*) from public.change_history where project_id = %s", (TRIAL,)).fetchone()[0]
    assert after == before


def test_history_hash_chain_stays_intact_with_reasons_and_evidence(trial: psycopg.Connection) -> None:
    call(trial, EDITOR, "atoms_update_item", item_id="REQ-004", summary="s", reason="why")
    call(trial, EDITOR, "atoms_record_test_result", item_id="TC-002", result="passed", build="b7", evidence="E-1")
    call(trial, EDITOR, "atoms_delete_item", item_id="REQ-006", force=True, reason="gone")
    assert call(trial, VIEWER, "atoms_verify_history")["intact"] is True


def test_bulk_links_refuse_viewers_and_other_tenants_and_report_odd_entries(trial: psycopg.Connection) -> None:
    before = live_links(trial)
    good = {"from_id": "TC-001", "to_id": "REQ-004", "type": "verifies"}
    assert refused(trial, VIEWER, "42501", "atoms_link_items", links=Json([good]))["code"] == "PERMISSION_DENIED"
    outsider = refused(trial, GLOBEX_EDITOR, "PT404", "atoms_link_items", links=Json([good]))
    assert outsider["code"] == "NOT_FOUND" and "details" not in outsider
    odd = [
        {"from_id": 7, "to_id": "REQ-004", "type": "verifies"},
        "TC-001 verifies REQ-004",
        {"from_id": "TC-001", "to_id": "REQ-004\u0000", "type": "verifies"},
        {"from_id": "TC-001", "to_id": "REQ-004", "type": "verifies", "action": None},
    ]
    out = call(trial, EDITOR, "atoms_link_items", links=Json(odd))
    assert [(e["index"], e["error"]) for e in out["errors"]] == [
        (0, "from_id must be a string, got number"),
        (1, "link must be a JSON object, got string"),
        (2, "link must not contain U+0000 (NUL) or an unpaired surrogate escape"),
    ]
    assert [(r["index"], r["changed"]) for r in out["links"]] == [(3, True)]
    assert live_links(trial) == before + 1
