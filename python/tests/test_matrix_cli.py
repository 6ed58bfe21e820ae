"""`atoms matrix`: the traceability matrix as table, CSV, Markdown and JSON, with CSV cells that a spreadsheet would
run as a formula neutralised and Markdown cells escaped; and the command end to end on the seed project."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from atoms_mcp.cli.app import app
from atoms_mcp.cli.matrix_report import COLUMNS, csv_cell, markdown_cell, matrix_lines, to_csv, to_markdown
from mcp_support import ACME_PROJECT, gateway_url

runner = CliRunner()

HOSTILE = '=HYPERLINK("http://evil.test","x")'
ROWS: list[dict[str, Any]] = [
    {
        "id": "REQ-001",
        "title": "Pipes | and *stars* and <b>tags</b>\nsecond line",
        "level": "System",
        "status": "failing",
        "tests": [
            {
                "id": "TC-001",
                "title": "+cmd|' /C calc'!A0",
                "suspect": True,
                "latest_result": {
                    "result": "failed",
                    "run_at": "2026-11-20T10:00:00.000000Z",
                    "executed_by": HOSTILE,
                    "build": "@SUM(1+1)",
                },
            },
            {"id": "TC-002", "title": "-2+3", "suspect": False, "latest_result": None},
        ],
    },
    {"id": "REQ-002", "title": "\tTabbed", "level": None, "status": "uncovered", "tests": []},
]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_csv_cell_that_would_start_a_formula_is_prefixed(start: str) -> None:
    assert csv_cell(f"{start}1+1") == f"'{start}1+1"


def test_a_csv_cell_that_would_not_is_unchanged() -> None:
    assert csv_cell("Dose limit = 5 ml") == "Dose limit = 5 ml"
    assert csv_cell("") == ""


def test_the_csv_report_has_one_line_per_requirement_and_test_and_no_live_formula() -> None:
    parsed = list(csv.reader(io.StringIO(to_csv(matrix_lines(ROWS)))))
    assert parsed[0] == list(COLUMNS)
    assert [(r[0], r[4], r[6], r[7]) for r in parsed[1:]] == [
        ("REQ-001", "TC-001", "yes", "failed"),
        ("REQ-001", "TC-002", "no", "never run"),
        ("REQ-002", "", "", ""),
    ]
    assert parsed[1][5] == "'+cmd|' /C calc'!A0"
    assert parsed[1][9] == "'" + HOSTILE
    assert parsed[1][10] == "'@SUM(1+1)"
    assert parsed[2][5] == "'-2+3"
    assert parsed[3][1] == "'\tTabbed"
    for line in parsed[1:]:
        assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in line)


def test_markdown_cells_are_escaped_and_stay_in_their_cell() -> None:
    assert markdown_cell("a | b") == "a \\| b"
    assert markdown_cell("*x* _y_ `z` <b>") == "\\*x\\* \\_y\\_ \\`z\\` \\<b\\>"
    assert markdown_cell("[link](http://x)") == "\\[link\\]\\(http://x\\)"
    assert markdown_cell("one\r\ntwo\nthree") == "one<br>two<br>three"
    table = to_markdown(matrix_lines(ROWS)).splitlines()
    assert table[0] == "| " + " | ".join(COLUMNS) + " |"
    assert len(table) == 2 + 3
    for line in table[2:]:
        # Every line has exactly the columns' separators: an escaped pipe never splits a cell.
        assert line.replace("\\|", "").count("|") == len(COLUMNS) + 1


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch, url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("ATOMS_DATABASE_URL", url)
    monkeypatch.setenv("ATOMS_GATEWAY_DATABASE_URL", gateway_url(url))
    monkeypatch.setenv("ATOMS_STATE_DIR", str(tmp_path / "state"))


def _matrix(*args: str) -> Any:
    return runner.invoke(app, ["matrix", ACME_PROJECT, "--as", "viewer@acme.test", *args])


@pytest.mark.usefixtures("environment")
def test_the_command_prints_every_requirement_of_the_seed_project_in_each_format(url: str) -> None:
    with psycopg.connect(url) as conn:
        keys = [
            k
            for (k,) in conn.execute(
                "select key from public.items where project_id = %s and item_type = 'requirement'"
                " and deleted_at is null order by created_at, key",
                (ACME_PROJECT,),
            )
        ]
    as_json = _matrix("--output", "json")
    assert as_json.exit_code == 0, as_json.output
    rows = json.loads(as_json.output)
    assert [r["id"] for r in rows] == keys
    as_csv = _matrix("--output", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    assert as_csv.output == to_csv(matrix_lines(rows))
    as_markdown = _matrix("--output", "markdown")
    assert as_markdown.output == to_markdown(matrix_lines(rows))
    table = _matrix()
    assert table.exit_code == 0, table.output
    assert table.output.splitlines()[0].split()[:4] == ["REQUIREMENT", "TITLE", "LEVEL", "STATUS"]
    uncovered = json.loads(_matrix("--status", "uncovered", "--output", "json").output)
    assert {r["status"] for r in uncovered} <= {"uncovered"}


@pytest.mark.usefixtures("environment")
def test_a_refused_matrix_is_one_line_and_exit_1() -> None:
    result = runner.invoke(app, ["matrix", ACME_PROJECT, "--as", "admin@globex.test"])
    assert result.exit_code == 1
    assert "NOT_FOUND" in result.output
    bad = _matrix("--status", "green")
    assert bad.exit_code == 1
    assert "VALIDATION_ERROR" in bad.output
