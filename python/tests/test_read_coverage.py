"""atoms_get_coverage and atoms_project_summary: coverage arithmetic (live test cases over live links only, one
decimal, 0 requirements -> 0.0), filters, test status by latest result, recent history, chain integrity."""

from __future__ import annotations

import psycopg
import pytest

from principals import ACME_PROJECT, PRINCIPALS, as_principal
from read_fixtures import Project, rpc, rpc_error

VIEWER = PRINCIPALS["viewer"]

STATUSES = ("suspect", "failing", "blocked", "not_run", "stale", "verified", "uncovered")


@pytest.fixture
def project(db: psycopg.Connection) -> Project:
    """Six requirements: 001 and 002 covered; 003 verified only by a deleted test case; 004 only over a removed
    link; 005 never linked; 006 covered but itself deleted."""
    p = Project(db)
    p.item("REQ-001", "Covered system", domains=("safety",), level="System")
    p.item("REQ-002", "Covered twice", domains=("braking",), level="Subsystem")
    p.item("REQ-003", "Deleted test", domains=("safety",), level="System")
    p.item("REQ-004", "Removed link only", domains=("safety",), level="Component")
    p.item("REQ-005", "Never linked", domains=("hmi",), level="System")
    p.item("REQ-006", "Deleted requirement", domains=("safety",), level="System")
    for key in ("TC-001", "TC-002", "TC-003", "TC-004"):
        p.item(key)
    p.link("verification", "TC-001", "REQ-001")
    p.link("verification", "TC-001", "REQ-002")
    p.link("verification", "TC-002", "REQ-002")
    p.link("verification", "TC-003", "REQ-003")
    p.link("verification", "TC-004", "REQ-004")
    p.link("verification", "TC-004", "REQ-006")
    p.delete_item("TC-003")
    p.delete_link("verification", "TC-004", "REQ-004")
    p.delete_item("REQ-006")
    return p


def test_coverage_counts_live_requirements_verified_by_live_tests_over_live_links(project: Project) -> None:
    result = rpc(project.db, VIEWER, "atoms_get_coverage", project_id=project.id)
    assert set(result) == {
        "covered", "uncovered", "total", "coverage_percent", "uncovered_items", "verified_count", "verified_percent",
        "by_status",
    }  # fmt: skip
    assert (result["covered"], result["uncovered"], result["total"]) == (2, 3, 5)
    # No test has run: covered but not verified.
    assert (result["verified_count"], result["verified_percent"]) == (0, 0.0)
    assert {s: v["count"] for s, v in result["by_status"].items()} == {
        "suspect": 0, "failing": 0, "blocked": 0, "not_run": 2, "stale": 0, "verified": 0, "uncovered": 3,
    }  # fmt: skip
    assert result["by_status"]["not_run"]["items"] == ["REQ-001", "REQ-002"]
    assert result["coverage_percent"] == 40.0
    assert result["uncovered_items"] == [
        {"id": "REQ-003", "title": "Deleted test", "type": "requirement", "domains": ["safety"], "level": "System"},
        {
            "id": "REQ-004",
            "title": "Removed link only",
            "type": "requirement",
            "domains": ["safety"],
            "level": "Component",
        },
        {"id": "REQ-005", "title": "Never linked", "type": "requirement", "domains": ["hmi"], "level": "System"},
    ]


def test_coverage_percent_has_one_decimal(db: psycopg.Connection) -> None:
    p = Project(db)
    for key in ("REQ-001", "REQ-002", "REQ-003", "TC-001"):
        p.item(key)
    p.link("verification", "TC-001", "REQ-001")
    result = rpc(db, VIEWER, "atoms_get_coverage", project_id=p.id)
    assert result["coverage_percent"] == 33.3
    p.link("verification", "TC-001", "REQ-002")
    assert rpc(db, VIEWER, "atoms_get_coverage", project_id=p.id)["coverage_percent"] == 66.7
    with as_principal(db, VIEWER) as conn:
        text = conn.execute("select public.atoms_get_coverage(project_id => %s)::text", (p.id,)).fetchone()[0]
    assert '"coverage_percent": 66.7' in text, "the serialised number keeps one decimal"


def test_a_project_without_requirements_has_zero_coverage_not_an_error(db: psycopg.Connection) -> None:
    p = Project(db)
    p.item("TC-001")
    result = rpc(db, VIEWER, "atoms_get_coverage", project_id=p.id)
    assert result == {
        "covered": 0, "uncovered": 0, "total": 0, "coverage_percent": 0.0, "uncovered_items": [],
        "verified_count": 0, "verified_percent": 0.0, "by_status": {s: {"count": 0, "items": []} for s in STATUSES},
    }  # fmt: skip
    with as_principal(db, VIEWER) as conn:
        text = conn.execute("select public.atoms_get_coverage(project_id => %s)::text", (p.id,)).fetchone()[0]
    assert '"coverage_percent": 0.0' in text


