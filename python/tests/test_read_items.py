"""Read RPCs for projects and items: atoms_list_projects, atoms_list_items, atoms_browse, atoms_get_item and
atoms_get_history, against hand-built fixtures (exact shapes, order, pagination, soft delete, validation)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import psycopg
import pytest

from principals import ACME_PROJECT, PRINCIPALS, Principal, as_principal
from read_fixtures import FIXTURE_PROJECT, Project, rpc, rpc_error

VIEWER = PRINCIPALS["viewer"]
ADMIN = PRINCIPALS["admin"]
SUMMARY_KEYS = {"id", "type", "title", "summary", "domains", "level"}
PAGE_META_KEYS = {"total_count", "limit", "offset", "has_more"}


@pytest.fixture
def project(db: psycopg.Connection) -> Project:
    p = Project(db)
    p.item("REQ-001", "Top", summary="s1", domains=("safety", "braking"), level="System")
    p.item("REQ-002", "Child", domains=("safety",), level="Subsystem")
    p.item("TC-001", "Test one", domains=("safety",))
    p.item("NOTE-001", "A note")
    p.item("REQ-003", "Gone", domains=("safety",), level="System")
    p.item("REQ-004", "Component req", domains=("braking",), level="Component")
    p.delete_item("REQ-003")
    return p


# ---- atoms_list_projects ----


def test_list_projects_shows_each_visible_project_with_role_and_live_item_counts(project: Project) -> None:
    result = rpc(project.db, VIEWER, "atoms_list_projects")
    assert result["meta"] == {"total_count": 2, "limit": 50, "offset": 0, "has_more": False}
    by_id = {p["id"]: p for p in result["data"]}
    assert set(by_id) == {ACME_PROJECT, FIXTURE_PROJECT}
    fixture = by_id[FIXTURE_PROJECT]
    assert set(fixture) == {
        "id",
        "name",
        "description",
        "org_id",
        "org_name",
        "role",
        "item_counts",
        "updated_at",
        "archived",
        "archived_at",
    }
    assert (fixture["archived"], fixture["archived_at"]) == (False, None)
    assert fixture["role"] == "viewer"
    assert fixture["org_name"] == "Acme Automotive"
    assert fixture["item_counts"] == {"requirement": 3, "test-case": 1, "note": 1}
    assert fixture["updated_at"].endswith("Z")
    assert by_id[ACME_PROJECT]["item_counts"] == {"requirement": 8, "test-case": 8, "note": 4}
    assert rpc(project.db, ADMIN, "atoms_list_projects")["data"][0]["role"] == "admin"


def test_list_projects_paginates_by_name_with_has_more(db: psycopg.Connection) -> None:
    for n in range(3):
        Project(db, f"a0000000-0000-4000-8000-00000000030{n}", name=f"Z project {n}")
    first = rpc(db, VIEWER, "atoms_list_projects", limit=2)
    assert [p["name"] for p in first["data"]] == ["Brake controller", "Z project 0"]
    assert first["meta"] == {"total_count": 4, "limit": 2, "offset": 0, "has_more": True}
    last = rpc(db, VIEWER, "atoms_list_projects", limit=2, offset=2)
    assert [p["name"] for p in last["data"]] == ["Z project 1", "Z project 2"]
    assert last["meta"]["has_more"] is False
    beyond = rpc(db, VIEWER, "atoms_list_projects", offset=10)
    assert beyond["data"] == [] and beyond["meta"]["has_more"] is False


def test_list_projects_for_a_user_in_no_organisation_is_an_empty_list(db: psycopg.Connection) -> None:
    result = rpc(db, PRINCIPALS["non_member"], "atoms_list_projects")
    assert result == {"data": [], "meta": {"total_count": 0, "limit": 50, "offset": 0, "has_more": False}}


def test_list_projects_without_a_signed_in_user_is_unauthenticated(db: psycopg.Connection) -> None:
    nobody = Principal("nobody", "authenticated")
    assert rpc_error(db, nobody, "atoms_list_projects") == "28000"
    assert rpc_error(db, PRINCIPALS["anon"], "atoms_list_projects") == "42501"


@pytest.mark.parametrize("args", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": None}])
def test_list_projects_rejects_out_of_range_paging(db: psycopg.Connection, args: dict[str, object]) -> None:
    assert rpc_error(db, VIEWER, "atoms_list_projects", **args) == "22023"


# ---- atoms_list_items / atoms_browse ----


def test_list_items_orders_by_creation_and_hides_soft_deleted_items(project: Project) -> None:
    result = rpc(project.db, VIEWER, "atoms_list_items", project_id=project.id)
    assert [i["id"] for i in result["data"]] == ["REQ-001", "REQ-002", "TC-001", "NOTE-001", "REQ-004"]
    assert result["data"][0] == {
        "id": "REQ-001",
        "type": "requirement",
        "title": "Top",
        "summary": "s1",
        "domains": ["safety", "braking"],
        "level": "System",
    }
    assert all(set(i) == SUMMARY_KEYS for i in result["data"])
    assert result["meta"] == {"total_count": 5, "limit": 50, "offset": 0, "has_more": False}


def test_list_items_breaks_creation_time_ties_by_key(db: psycopg.Connection) -> None:
    p = Project(db)
    for key in ("REQ-010", "REQ-002", "REQ-001"):
        p.item(key)
    db.execute("update public.items set created_at = '2026-01-01' where project_id = %s", (p.id,))
    keys = [i["id"] for i in rpc(db, VIEWER, "atoms_list_items", project_id=p.id)["data"]]
    assert keys == ["REQ-001", "REQ-002", "REQ-010"]


def test_list_items_paginates_with_has_more(project: Project) -> None:
    page = rpc(project.db, VIEWER, "atoms_list_items", project_id=project.id, limit=2, offset=2)
    assert [i["id"] for i in page["data"]] == ["TC-001", "NOTE-001"]
    assert page["meta"] == {"total_count": 5, "limit": 2, "offset": 2, "has_more": True}
    tail = rpc(project.db, VIEWER, "atoms_list_items", project_id=project.id, limit=2, offset=4)
    assert [i["id"] for i in tail["data"]] == ["REQ-004"]
    assert tail["meta"]["has_more"] is False


def test_list_items_filters_are_anded(project: Project) -> None:
    def keys(**filters: object) -> list[str]:
        return [i["id"] for i in rpc(project.db, VIEWER, "atoms_list_items", project_id=project.id, **filters)["data"]]

    assert keys(type="requirement") == ["REQ-001", "REQ-002", "REQ-004"]
    assert keys(domain="safety") == ["REQ-001", "REQ-002", "TC-001"]
    assert keys(domain="SAFETY") == ["REQ-001", "REQ-002", "TC-001"], "domains are stored and matched lower-case"
    assert keys(type="requirement", domain="safety") == ["REQ-001", "REQ-002"]
    assert keys(type="requirement", domain="safety", level="System") == ["REQ-001"]
    assert keys(type="test-case", level="System") == []


def test_list_items_type_table_is_accepted_and_matches_nothing(project: Project) -> None:
    result = rpc(project.db, VIEWER, "atoms_list_items", project_id=project.id, type="table")
    assert result == {"data": [], "meta": {"total_count": 0, "limit": 50, "offset": 0, "has_more": False}}


@pytest.mark.parametrize(
    "args",
    [
        {"project_id": "not-a-uuid"},
        {"project_id": None},
        {"type": "epic"},
        {"type": "Requirement"},
        {"level": "system"},
        {"domain": ""},
        {"domain": "   "},
        {"domain": "x" * 65},
        {"domain": "a\x01b"},
        {"limit": 0},
        {"limit": 201},
        {"offset": -1},
    ],
)
def test_list_items_rejects_bad_arguments(project: Project, args: dict[str, object]) -> None:
    call = {"project_id": project.id, **args}
    assert rpc_error(project.db, VIEWER, "atoms_list_items", **call) == "22023"


def test_browse_returns_what_list_items_returns(project: Project) -> None:
    for filters in ({}, {"type": "requirement", "limit": 1, "offset": 1}, {"domain": "braking"}):
        browse = rpc(project.db, VIEWER, "atoms_browse", project_id=project.id, **filters)
        listed = rpc(project.db, VIEWER, "atoms_list_items", project_id=project.id, **filters)
        assert browse == listed
    assert rpc_error(project.db, VIEWER, "atoms_browse", project_id=project.id, limit=500) == "22023"


# ---- atoms_get_item ----


def test_get_item_returns_the_full_shape_with_relationships_of_live_links_only(db: psycopg.Connection) -> None:
    p = Project(db)
    p.item("REQ-001", "Parent")
    p.item("REQ-002", "Me", summary="sum", body="body text", domains=("safety",), level="Subsystem")
    p.item("REQ-003", "Child A")
    p.item("REQ-004", "Child B (deleted)")
    p.item("REQ-005", "Child C (link removed)")
    p.item("NOTE-001", "Related note")
    p.item("TC-001", "Verifier")
    p.link("hierarchy", "REQ-001", "REQ-002")
    for child in ("REQ-003", "REQ-004", "REQ-005"):
        p.link("hierarchy", "REQ-002", child)
    p.link("related", "REQ-002", "NOTE-001")
    p.link("verification", "TC-001", "REQ-002")
    p.delete_item("REQ-004")
    p.delete_link("hierarchy", "REQ-002", "REQ-005")

    item = rpc(db, VIEWER, "atoms_get_item", project_id=p.id, item_id="REQ-002")
    assert set(item) == {
        "id",
        "type",
        "title",
        "summary",
        "body",
        "tags",
        "ownership",
        "relationships",
        "links",
        "status",
        "metadata",
        "suspect_links",
        "verification_status",
    }
    assert item["suspect_links"] == [] and item["verification_status"] == "not_run"
    assert item["id"] == "REQ-002" and item["type"] == "requirement" and item["title"] == "Me"
    assert item["summary"] == "sum" and item["body"] == "body text"
    assert item["tags"] == {"domains": ["safety"], "level": "Subsystem"}
    assert item["relationships"] == {
        "parents": ["REQ-001"],
        "children": ["REQ-003"],
        "related": ["NOTE-001"],
        "verifies": [],
        "verified_by": ["TC-001"],
    }
    assert item["links"] == [] and item["status"] is None
    assert item["ownership"] == item["metadata"]
    assert set(item["ownership"]) == {"created_by", "created_at", "updated_by", "updated_at"}
    assert item["ownership"]["created_at"] == "2026-01-01T00:00:02.000000Z"

    tc = rpc(db, VIEWER, "atoms_get_item", project_id=p.id, item_id="TC-001")
    assert tc["relationships"]["verifies"] == ["REQ-002"]
    assert rpc(db, VIEWER, "atoms_get_item", project_id=p.id, item_id="NOTE-001")["relationships"]["related"] == [
        "REQ-002"
    ]


def test_get_item_of_a_test_case_has_its_latest_result_and_results_newest_first(db: psycopg.Connection) -> None:
    p = Project(db)
    p.item("TC-001")
    p.result("TC-001", "failed", "first", hours_ago=3)
    p.result("TC-001", "blocked", "second", hours_ago=2)
    p.result("TC-001", "passed", "third", hours_ago=1)
    tc = rpc(db, VIEWER, "atoms_get_item", project_id=p.id, item_id="TC-001")
    assert tc["status"] == "passed"
    assert [r["note"] for r in tc["test_results"]] == ["third", "second", "first"]
    assert set(tc["test_results"][0]) == {
        "result",
        "note",
        "run_at",
        "build",
        "executed_by",
        "executed_by_id",
        "evidence",
        "recorded_at",
        "recorded_by",
        "recorded_by_name",
        "recorded_by_email",
        "actor",
    }
    # Runs recorded without run_at ran when they were recorded.
    assert tc["test_results"][0]["run_at"] == tc["test_results"][0]["recorded_at"]
    assert tc["latest_result"] == {
        "result": "passed",
        "note": "third",
        "run_at": tc["test_results"][0]["run_at"],
        "build": None,
        "executed_by": None,
        "evidence": None,
        "recorded_at": tc["test_results"][0]["recorded_at"],
    }


def test_get_item_of_a_never_run_test_case_has_no_status(db: psycopg.Connection) -> None:
    p = Project(db)
    p.item("TC-001")
    tc = rpc(db, VIEWER, "atoms_get_item", project_id=p.id, item_id="TC-001")
    assert tc["status"] is None and tc["latest_result"] is None and tc["test_results"] == []
    assert "test_results" not in rpc(db, VIEWER, "atoms_get_item", project_id=ACME_PROJECT, item_id="REQ-001")


def test_get_item_of_a_deleted_or_unknown_item_is_not_found(project: Project) -> None:
    assert rpc_error(project.db, VIEWER, "atoms_get_item", project_id=project.id, item_id="REQ-003") == "PT404"
    assert rpc_error(project.db, VIEWER, "atoms_get_item", project_id=project.id, item_id="REQ-999") == "PT404"
    # The seed's TC-001 lives in another project of the same organisation: keys are per project.
    assert rpc_error(project.db, VIEWER, "atoms_get_item", project_id=project.id, item_id="TC-008") == "PT404"


@pytest.mark.parametrize("item_id", ["req-001", "REQ-1", "REQ_001", "", None, "REQ-001; drop table x"])
def test_get_item_rejects_malformed_keys(project: Project, item_id: str | None) -> None:
    assert rpc_error(project.db, VIEWER, "atoms_get_item", project_id=project.id, item_id=item_id) == "22023"


# ---- atoms_get_history ----


def _update(p: Project, key: str, **fields: str) -> None:
    """An update as the superuser: the write path's history trigger records it (actor 'user')."""
    for field, value in fields.items():
        p.db.execute(
            f"update public.items set {field} = %s where project_id = %s and key = %s",  # noqa: S608 (test-chosen column)
            (value, p.id, key),
        )


