"""How `atoms tools` and `atoms call` print: JSON (for scripts and pipes) or a table (for people)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, cast

import typer

__all__ = ["Output", "print_payload", "print_rows"]

MAX_CELL = 60


class Output(StrEnum):
    """The output format of a command."""

    json = "json"
    table = "table"


def print_payload(payload: dict[str, Any], output: Output) -> None:
    """A call's envelope: the JSON itself, or its data as a table (errors as one line on stderr)."""
    if output is Output.json:
        typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        return
    error = _mapping(payload.get("error"))
    if payload.get("status") == "error" and error is not None:
        typer.secho(f"{error.get('code')}: {error.get('message')}", err=True, fg=typer.colors.RED)
        return
    data: Any = payload.get("data", payload)
    record = _mapping(data)
    if isinstance(data, list):
        print_rows([_mapping(row) or {"value": row} for row in cast(list[Any], data)])
    elif record is not None:
        print_rows([{"field": key, "value": value} for key, value in record.items()])
    else:
        typer.echo(_cell(data))
    meta = _mapping(payload.get("meta"))
    if meta is not None:
        typer.echo("  ".join(f"{key}: {_cell(value)}" for key, value in meta.items()))


def print_rows(rows: Sequence[dict[str, Any]]) -> None:
    """Rows as an aligned table: one column per key, in order of first appearance."""
    if not rows:
        typer.echo("(no rows)")
        return
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    typer.echo("  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip())
    for line in cells:
        typer.echo("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def _mapping(value: Any) -> dict[str, Any] | None:
    """``value`` as a JSON object, or None when it is something else."""
    return cast(dict[str, Any], value) if isinstance(value, dict) else None


def _cell(value: Any) -> str:
    """One value in at most MAX_CELL characters on one line."""
    if value is None:
        text = "-"
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(item, str | int | float) for item in cast(list[Any], value)):
        text = ", ".join(str(item) for item in cast(list[Any], value))
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"
