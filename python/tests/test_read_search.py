"""atoms_search: full text over title > summary > body (websearch syntax), exact key first, technical words kept
searchable by the atoms_text configuration, type filter, limits, soft-deleted items excluded."""

from __future__ import annotations

import psycopg
import pytest

from principals import PRINCIPALS
from read_fixtures import Project, rpc, rpc_error

VIEWER = PRINCIPALS["viewer"]


@pytest.fixture
def project(db: psycopg.Connection) -> Project:
    p = Project(db)
    p.item("REQ-001", "Other", body="the word widget appears only in the body")
    p.item("REQ-002", "Widget calibration", summary="nothing here")
    p.item("REQ-003", "Something", summary="a widget in the summary")
    p.item("TC-001", "Widget test", body="checks the widget twice, widget")
    p.item("REQ-004", "Compliance ISO-26262 ASIL-D", summary="CAN bus latency <200ms", body="See REQ-001.")
    p.item("NOTE-001", "Braking notes", summary="the brakes were braking hard")
    p.item("REQ-005", "Deleted widget")
    p.delete_item("REQ-005")
    return p


def search(p: Project, query: str, **args: object) -> list[str]:
    return [i["id"] for i in rpc(p.db, VIEWER, "atoms_search", project_id=p.id, query=query, **args)["data"]]


def test_search_ranks_title_over_summary_over_body(project: Project) -> None:
    assert search(project, "widget", type="requirement") == ["REQ-002", "REQ-003", "REQ-001"]


def test_search_returns_item_summaries_and_total_count_meta(project: Project) -> None:
    result = rpc(project.db, VIEWER, "atoms_search", project_id=project.id, query="widget", limit=2)
    assert result["meta"] == {"total_count": 4, "limit": 2, "offset": 0, "has_more": True}
    rest = rpc(project.db, VIEWER, "atoms_search", project_id=project.id, query="widget", limit=2, offset=3)
    assert len(rest["data"]) == 1
    assert rest["meta"] == {"total_count": 4, "limit": 2, "offset": 3, "has_more": False}
    assert len(result["data"]) == 2
    assert set(result["data"][0]) == {"id", "type", "title", "summary", "domains", "level"}


def test_search_excludes_soft_deleted_items(project: Project) -> None:
    assert "REQ-005" not in search(project, "widget")
    assert search(project, "deleted") == []


def test_an_exact_key_ranks_first_in_any_case(project: Project) -> None:
    assert search(project, "REQ-001") == ["REQ-001", "REQ-004"], "the key itself, then the item mentioning it"
    assert search(project, "  req-001 ") == ["REQ-001", "REQ-004"]
    assert search(project, "tc-001")[0] == "TC-001"
    assert search(project, "REQ-001", type="test-case") == [], "the type filter applies to the exact key too"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ISO-26262", ["REQ-004"]),
        ("iso 26262", ["REQ-004"]),
        ("26262", ["REQ-004"]),
        ("ASIL-D", ["REQ-004"]),
        ("CAN", ["REQ-004"]),
        ("can bus", ["REQ-004"]),
        ("<200ms", ["REQ-004"]),
        ("200ms", ["REQ-004"]),
        ("brake", ["NOTE-001"]),
    ],
)
def test_technical_words_stay_searchable(project: Project, query: str, expected: list[str]) -> None:
    assert search(project, query) == expected


def test_websearch_syntax_phrases_or_and_negation(project: Project) -> None:
    assert search(project, '"widget calibration"') == ["REQ-002"]
    assert search(project, '"calibration widget"') == []
    assert sorted(search(project, "calibration OR braking")) == ["NOTE-001", "REQ-002"]
    assert sorted(search(project, "widget -calibration -test")) == ["REQ-001", "REQ-003"]
    assert search(project, "widget calibration") == ["REQ-002"], "words are AND-ed"


def test_a_query_without_any_word_finds_nothing_instead_of_failing(project: Project) -> None:
    assert search(project, "!!! ::: &&") == []
    assert search(project, "' or 1=1 --") == []


def test_type_filter(project: Project) -> None:
    assert search(project, "widget", type="test-case") == ["TC-001"]
    assert search(project, "braking", type="note") == ["NOTE-001"]
    result = rpc(project.db, VIEWER, "atoms_search", project_id=project.id, query="widget", type="table")
    assert result == {"data": [], "meta": {"total_count": 0, "limit": 25, "offset": 0, "has_more": False}}


def test_search_stops_at_the_limit_but_counts_every_match(db: psycopg.Connection) -> None:
    p = Project(db)
    for n in range(1, 31):
        p.item(f"REQ-{n:03d}", f"sensor {n}")
    result = rpc(db, VIEWER, "atoms_search", project_id=p.id, query="sensor")
    assert len(result["data"]) == 25 and result["meta"] == {
        "total_count": 30,
        "limit": 25,
        "offset": 0,
        "has_more": True,
    }
    assert search(p, "sensor", limit=100)[:3] == ["REQ-001", "REQ-002", "REQ-003"], "equal rank: oldest first"


@pytest.mark.parametrize(
    "args",
    [
        {"query": ""},
        {"query": " \t\n "},
        {"query": None},
        {"query": "x" * 1001},
        {"query": "bad\x00"[:-1] + "\x07"},
        {"type": "tables"},
        {"limit": 0},
        {"limit": 101},
        {"project_id": "123"},
    ],
)
def test_search_rejects_bad_arguments(project: Project, args: dict[str, object]) -> None:
    call = {"project_id": project.id, "query": "widget", **args}
    assert rpc_error(project.db, VIEWER, "atoms_search", **call) == "22023"


def test_a_query_of_1000_characters_is_accepted(project: Project) -> None:
    assert search(project, "widget " + "x" * 993) == []
