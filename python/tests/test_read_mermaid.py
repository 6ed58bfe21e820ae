"""atoms_export_mermaid: every diagram is parsed by a strict validator of the Mermaid subset atoms emits, hostile
titles round-trip through the entity escaping, and root/depth/include_tests scope the diagram."""

from __future__ import annotations

import re

import psycopg
import pytest

from principals import PRINCIPALS
from read_fixtures import ADMIN_ID, Project, rpc, rpc_error

VIEWER = PRINCIPALS["viewer"]

_NODE_ID = r"[A-Z]+_[0-9]{3,}"
_NODE = re.compile(rf"^    ({_NODE_ID})\[\"((?:[A-Za-z0-9 .,:_/()+?!='-]|#[0-9]{{1,7}};)*)\"\]$")
_HIERARCHY = re.compile(rf"^    ({_NODE_ID}) --> ({_NODE_ID})$")
_VERIFIES = re.compile(rf"^    (TC_[0-9]{{3,}}) -\.->\|verifies\| ({_NODE_ID})$")
_COMMENT = re.compile(r"^%% [A-Za-z0-9 ,.:]+$")
_ENTITY = re.compile(r"#([0-9]{1,7});")


def parse(diagram: str) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """Validate ``diagram`` line by line; return {node id: decoded label} and [(kind, from, to)]."""
    lines = diagram.split("\n")
    assert lines[0] == "graph TD", lines[0]
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str]] = []
    for line in lines[1:]:
        if node := _NODE.match(line):
            assert node.group(1) not in nodes, f"node declared twice: {line}"
            nodes[node.group(1)] = _ENTITY.sub(lambda m: chr(int(m.group(1))), node.group(2))
        elif edge := _HIERARCHY.match(line):
            edges.append(("hierarchy", edge.group(1), edge.group(2)))
        elif edge := _VERIFIES.match(line):
            edges.append(("verifies", edge.group(1), edge.group(2)))
        else:
            assert _COMMENT.match(line), f"line outside the grammar: {line!r}"
    for _, source, target in edges:
        assert source in nodes and target in nodes, f"edge to an undeclared node: {source} -> {target}"
    return nodes, edges


def export(p: Project, **args: object) -> dict[str, object]:
    result = rpc(p.db, VIEWER, "atoms_export_mermaid", project_id=p.id, **args)
    assert set(result) == {"mermaid", "node_count", "edge_count"}
    nodes, edges = parse(str(result["mermaid"]))
    assert result["node_count"] == len(nodes) and result["edge_count"] == len(edges)
    return result


@pytest.fixture
def project(db: psycopg.Connection) -> Project:
    """REQ-001 > REQ-002 > REQ-003 > REQ-004; TC-001 verifies REQ-002, TC-002 verifies REQ-004; NOTE-001."""
    p = Project(db)
    for key in ("REQ-001", "REQ-002", "REQ-003", "REQ-004", "TC-001", "TC-002", "NOTE-001"):
        p.item(key, f"{key} title")
    for parent, child in (("REQ-001", "REQ-002"), ("REQ-002", "REQ-003"), ("REQ-003", "REQ-004")):
        p.link("hierarchy", parent, child)
    p.link("verification", "TC-001", "REQ-002")
    p.link("verification", "TC-002", "REQ-004")
    p.link("related", "REQ-001", "NOTE-001")
    return p


def test_a_rooted_diagram_has_the_documented_syntax(project: Project) -> None:
    result = export(project, root_item_id="REQ-001", depth=1)
    assert result["mermaid"] == "\n".join(
        [
            "graph TD",
            '    REQ_001["REQ-001 title"]',
            '    REQ_002["REQ-002 title"]',
            '    TC_001["TC-001 title"]',
            "    REQ_001 --> REQ_002",
            "    TC_001 -.->|verifies| REQ_002",
        ]
    )
    assert (result["node_count"], result["edge_count"]) == (3, 2)


def test_depth_scopes_the_hierarchy_below_the_root(project: Project) -> None:
    nodes, _ = parse(str(export(project, root_item_id="REQ-001")["mermaid"]))
    assert set(nodes) == {"REQ_001", "REQ_002", "REQ_003", "REQ_004", "TC_001", "TC_002"}, "default depth 3"
    nodes, _ = parse(str(export(project, root_item_id="REQ-001", depth=2)["mermaid"]))
    assert set(nodes) == {"REQ_001", "REQ_002", "REQ_003", "TC_001"}
    nodes, _ = parse(str(export(project, root_item_id="REQ-003", depth=10)["mermaid"]))
    assert set(nodes) == {"REQ_003", "REQ_004", "TC_002"}


