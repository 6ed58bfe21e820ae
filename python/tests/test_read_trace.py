"""atoms_trace: upstream/downstream/both over live links between live items, relationship filter, depth, each item
once at its smallest depth, the 200-item cap and cycle safety on data that bypassed the write path."""

from __future__ import annotations

import psycopg
import pytest

from principals import PRINCIPALS
from read_fixtures import ADMIN_ID, Project, rpc, rpc_error

VIEWER = PRINCIPALS["viewer"]


def trace(p: Project, item_id: str, direction: str, **args: object) -> dict[str, object]:
    return rpc(p.db, VIEWER, "atoms_trace", project_id=p.id, item_id=item_id, direction=direction, **args)


def walk(p: Project, item_id: str, direction: str, **args: object) -> list[tuple[str, str, int]]:
    return [(i["id"], i["relationship"], i["depth"]) for i in trace(p, item_id, direction, **args)["items"]]


@pytest.fixture
def project(db: psycopg.Connection) -> Project:
    """REQ-001 > REQ-002 > REQ-003 (hierarchy); TC-001 verifies REQ-002; TC-002 verifies REQ-003;
    NOTE-001 related to REQ-002."""
    p = Project(db)
    for key in ("REQ-001", "REQ-002", "REQ-003", "TC-001", "TC-002", "NOTE-001"):
        p.item(key)
    p.link("hierarchy", "REQ-001", "REQ-002")
    p.link("hierarchy", "REQ-002", "REQ-003")
    p.link("verification", "TC-001", "REQ-002")
    p.link("verification", "TC-002", "REQ-003")
    p.link("related", "REQ-002", "NOTE-001")
    return p


def test_trace_result_has_the_documented_shape(project: Project) -> None:
    result = trace(project, "REQ-002", "upstream")
    assert set(result) == {"root", "direction", "items", "total_count"}
    assert result["root"] == "REQ-002" and result["direction"] == "upstream"
    assert result["items"] == [
        {
            "id": "NOTE-001",
            "title": "Title of NOTE-001",
            "type": "note",
            "relationship": "related",
            "link_kind": "related",
            "via": "REQ-002",
            "depth": 1,
            "suspect": False,
        },
        {
            "id": "REQ-001",
            "title": "Title of REQ-001",
            "type": "requirement",
            "relationship": "parent",
            "link_kind": "hierarchy",
            "via": "REQ-002",
            "depth": 1,
            "suspect": False,
        },
    ]
    assert result["total_count"] == 2


def test_upstream_follows_verifies_then_parents(project: Project) -> None:
    assert walk(project, "TC-002", "upstream") == [
        ("REQ-003", "verifies", 1),
        ("REQ-002", "parent", 2),
        ("NOTE-001", "related", 3),
        ("REQ-001", "parent", 3),
    ]


def test_downstream_follows_children_and_verifying_tests(project: Project) -> None:
    assert walk(project, "REQ-001", "downstream") == [
        ("REQ-002", "child", 1),
        ("NOTE-001", "related", 2),
        ("REQ-003", "child", 2),
        ("TC-001", "verified_by", 2),
        ("TC-002", "verified_by", 3),
    ]


def test_both_is_the_union_of_upstream_and_downstream(project: Project) -> None:
    up = walk(project, "REQ-002", "upstream")
    down = walk(project, "REQ-002", "downstream")
    both = walk(project, "REQ-002", "both")
    assert sorted(both) == sorted(set(up) | set(down))
    assert both == [
        ("NOTE-001", "related", 1),
        ("REQ-001", "parent", 1),
        ("REQ-003", "child", 1),
        ("TC-001", "verified_by", 1),
        ("TC-002", "verified_by", 2),
    ]


def test_from_a_related_item_only_related_links_are_followed(project: Project) -> None:
    # NOTE-001 is related to REQ-002; REQ-002's parents, children and tests are not NOTE-001's.
    assert walk(project, "NOTE-001", "both") == [("REQ-002", "related", 1)]


