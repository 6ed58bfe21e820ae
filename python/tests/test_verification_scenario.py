"""The verification trial a medical-device QA engineer runs, end to end through the RPCs: two requirement levels,
results passed, failed, blocked, not-run and never run, a requirement changed after its passing run and a changed test
case. It checks the suspect-link rule and its lists, every requirement status, both coverage percentages, the
summary, get_item and the traceability matrix exactly, then clears a suspect flag with a reason and follows the
requirement from suspect to stale to verified."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from atoms_mcp.core.verification_models import ClearSuspectOutput, ListSuspectLinksOutput, TraceMatrixOutput
from principals import ACME_ORG, GLOBEX_EDITOR, PRINCIPALS, act_as
from writepath import raises_sqlstate, rpc, superuser

EDITOR = PRINCIPALS["editor"]
VIEWER = PRINCIPALS["viewer"]
TRIAL = "a0000000-0000-4000-8000-00000000d019"

# REQ-001 (System) is the parent of REQ-002..REQ-009 (Subsystem). Test cases and what they verify:
# TC-001 -> REQ-002, REQ-004; TC-002 -> REQ-003; TC-003 -> REQ-004; TC-004 -> REQ-003, REQ-005;
# TC-005 -> REQ-006; TC-006 -> REQ-007; TC-007 -> REQ-009. REQ-001 and REQ-008 have no test.
IMPORT: list[dict[str, Any]] = [
    {"type": "requirement", "title": "Infusion safety", "level": "System", "domains": ["safety"]},
    *(
        {"type": "requirement", "title": title, "level": "Subsystem", "parent_id": "#0", "domains": domains}
        for title, domains in [
            ("Occlusion detection", ["safety"]),
            ("Free-flow prevention", ["safety"]),
            ("Dose limit", ["safety"]),
            ("Alarm volume", ["alarms"]),
            ("Battery reserve", ["power"]),
            ("Display contrast", ["ui"]),
            ("Event logging", ["ui"]),
            ("Alarm escalation", ["alarms"]),
        ]
    ),
    {"type": "test-case", "title": "Occlusion at 50 kPa", "verifies": ["#1", "#3"]},
    {"type": "test-case", "title": "Free-flow clamp", "verifies": ["#2"]},
    {"type": "test-case", "title": "Dose limit reached", "verifies": ["#3"]},
    {"type": "test-case", "title": "Alarm at 70 dB", "verifies": ["#2", "#4"]},
    {"type": "test-case", "title": "Battery 30 min", "verifies": ["#5"]},
    {"type": "test-case", "title": "Contrast in sunlight", "verifies": ["#6"]},
    {"type": "test-case", "title": "Escalation after 2 min", "verifies": ["#8"]},
]

HIERARCHY = [("REQ-001", f"REQ-00{n}") for n in range(2, 10)]


def call(db: psycopg.Connection, who: Any, name: str, **args: Any) -> Any:
    """One committed RPC call in the trial project as ``who``."""
    with db.transaction():
        act_as(db, who)
        return rpc(db, name, project_id=TRIAL, **args)


def iso(ts: datetime) -> str:
    """A timestamp as the tools print it."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def trial(db: psycopg.Connection) -> Iterator[tuple[psycopg.Connection, dict[str, datetime]]]:
    """The trial project: items backdated a month, results recorded at stated times, then the changes."""
    db.execute("insert into public.projects (id, org_id, name) values (%s, %s, 'Infusion pump')", (TRIAL, ACME_ORG))
    out = call(db, EDITOR, "atoms_bulk_import", items=IMPORT)
    assert out["errors"] == []
    db.execute("update public.items set created_at = created_at - interval '30 days' where project_id = %s", (TRIAL,))
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=20)
    times = {f"d{n}": base + timedelta(days=n) for n in range(10)}
    runs = [
        ("TC-001", "passed", "d1", "1.0.0", "qa.lead@acme.test"),
        ("TC-002", "passed", "d1", "1.0.0", "Ana Ortiz"),
        ("TC-002", "failed", "d3", "1.0.1", "Ana Ortiz"),
        ("TC-003", "blocked", "d2", "1.0.1", "Ana Ortiz"),
        ("TC-005", "passed", "d4", "1.0.2", '=HYPERLINK("http://x")'),
        ("TC-006", "passed", "d4", "1.0.2", "Ana Ortiz"),
        ("TC-007", "passed", "d1", "1.0.0", "Ana Ortiz"),
        ("TC-007", "not-run", "d5", "1.0.2", "Ana Ortiz"),
    ]
    for key, result, at, build, who in runs:
        call(
            db, EDITOR, "atoms_record_test_result",
            item_id=key, result=result, run_at=iso(times[at]), build=build, executed_by=who,
        )  # fmt: skip
    yield db, times