def test_include_tests_false_leaves_test_cases_and_verification_out(project: Project) -> None:
    result = export(project, root_item_id="REQ-001", include_tests=False)
    nodes, edges = parse(str(result["mermaid"]))
    assert set(nodes) == {"REQ_001", "REQ_002", "REQ_003", "REQ_004"}
    assert all(kind == "hierarchy" for kind, _, _ in edges) and len(edges) == 3
    nodes, _ = parse(str(export(project, include_tests=False)["mermaid"]))
    assert not any(n.startswith("TC_") for n in nodes)


def test_without_a_root_every_live_item_is_drawn(project: Project) -> None:
    project.delete_item("REQ-003")
    project.delete_link("verification", "TC-001", "REQ-002")
    result = export(project)
    nodes, edges = parse(str(result["mermaid"]))
    assert set(nodes) == {"REQ_001", "REQ_002", "REQ_004", "TC_001", "TC_002", "NOTE_001"}
    assert sorted(edges) == [("hierarchy", "REQ_001", "REQ_002"), ("verifies", "TC_002", "REQ_004")]


HOSTILE_TITLES = [
    "He said \"stop\" and 'go'",
    "brackets [a] {b} (c) <d>",
    "pipe | and -->|verifies| B",
    "<script>alert(1)</script>",
    "line one\nline two\r\nthree\tfour",
    "back\\slash \\n \\",
    "#hash; semi; #quot; #35; &amp; &lt;",
    "unicode ü °C 中文 😀 \u200b \u2028",
    '"]\n    click REQ_001 call alert()\n    A["',
    "%% not a comment",
    "end",
    "`backtick` *star* _under_ ~tilde~ $dollar$ ^caret @at",
]


def test_hostile_titles_always_produce_a_valid_diagram_and_round_trip(db: psycopg.Connection) -> None:
    p = Project(db)
    for n, title in enumerate(HOSTILE_TITLES, start=1):
        p.item(f"REQ-{n:03d}", title)
    p.link("hierarchy", "REQ-001", "REQ-002")
    nodes, _ = parse(str(export(p)["mermaid"]))
    for n, title in enumerate(HOSTILE_TITLES, start=1):
        expected = title.replace("\t", " ").replace("\r", " ").replace("\n", " ")
        assert nodes[f"REQ_{n:03d}"] == expected


def test_labels_use_entity_codes_for_quotes_hashes_and_markup(db: psycopg.Connection) -> None:
    p = Project(db)
    p.item("REQ-001", 'a"b#c;<d>|é')
    assert export(p)["mermaid"].split("\n")[1] == '    REQ_001["a#34;b#35;c#59;#60;d#62;#124;#233;"]'


def test_a_huge_project_is_cut_at_1000_nodes_with_a_comment(db: psycopg.Connection) -> None:
    p = Project(db)
    db.execute(
        "insert into public.items (org_id, project_id, key, item_type, title, created_by, updated_by, created_at)"
        " select %s, %s, 'NOTE-' || lpad(n::text, 4, '0'), 'note', 'note ' || n, %s, %s,"
        " '2026-01-01'::timestamptz + make_interval(secs => n)"
        " from generate_series(1, 1005) as n",
        (p.org_id, p.id, ADMIN_ID, ADMIN_ID),
    )
    result = export(p)
    assert result["node_count"] == 1000
    lines = str(result["mermaid"]).split("\n")
    assert lines[1] == "%% truncated: the first 1000 items are shown"
    assert lines[2] == '    NOTE_0001["note 1"]' and lines[-1] == '    NOTE_1000["note 1000"]'


def test_the_validator_rejects_what_mermaid_would_misread() -> None:
    for bad in (
        'graph TD\n    REQ_001["a"b"]',
        'graph TD\n    REQ_001["a]"]',
        "graph TD\n    REQ-001 --> REQ_002",
        'graph TD\n    REQ_001["a"]\n    REQ_001 --> REQ_002',
        'graph TD\n    REQ_001["a\nb"]',
    ):
        with pytest.raises(AssertionError):
            parse(bad)


@pytest.mark.parametrize(
    "args",
    [{"depth": 0}, {"depth": 11}, {"include_tests": None}, {"root_item_id": "req-001"}, {"project_id": "nope"}],
)
def test_export_rejects_bad_arguments(project: Project, args: dict[str, object]) -> None:
    assert rpc_error(project.db, VIEWER, "atoms_export_mermaid", **{"project_id": project.id, **args}) == "22023"


def test_export_of_an_unknown_or_deleted_root_is_not_found(project: Project) -> None:
    project.delete_item("REQ-004")
    for key in ("REQ-404", "REQ-004"):
        assert rpc_error(project.db, VIEWER, "atoms_export_mermaid", project_id=project.id, root_item_id=key) == "PT404"