def test_relationship_types_narrow_what_the_direction_follows(project: Project) -> None:
    assert walk(project, "REQ-001", "downstream", relationship_types=["child"]) == [
        ("REQ-002", "child", 1),
        ("REQ-003", "child", 2),
    ]
    # both never turns around: TC-001 verifies the parent REQ-002, not REQ-003, so it is not part of REQ-003's trace.
    assert walk(project, "REQ-003", "both", relationship_types=["verified_by", "parent"]) == [
        ("REQ-002", "parent", 1),
        ("TC-002", "verified_by", 1),
        ("REQ-001", "parent", 2),
    ]
    assert walk(project, "REQ-001", "upstream", relationship_types=["child"]) == []


def test_related_depth_bounds_the_related_hops_of_a_path(project: Project) -> None:
    # NOTE-001 ~ NOTE-002 ~ NOTE-003 (related), NOTE-001 ~ REQ-002 from the fixture.
    project.item("NOTE-002")
    project.item("NOTE-003")
    project.link("related", "NOTE-001", "NOTE-002")
    project.link("related", "NOTE-002", "NOTE-003")
    related = {0: [], 1: ["NOTE-001"], 2: ["NOTE-001", "NOTE-002"], 3: ["NOTE-001", "NOTE-002", "NOTE-003"]}
    for hops, keys in related.items():
        items = trace(project, "REQ-002", "upstream", related_depth=hops)["items"]
        assert [i["id"] for i in items if i["relationship"] == "related"] == keys
        assert [(i["id"], i["via"]) for i in items if i["relationship"] == "related"] == list(
            zip(keys, ["REQ-002", "NOTE-001", "NOTE-002"][: len(keys)], strict=True)
        )
    # From REQ-001 the path to NOTE-001 runs child (REQ-002) then related: one related hop, allowed by default.
    assert ("NOTE-001", "related", 2) in walk(project, "REQ-001", "downstream")
    assert ("NOTE-001", "related", 2) not in walk(project, "REQ-001", "downstream", related_depth=0)


def test_depth_limits_the_walk(project: Project) -> None:
    assert walk(project, "REQ-001", "downstream", depth=1) == [("REQ-002", "child", 1)]
    db = project.db
    chain = Project(db, "a0000000-0000-4000-8000-000000000202", name="Chain")
    for n in range(1, 14):
        chain.item(f"REQ-{n:03d}")
    for n in range(1, 13):
        chain.link("hierarchy", f"REQ-{n:03d}", f"REQ-{n + 1:03d}")
    assert [d for _, _, d in walk(chain, "REQ-001", "downstream")] == [1, 2, 3, 4, 5]
    assert [d for _, _, d in walk(chain, "REQ-001", "downstream", depth=10)] == list(range(1, 11))


def test_each_item_appears_once_at_its_smallest_depth(db: psycopg.Connection) -> None:
    p = Project(db)
    for key in ("REQ-001", "REQ-002", "REQ-003", "REQ-004", "REQ-005"):
        p.item(key)
    # Diamond 1 > 2 > 4, 1 > 3 > 4, plus a shortcut 1 > 4; and 4 > 5 reachable along every path.
    edges = ("001>002", "001>003", "002>004", "003>004", "001>004", "004>005")
    for parent, child in (e.split(">") for e in edges):
        p.link("hierarchy", f"REQ-{parent}", f"REQ-{child}")
    assert walk(p, "REQ-001", "downstream") == [
        ("REQ-002", "child", 1),
        ("REQ-003", "child", 1),
        ("REQ-004", "child", 1),
        ("REQ-005", "child", 2),
    ]


def test_deleted_items_and_links_are_not_followed(project: Project) -> None:
    project.delete_link("verification", "TC-001", "REQ-002")
    project.delete_item("REQ-003")
    assert walk(project, "REQ-001", "downstream") == [("REQ-002", "child", 1), ("NOTE-001", "related", 2)]
    assert rpc_error(project.db, VIEWER, "atoms_trace", project_id=project.id, item_id="REQ-003", direction="both") == (
        "PT404"
    )