def suspect_pairs(db: psycopg.Connection, **args: Any) -> list[tuple[str, str, str]]:
    page = call(db, VIEWER, "atoms_list_suspect_links", **args)
    return [(s["from_id"], s["to_id"], s["type"]) for s in page["data"]]


def statuses(db: psycopg.Connection) -> dict[str, str]:
    page = call(db, VIEWER, "atoms_trace_matrix", limit=200)
    return {row["id"]: row["status"] for row in page["data"]}


def test_the_suspect_link_rule(trial: tuple[psycopg.Connection, dict[str, datetime]]) -> None:
    db, _ = trial
    assert suspect_pairs(db) == []

    # Tags are not normative; a changed child does not flag the link from its parent; REQ-008 has no test.
    call(db, EDITOR, "atoms_update_item", item_id="REQ-002", domains=["safety", "class-c"])
    call(db, EDITOR, "atoms_update_item", item_id="REQ-008", body="Every alarm is logged with its time.")
    assert suspect_pairs(db) == []

    # A changed parent flags every link to its children (and nothing upwards: REQ-001 has no parent, no test).
    call(db, EDITOR, "atoms_update_item", item_id="REQ-001", summary="Class C: no single fault harms the patient.")
    assert suspect_pairs(db) == [(p, c, "child") for p, c in HIERARCHY]

    # A changed requirement flags its verification links; a changed test case flags its own.
    call(db, EDITOR, "atoms_update_item", item_id="REQ-006", title="Battery reserve of 30 minutes", reason="FMEA-12")
    call(db, EDITOR, "atoms_update_item", item_id="TC-006", level="Component")
    pairs = suspect_pairs(db)
    assert pairs == [
        *((p, c, "child") for p, c in HIERARCHY),
        ("TC-005", "REQ-006", "verifies"),
        ("TC-006", "REQ-007", "verifies"),
    ]
    # A second change keeps the first cause; filtering by an item keeps the links where it is either end.
    call(db, EDITOR, "atoms_update_item", item_id="REQ-006", body="At 20 mA.")
    page = call(db, VIEWER, "atoms_list_suspect_links", item_id="REQ-006")
    assert page["meta"] == {"total_count": 2, "limit": 50, "offset": 0, "has_more": False}
    assert [(s["from_id"], s["to_id"]) for s in page["data"]] == [("REQ-001", "REQ-006"), ("TC-005", "REQ-006")]
    cause = page["data"][1]["cause"]
    assert (cause["item_id"], cause["fields_changed"], cause["reason"]) == ("REQ-006", ["title"], "FMEA-12")
    assert cause["changed_by"] == str(EDITOR.user_id)
    ListSuspectLinksOutput.model_validate(page)
    # Paging.
    page = call(db, VIEWER, "atoms_list_suspect_links", limit=4, offset=8)
    assert [(s["from_id"], s["to_id"]) for s in page["data"]] == [("TC-005", "REQ-006"), ("TC-006", "REQ-007")]
    assert page["meta"] == {"total_count": 10, "limit": 4, "offset": 8, "has_more": False}

    # get_item shows the suspect links at either end; a deleted test case takes its suspect link out of view.
    req7 = call(db, VIEWER, "atoms_get_item", item_id="REQ-007")
    assert [(s["from_id"], s["to_id"]) for s in req7["suspect_links"]] == [
        ("REQ-001", "REQ-007"),
        ("TC-006", "REQ-007"),
    ]
    assert req7["verification_status"] == "suspect"
    tc6 = call(db, VIEWER, "atoms_get_item", item_id="TC-006")
    assert [s["to_id"] for s in tc6["suspect_links"]] == ["REQ-007"]
    assert "verification_status" not in tc6

    # atoms_trace flags the link each item was reached over; atoms_export_mermaid labels suspect edges.
    trace = call(db, VIEWER, "atoms_trace", item_id="REQ-007", direction="both", depth=2)
    assert [(i["id"], i["relationship"], i["via"], i["suspect"]) for i in trace["items"]] == [
        ("REQ-001", "parent", "REQ-007", True),
        ("TC-006", "verified_by", "REQ-007", True),
    ]
    trace = call(db, VIEWER, "atoms_trace", item_id="TC-001", direction="upstream", depth=2)
    assert [(i["id"], i["via"], i["suspect"]) for i in trace["items"]] == [
        ("REQ-002", "TC-001", False),
        ("REQ-004", "TC-001", False),
        ("REQ-001", "REQ-002", True),
    ]
    mermaid = call(db, VIEWER, "atoms_export_mermaid", root_item_id="REQ-001", depth=1)["mermaid"].splitlines()
    assert "    REQ_001 -->|suspect| REQ_006" in mermaid
    assert "    TC_005 -.->|verifies, suspect| REQ_006" in mermaid
    assert "    TC_006 -.->|verifies, suspect| REQ_007" in mermaid
    assert "    TC_001 -.->|verifies| REQ_002" in mermaid
    assert sum("suspect" in line for line in mermaid) == 10


