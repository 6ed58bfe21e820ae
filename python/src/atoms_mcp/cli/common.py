"""What every `atoms` command shares: the process's one Settings object, and how failures end a command.

Exit codes: 0 success, 1 failure (a tool error, a database or sign-in problem), 2 usage (unknown tool,
malformed arguments, bad options), 3 partial success (a bulk call where some items failed).
"""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from psycopg.conninfo import conninfo_to_dict

from atoms_mcp.settings import Settings

__all__ = ["EXIT_FAILURE", "EXIT_PARTIAL", "EXIT_USAGE", "DatabaseUrl", "fail", "safe_url", "settings_of", "usage"]

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="PostgreSQL URL (default: ATOMS_DATABASE_URL, else the local server)."),
]


def settings_of(ctx: typer.Context) -> Settings:
    """The Settings built once for this process by the `atoms` callback."""
    settings = ctx.find_root().obj
    assert isinstance(settings, Settings), "the atoms callback builds the settings"
    return settings


def fail(error: Exception | str) -> NoReturn:
    """End the command with exit 1 and one line on stderr naming the problem."""
    line = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    typer.secho(line, err=True, fg=typer.colors.RED)
    raise typer.Exit(EXIT_FAILURE)


def usage(message: str) -> NoReturn:
    """End the command with exit 2 and one line on stderr saying what to do instead."""
    typer.secho(f"Usage error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(EXIT_USAGE)


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    info = conninfo_to_dict(url)
    info.pop("password", None)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname')}"