def test_a_hierarchy_cycle_that_slipped_into_the_data_cannot_loop(db: psycopg.Connection) -> None:
    p = Project(db)
    for key in ("REQ-001", "REQ-002", "REQ-003", "TC-001"):
        p.item(key)
    p.link("verification", "TC-001", "REQ-001")
    # As the superuser, with triggers off (a write-path cycle guard would refuse these rows): 1 > 2 > 3 > 1.
    db.execute("set session_replication_role = replica")
    try:
        p.link("hierarchy", "REQ-001", "REQ-002")
        p.link("hierarchy", "REQ-002", "REQ-003")
        p.link("hierarchy", "REQ-003", "REQ-001")
    finally:
        db.execute("set session_replication_role = origin")
    for direction in ("upstream", "downstream", "both"):
        result = trace(p, "REQ-001", direction, depth=10)
        keys = [i["id"] for i in result["items"]]
        assert len(keys) == len(set(keys)) and "REQ-001" not in keys
    assert walk(p, "REQ-001", "downstream", depth=10) == [
        ("REQ-002", "child", 1),
        ("TC-001", "verified_by", 1),
        ("REQ-003", "child", 2),
    ]
    assert walk(p, "TC-001", "upstream", depth=10) == [
        ("REQ-001", "verifies", 1),
        ("REQ-003", "parent", 2),
        ("REQ-002", "parent", 3),
    ]


def _fan_out(db: psycopg.Connection, p: Project, parent_key: str, first: int, count: int) -> None:
    """``count`` child requirements REQ-<first>.. of ``parent_key``, inserted in two statements."""
    db.execute(
        "insert into public.items (org_id, project_id, key, item_type, title, created_by, updated_by)"
        " select %s, %s, 'REQ-' || lpad(n::text, 4, '0'), 'requirement', 'bulk ' || n, %s, %s"
        " from generate_series(%s::int, %s::int) as n",
        (p.org_id, p.id, ADMIN_ID, ADMIN_ID, first, first + count - 1),
    )
    db.execute(
        "insert into public.item_links (org_id, project_id, link_kind, source_item_id, target_item_id)"
        " select %s, %s, 'hierarchy', parent.id, child.id"
        " from public.items as parent, public.items as child"
        " where parent.project_id = %s and parent.key = %s and child.project_id = %s and child.title like 'bulk %%'"
        " and substring(child.key from 5)::int between %s and %s",
        (p.org_id, p.id, p.id, parent_key, p.id, first, first + count - 1),
    )


def test_the_walk_stops_at_200_items_in_key_order(db: psycopg.Connection) -> None:
    p = Project(db)
    p.item("REQ-001")
    _fan_out(db, p, "REQ-001", 1000, 250)
    result = trace(p, "REQ-001", "downstream")
    assert result["total_count"] == 200 and len(result["items"]) == 200
    assert [i["id"] for i in result["items"]] == [f"REQ-{n}" for n in range(1000, 1200)]


def test_the_cap_cuts_the_level_that_crosses_it(db: psycopg.Connection) -> None:
    p = Project(db)
    p.item("REQ-001")
    p.item("REQ-002")
    p.link("hierarchy", "REQ-001", "REQ-002")
    _fan_out(db, p, "REQ-002", 1000, 300)
    result = trace(p, "REQ-001", "downstream")
    assert result["total_count"] == 200
    assert result["items"][0] == {
        "id": "REQ-002",
        "title": "Title of REQ-002",
        "type": "requirement",
        "relationship": "child",
        "link_kind": "hierarchy",
        "via": "REQ-001",
        "depth": 1,
        "suspect": False,
    }
    assert [i["id"] for i in result["items"][1:]] == [f"REQ-{n}" for n in range(1000, 1199)]
    assert {i["depth"] for i in result["items"][1:]} == {2}


@pytest.mark.parametrize(
    "args",
    [
        {"direction": None},
        {"direction": "sideways"},
        {"direction": "UP"},
        {"depth": 0},
        {"depth": 11},
        {"relationship_types": []},
        {"relationship_types": ["children"]},
        {"relationship_types": ["child", None]},
        {"item_id": "REQ-1"},
        {"project_id": "zzz"},
        {"related_depth": -1},
        {"related_depth": 11},
        {"related_depth": None},
    ],
)
def test_trace_rejects_bad_arguments(project: Project, args: dict[str, object]) -> None:
    call = {"project_id": project.id, "item_id": "REQ-001", "direction": "both", **args}
    assert rpc_error(project.db, VIEWER, "atoms_trace", **call) == "22023"


def test_trace_of_an_unknown_item_is_not_found(project: Project) -> None:
    assert rpc_error(project.db, VIEWER, "atoms_trace", project_id=project.id, item_id="TC-404", direction="both") == (
        "PT404"
    )