def changed_trial(db: psycopg.Connection) -> None:
    """REQ-006 changed after its passing run; TC-006 changed after its passing run."""
    call(db, EDITOR, "atoms_update_item", item_id="REQ-006", title="Battery reserve of 30 minutes")
    call(db, EDITOR, "atoms_update_item", item_id="TC-006", body="Measure at 100 000 lx.")


def test_every_status_both_percentages_and_the_matrix(trial: tuple[psycopg.Connection, dict[str, datetime]]) -> None:
    db, times = trial
    changed_trial(db)
    assert statuses(db) == {
        "REQ-001": "uncovered",
        "REQ-002": "verified",
        "REQ-003": "failing",
        "REQ-004": "blocked",
        "REQ-005": "not_run",
        "REQ-006": "suspect",
        "REQ-007": "suspect",
        "REQ-008": "uncovered",
        "REQ-009": "not_run",
    }

    coverage = call(db, VIEWER, "atoms_get_coverage")
    assert {k: coverage[k] for k in ("covered", "uncovered", "total", "coverage_percent")} == {
        "covered": 7,
        "uncovered": 2,
        "total": 9,
        "coverage_percent": 77.8,
    }
    assert [u["id"] for u in coverage["uncovered_items"]] == ["REQ-001", "REQ-008"]
    assert (coverage["verified_count"], coverage["verified_percent"]) == (1, 11.1)
    assert coverage["by_status"] == {
        "suspect": {"count": 2, "items": ["REQ-006", "REQ-007"]},
        "failing": {"count": 1, "items": ["REQ-003"]},
        "blocked": {"count": 1, "items": ["REQ-004"]},
        "not_run": {"count": 2, "items": ["REQ-005", "REQ-009"]},
        "stale": {"count": 0, "items": []},
        "verified": {"count": 1, "items": ["REQ-002"]},
        "uncovered": {"count": 2, "items": ["REQ-001", "REQ-008"]},
    }
    safety = call(db, VIEWER, "atoms_get_coverage", domain="SAFETY")
    assert (safety["total"], safety["covered"], safety["verified_count"], safety["verified_percent"]) == (4, 3, 1, 25.0)

    summary = call(db, VIEWER, "atoms_project_summary")["coverage"]
    assert (summary["coverage_percent"], summary["verified_percent"], summary["verified_count"]) == (77.8, 11.1, 1)
    assert {s: v["count"] for s, v in summary["by_status"].items()} == {
        "suspect": 2, "failing": 1, "blocked": 1, "not_run": 2, "stale": 0, "verified": 1, "uncovered": 2,
    }  # fmt: skip
    assert all("items" not in v for v in summary["by_status"].values())

    def latest(result: str, at: str, build: str, who: str) -> dict[str, Any]:
        return {"result": result, "run_at": iso(times[at]), "executed_by": who, "build": build}

    def test(key: str, title: str, last: dict[str, Any] | None, suspect_since: str | None = None) -> dict[str, Any]:
        return {
            "id": key,
            "title": title,
            "suspect": suspect_since is not None,
            "suspect_since": suspect_since,
            "latest_result": last,
        }

    page = call(db, VIEWER, "atoms_trace_matrix", limit=4, offset=2)
    TraceMatrixOutput.model_validate(page)
    TraceMatrixOutput.model_validate(call(db, VIEWER, "atoms_trace_matrix", limit=200))
    assert page["meta"] == {"total_count": 9, "limit": 4, "offset": 2, "has_more": True}
    with superuser(db):
        changed = dict(
            db.execute(
                "select key, content_changed_at from public.items where project_id = %s and key in ('REQ-006')",
                (TRIAL,),
            ).fetchall()
        )
        created = db.execute(
            "select created_at from public.items where project_id = %s and key = 'REQ-003'", (TRIAL,)
        ).fetchone()[0]
    tc1 = test("TC-001", "Occlusion at 50 kPa", latest("passed", "d1", "1.0.0", "qa.lead@acme.test"))
    assert [row["id"] for row in page["data"]] == ["REQ-003", "REQ-004", "REQ-005", "REQ-006"]
    assert page["data"][0] == {
        "id": "REQ-003",
        "title": "Free-flow prevention",
        "level": "Subsystem",
        "domains": ["safety"],
        "status": "failing",
        "content_changed_at": iso(created),
        "tests": [
            test("TC-002", "Free-flow clamp", latest("failed", "d3", "1.0.1", "Ana Ortiz")),
            test("TC-004", "Alarm at 70 dB", None),
        ],
    }
    assert page["data"][1]["tests"] == [
        tc1,
        test("TC-003", "Dose limit reached", latest("blocked", "d2", "1.0.1", "Ana Ortiz")),
    ]
    assert page["data"][2]["tests"] == [test("TC-004", "Alarm at 70 dB", None)]
    assert page["data"][3]["content_changed_at"] == iso(changed["REQ-006"])
    assert page["data"][3]["tests"] == [
        test(
            "TC-005", "Battery 30 min", latest("passed", "d4", "1.0.2", '=HYPERLINK("http://x")'),
            suspect_since=iso(changed["REQ-006"]),
        )
    ]  # fmt: skip

    only = call(db, VIEWER, "atoms_trace_matrix", status="not_run")
    assert [row["id"] for row in only["data"]] == ["REQ-005", "REQ-009"]
    assert only["data"][1]["tests"][0]["latest_result"] == latest("not-run", "d5", "1.0.2", "Ana Ortiz")
    alarms = call(db, VIEWER, "atoms_trace_matrix", domain="alarms", level="Subsystem")
    assert [row["id"] for row in alarms["data"]] == ["REQ-005", "REQ-009"]