def test_get_history_is_newest_first_with_the_documented_shape_and_a_limit(project: Project) -> None:
    _update(project, "REQ-001", title="Renamed")
    _update(project, "REQ-001", summary="new summary")
    _update(project, "REQ-002", body="other item")
    project.link("hierarchy", "REQ-001", "REQ-002")
    page = rpc(project.db, VIEWER, "atoms_get_history", project_id=project.id, item_id="REQ-001")
    assert page["meta"] == {"total_count": 4, "limit": 20, "offset": 0, "has_more": False}
    events = page["data"]
    assert [e["event_type"] for e in events] == ["linked", "updated", "updated", "created"]
    assert set(events[0]) == {
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
    assert events[1]["fields_changed"] == ["summary"]
    assert events[1]["old_values"] == {"summary": "s1"} and events[1]["new_values"] == {"summary": "new summary"}
    assert events[2]["old_values"] == {"title": "Top"} and events[2]["new_values"] == {"title": "Renamed"}
    assert events[1]["actor"] == "user"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", events[0]["changed_at"])
    assert events[0]["changed_at"] >= events[1]["changed_at"] >= events[2]["changed_at"]
    limited = rpc(project.db, VIEWER, "atoms_get_history", project_id=project.id, item_id="REQ-001", limit=2)
    assert [e["event_type"] for e in limited["data"]] == ["linked", "updated"]
    assert limited["meta"] == {"total_count": 4, "limit": 2, "offset": 0, "has_more": True}
    rest = rpc(project.db, VIEWER, "atoms_get_history", project_id=project.id, item_id="REQ-001", limit=2, offset=2)
    assert [e["event_type"] for e in rest["data"]] == ["updated", "created"]
    assert rest["meta"] == {"total_count": 4, "limit": 2, "offset": 2, "has_more": False}
    past = rpc(project.db, VIEWER, "atoms_get_history", project_id=project.id, item_id="REQ-001", offset=9)
    assert past == {"data": [], "meta": {"total_count": 4, "limit": 20, "offset": 9, "has_more": False}}
    beyond = rpc(project.db, VIEWER, "atoms_get_history", project_id=project.id, item_id="REQ-001", offset=2147483647)
    assert beyond["data"] == [] and beyond["meta"]["total_count"] == 4 and not beyond["meta"]["has_more"]


def test_get_history_orders_equal_timestamps_by_chain_position(project: Project) -> None:
    # Rows loaded directly with one timestamp (the last writes of this test: they bypass the chain head).
    same = datetime(2100, 1, 1, tzinfo=UTC)
    project.history("REQ-001", "updated", at=same, fields=("title",))
    project.history("REQ-001", "deleted", at=same)
    events = rpc(project.db, VIEWER, "atoms_get_history", project_id=project.id, item_id="REQ-001", limit=2)["data"]
    assert [e["event_type"] for e in events] == ["deleted", "updated"]


def test_get_history_works_for_soft_deleted_items(project: Project) -> None:
    events = rpc(project.db, VIEWER, "atoms_get_history", project_id=project.id, item_id="REQ-003")["data"]
    assert [e["event_type"] for e in events] == ["deleted", "created"]
    assert events[0]["fields_changed"] == ["deleted_at"]


def test_get_history_of_an_unknown_item_is_not_found(project: Project) -> None:
    assert rpc_error(project.db, VIEWER, "atoms_get_history", project_id=project.id, item_id="REQ-404") == "PT404"


@pytest.mark.parametrize(
    "args", [{"limit": 0}, {"limit": 101}, {"offset": -1}, {"item_id": "nope"}, {"project_id": "x"}]
)
def test_get_history_rejects_bad_arguments(project: Project, args: dict[str, object]) -> None:
    call = {"project_id": project.id, "item_id": "REQ-001", **args}
    assert rpc_error(project.db, VIEWER, "atoms_get_history", **call) == "22023"


def test_read_rpcs_return_the_same_json_through_a_text_cast(project: Project) -> None:
    """What PostgREST serialises (the jsonb's text) decodes to what psycopg decodes."""
    with as_principal(project.db, VIEWER) as conn:
        text = conn.execute("select public.atoms_list_items(project_id => %s)::text", (project.id,)).fetchone()[0]
    assert json.loads(text) == rpc(project.db, VIEWER, "atoms_list_items", project_id=project.id)
