"""The traceability matrix as a report: one line per requirement and verifying test (a requirement without tests
gets one line), written as an aligned table, CSV or Markdown.

CSV is opened by spreadsheets, which run a cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return as a
formula (CSV injection): such a cell is prefixed with `'` so it is shown as text. Markdown cells escape what would
end the cell or format it (`|`, backslash, `*`, `_`, backticks, brackets, `<`, `>`, ...) and join lines with `<br>`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any, cast

__all__ = ["COLUMNS", "csv_cell", "markdown_cell", "matrix_lines", "to_csv", "to_markdown"]

COLUMNS = (
    "requirement",
    "title",
    "level",
    "status",
    "test",
    "test_title",
    "suspect",
    "result",
    "run_at",
    "executed_by",
    "build",
)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~])")


def matrix_lines(rows: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The matrix rows of atoms_trace_matrix flattened: one line per (requirement, test), every cell a string."""
    lines: list[dict[str, str]] = []
    for row in rows:
        head = {
            "requirement": str(row["id"]),
            "title": str(row["title"]),
            "level": str(row.get("level") or ""),
            "status": str(row["status"]),
        }
        tests = cast(list[dict[str, Any]], row.get("tests") or [])
        if not tests:
            lines.append({**head, **dict.fromkeys(COLUMNS[4:], "")})
        for test in tests:
            latest = cast(dict[str, Any], test.get("latest_result") or {})
            lines.append(
                {
                    **head,
                    "test": str(test["id"]),
                    "test_title": str(test["title"]),
                    "suspect": "yes" if test.get("suspect") else "no",
                    "result": str(latest.get("result") or "never run"),
                    "run_at": str(latest.get("run_at") or ""),
                    "executed_by": str(latest.get("executed_by") or ""),
                    "build": str(latest.get("build") or ""),
                }
            )
    return lines


def csv_cell(value: str) -> str:
    """A cell a spreadsheet shows as text: one that would start a formula is prefixed with an apostrophe."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def to_csv(lines: Sequence[dict[str, str]]) -> str:
    """The lines as CSV (RFC 4180 quoting, one line per row) with a header row, formula-like cells neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow([csv_cell(line[column]) for column in COLUMNS])
    return buffer.getvalue()


def markdown_cell(value: str) -> str:
    """A cell of a Markdown (GFM) table: special characters backslash-escaped, line breaks as <br>."""
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", value)
    return "<br>".join(part for part in escaped.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def to_markdown(lines: Sequence[dict[str, str]]) -> str:
    """The lines as a GFM table with a header row."""
    out = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(markdown_cell(line[column]) for column in COLUMNS) + " |" for line in lines]
    return "\n".join(out) + "\n"