def test_clear_suspect_then_stale_then_verified(trial: tuple[psycopg.Connection, dict[str, datetime]]) -> None:
    db, _ = trial
    changed_trial(db)

    with db.transaction(force_rollback=True):
        act_as(db, EDITOR)
        with raises_sqlstate(db, "22023"):
            rpc(db, "atoms_clear_suspect", project_id=TRIAL, from_id="TC-005", to_id="REQ-006", reason=None)
        with raises_sqlstate(db, "22023"):
            rpc(db, "atoms_clear_suspect", project_id=TRIAL, from_id="TC-005", to_id="REQ-006", reason="")
        with raises_sqlstate(db, "PT404"):
            rpc(db, "atoms_clear_suspect", project_id=TRIAL, from_id="REQ-006", to_id="TC-005", reason="reviewed")
        with raises_sqlstate(db, "PT409"):
            rpc(db, "atoms_clear_suspect", project_id=TRIAL, from_id="TC-001", to_id="REQ-002", reason="reviewed")
    with db.transaction(force_rollback=True):
        act_as(db, VIEWER)
        with raises_sqlstate(db, "42501"):
            rpc(db, "atoms_clear_suspect", project_id=TRIAL, from_id="TC-005", to_id="REQ-006", reason="reviewed")
    with db.transaction(force_rollback=True):
        act_as(db, GLOBEX_EDITOR)
        with raises_sqlstate(db, "PT404"):
            rpc(db, "atoms_clear_suspect", project_id=TRIAL, from_id="TC-005", to_id="REQ-006", reason="reviewed")
        with raises_sqlstate(db, "PT404"):
            rpc(db, "atoms_list_suspect_links", project_id=TRIAL)
        with raises_sqlstate(db, "PT404"):
            rpc(db, "atoms_trace_matrix", project_id=TRIAL)
    assert statuses(db)["REQ-006"] == "suspect"

    reason = "Reviewed TC-005 against the new wording: the 30-minute run still applies."
    out = call(db, EDITOR, "atoms_clear_suspect", from_id="TC-005", to_id="REQ-006", reason=reason)
    ClearSuspectOutput.model_validate({"data": out})
    assert (out["cleared"], out["type"], out["reason"]) == (True, "verifies", reason)
    assert out["message"] == "Suspect flag cleared: TC-005 verifies REQ-006"
    assert ("TC-005", "REQ-006", "verifies") not in suspect_pairs(db)
    # The passing run predates the change: stale until it runs again.
    assert statuses(db)["REQ-006"] == "stale"
    history = call(db, VIEWER, "atoms_get_history", item_id="REQ-006")["data"]
    cleared = next(e for e in history if e["event_type"] == "suspect_cleared")
    assert (cleared["reason"], cleared["new_values"]["source_id"], cleared["new_values"]["suspect"]) == (
        reason,
        "TC-005",
        False,
    )
    marked = next(e for e in history if e["event_type"] == "suspect_marked")
    assert (marked["new_values"]["cause_id"], marked["new_values"]["cause_fields"]) == ("REQ-006", ["title"])

    with raises_sqlstate(db, "PT409"), db.transaction():
        act_as(db, EDITOR)
        rpc(db, "atoms_clear_suspect", project_id=TRIAL, from_id="TC-005", to_id="REQ-006", reason=reason)

    call(db, EDITOR, "atoms_record_test_result", item_id="TC-005", result="passed", build="1.0.3")
    assert statuses(db)["REQ-006"] == "verified"
    coverage = call(db, VIEWER, "atoms_get_coverage")
    assert (coverage["verified_count"], coverage["verified_percent"]) == (2, 22.2)


def test_suspect_flags_are_append_only(trial: tuple[psycopg.Connection, dict[str, datetime]]) -> None:
    db, _ = trial
    changed_trial(db)
    call(db, EDITOR, "atoms_clear_suspect", from_id="TC-006", to_id="REQ-007", reason="Body wording only.")
    for statement in (
        "update public.link_suspicions set clear_reason = 'rewritten' where cleared_at is not null",
        "update public.link_suspicions set marked_at = now() - interval '1 year' where cleared_at is null",
        "delete from public.link_suspicions",
        "truncate public.link_suspicions",
    ):
        with raises_sqlstate(db, "42501"):
            db.execute(statement)