def test_coverage_filters_by_domain_and_level(project: Project) -> None:
    def numbers(**filters: object) -> tuple[int, int, int, float]:
        r = rpc(project.db, VIEWER, "atoms_get_coverage", project_id=project.id, **filters)
        return r["covered"], r["uncovered"], r["total"], r["coverage_percent"]

    assert numbers(domain="safety") == (1, 2, 3, 33.3)
    assert numbers(domain="Safety ") == (1, 2, 3, 33.3), "domains are matched trimmed and lower-case"
    assert numbers(level="System") == (1, 2, 3, 33.3)
    assert numbers(domain="safety", level="Component") == (0, 1, 1, 0.0)
    assert numbers(domain="nowhere") == (0, 0, 0, 0.0)


@pytest.mark.parametrize("args", [{"level": "Module"}, {"domain": ""}, {"domain": "d" * 65}, {"project_id": "1"}])
def test_coverage_rejects_bad_arguments(project: Project, args: dict[str, object]) -> None:
    assert rpc_error(project.db, VIEWER, "atoms_get_coverage", **{"project_id": project.id, **args}) == "22023"


# ---- atoms_project_summary ----


def test_summary_has_the_documented_shape_and_counts_live_items(project: Project) -> None:
    summary = rpc(project.db, VIEWER, "atoms_project_summary", project_id=project.id)
    assert set(summary) == {"project", "counts", "coverage", "tests", "recent_changes", "history_intact"}
    assert summary["project"] == {"id": project.id, "name": "Fixture project", "org_name": "Acme Automotive"}
    assert summary["counts"] == {"requirement": 5, "test-case": 3, "note": 0}
    assert summary["coverage"] == {
        "covered": 2, "uncovered": 3, "total": 5, "coverage_percent": 40.0,
        "verified_count": 0, "verified_percent": 0.0,
        "by_status": {s: {"count": {"not_run": 2, "uncovered": 3}.get(s, 0)} for s in STATUSES},
    }  # fmt: skip
    assert summary["history_intact"] is True


def test_summary_counts_each_live_test_case_by_its_latest_result(db: psycopg.Connection) -> None:
    p = Project(db)
    for key in ("TC-001", "TC-002", "TC-003", "TC-004", "TC-005", "TC-006", "TC-007"):
        p.item(key)
    p.result("TC-001", "failed", hours_ago=5)
    p.result("TC-001", "passed", hours_ago=1)
    p.result("TC-002", "passed", hours_ago=1)
    p.result("TC-002", "failed", hours_ago=0)
    p.result("TC-003", "blocked")
    p.result("TC-004", "not-run")
    p.result("TC-006", "passed")
    p.delete_item("TC-006")
    tests = rpc(db, VIEWER, "atoms_project_summary", project_id=p.id)["tests"]
    assert tests == {"passed": 1, "failed": 1, "blocked": 1, "not-run": 1, "never_run": 2}


def test_summary_lists_the_last_ten_history_events_newest_first(project: Project) -> None:
    summary = rpc(project.db, VIEWER, "atoms_project_summary", project_id=project.id)
    changes = summary["recent_changes"]
    assert len(changes) == 10
    assert [(c["item_id"], c["event_type"]) for c in changes[:3]] == [
        ("REQ-006", "deleted"),
        ("TC-004", "unlinked"),
        ("TC-003", "deleted"),
    ], "soft-deleted items are still named by their key"
    assert set(changes[0]) == {
        "item_id",
        "event_type",
        "changed_by",
        "changed_by_name",
        "changed_by_email",
        "changed_at",
        "actor",
        "session_id",
        "fields_changed",
        "old_values",
        "new_values",
        "reason",
    }
    assert [c["changed_at"] for c in changes] == sorted((c["changed_at"] for c in changes), reverse=True)


def test_summary_reports_a_tampered_history_chain(project: Project) -> None:
    db = project.db
    db.execute("set session_replication_role = replica")  # past the append-only trigger, as an attacker with DBA rights
    try:
        db.execute(
            'update public.change_history set new_values = \'{"title": "forged"}\''
            " where project_id = %s and chain_seq = 2",
            (project.id,),
        )
    finally:
        db.execute("set session_replication_role = origin")
    assert rpc(db, VIEWER, "atoms_project_summary", project_id=project.id)["history_intact"] is False
    assert rpc(db, VIEWER, "atoms_project_summary", project_id=ACME_PROJECT)["history_intact"] is True


def test_summary_of_an_empty_project(db: psycopg.Connection) -> None:
    p = Project(db)
    summary = rpc(db, VIEWER, "atoms_project_summary", project_id=p.id)
    assert summary["counts"] == {"requirement": 0, "test-case": 0, "note": 0}
    assert summary["coverage"] == {
        "covered": 0, "uncovered": 0, "total": 0, "coverage_percent": 0.0,
        "verified_count": 0, "verified_percent": 0.0,
        "by_status": {s: {"count": 0} for s in STATUSES},
    }  # fmt: skip
    assert summary["tests"] == {"passed": 0, "failed": 0, "blocked": 0, "not-run": 0, "never_run": 0}
    assert summary["recent_changes"] == [] and summary["history_intact"] is True


def test_summary_rejects_a_malformed_project_id(db: psycopg.Connection) -> None:
    assert rpc_error(db, VIEWER, "atoms_project_summary", project_id="{a0000000-0000-4000-8000-000000000101}") == (
        "22023"
    )
