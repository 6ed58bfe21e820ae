"""`atoms matrix`: a project's traceability matrix (requirement -> verifying tests -> latest result, status and
suspect flags) for a person (table), a spreadsheet (csv), a document (markdown) or a script (json).

It pages through atoms_trace_matrix with the largest page (each page is one tool call through the CLI's pipeline:
rate-limited and audited like `atoms call`) and prints every requirement that matches the filters.
"""

from __future__ import annotations

import asyncio
import json
from enum import StrEnum
from typing import Annotated, Any, cast

import psycopg
import typer

from atoms_mcp.cli.call import run_call, token_source
from atoms_mcp.cli.common import EXIT_FAILURE, fail, settings_of
from atoms_mcp.cli.matrix_report import matrix_lines, to_csv, to_markdown
from atoms_mcp.cli.output import print_rows
from atoms_mcp.core.caller import TokenSource
from atoms_mcp.core.errors import AtomsError
from atoms_mcp.core.registry import TOOLS_BY_NAME
from atoms_mcp.settings import Settings

__all__ = ["MatrixOutput", "matrix"]

PAGE_SIZE = 200


class MatrixOutput(StrEnum):
    """The output format of `atoms matrix`."""

    table = "table"
    csv = "csv"
    markdown = "markdown"
    json = "json"


def matrix(
    ctx: typer.Context,
    project_id: Annotated[str, typer.Argument(help="Project UUID (atoms call atoms_list_projects lists them).")],
    level: Annotated[str | None, typer.Option(help="Only requirements of this level.")] = None,
    domain: Annotated[str | None, typer.Option(help="Only requirements with this domain.")] = None,
    status: Annotated[
        str | None,
        typer.Option(help="Only this status: suspect, failing, blocked, not_run, stale, verified, uncovered."),
    ] = None,
    as_user: Annotated[
        str | None, typer.Option("--as", help="Local dev: act as this seed user (mints a dev token).")
    ] = None,
    output: Annotated[
        MatrixOutput, typer.Option("--output", "-o", help="table (default), csv, markdown or json.")
    ] = MatrixOutput.table,
) -> None:
    """Print the traceability matrix: per requirement its status, verifying tests and their latest results."""
    settings = settings_of(ctx)
    filters = {"level": level, "domain": domain, "status": status}
    arguments = {"project_id": project_id, **{k: v for k, v in filters.items() if v is not None}}
    try:
        rows = asyncio.run(_all_rows(settings, arguments, token_source(settings, as_user, interactive=None)))
    except (AtomsError, psycopg.Error, LookupError) as error:
        fail(error)
    if output is MatrixOutput.json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif output is MatrixOutput.csv:
        typer.echo(to_csv(matrix_lines(rows)), nl=False)
    elif output is MatrixOutput.markdown:
        typer.echo(to_markdown(matrix_lines(rows)), nl=False)
    else:
        print_rows(matrix_lines(rows))


async def _all_rows(settings: Settings, arguments: dict[str, Any], source: TokenSource) -> list[dict[str, Any]]:
    """Every page of atoms_trace_matrix; a refused page ends the command with its error (exit 1)."""
    spec = TOOLS_BY_NAME["atoms_trace_matrix"]
    rows: list[dict[str, Any]] = []
    offset = 0
    while True:
        outcome = await run_call(settings, spec, {**arguments, "limit": PAGE_SIZE, "offset": offset}, source)
        if outcome.is_error:
            error = cast(dict[str, Any], outcome.payload.get("error") or {})
            typer.secho(f"{error.get('code')}: {error.get('message')}", err=True, fg=typer.colors.RED)
            raise typer.Exit(EXIT_FAILURE)
        rows += cast(list[dict[str, Any]], outcome.payload["data"])
        meta = cast(dict[str, Any], outcome.payload["meta"])
        if not meta["has_more"]:
            return rows
        offset += PAGE_SIZE
