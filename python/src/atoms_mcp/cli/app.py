"""The `atoms` command: the typer app, its one Settings object per process, and where each command lives.

`atoms call`, `atoms tools` (cli.call), `atoms matrix` (cli.matrix), `atoms serve` (cli.serve),
`atoms login|logout|whoami` (cli.session), `atoms db ...` (cli.database), `atoms dev ...` (cli.dev),
`atoms org|member|invitation|project ...` (cli.team). Exit codes: 0 success, 1 failure, 2 usage, 3 partial.

A command's module is imported, and its click command built from its signature, only when that command runs (or
help lists it): `atoms call` loads neither the database tooling nor the sign-in commands.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Any

import pydantic
import typer
import typer.main
from typer._click import Command, Context
from typer.core import TyperGroup

from atoms_mcp.cli.common import usage
from atoms_mcp.settings import Settings

__all__ = ["COMMANDS", "app"]

# Each subcommand: the module that defines it and its function (a command) or Typer (a group of commands).
COMMANDS: dict[str, tuple[str, str]] = {
    "tools": ("atoms_mcp.cli.call", "tools"),
    "call": ("atoms_mcp.cli.call", "call"),
    "matrix": ("atoms_mcp.cli.matrix", "matrix"),
    "serve": ("atoms_mcp.cli.serve", "serve"),
    "whoami": ("atoms_mcp.cli.session", "whoami"),
    "login": ("atoms_mcp.cli.session", "login"),
    "logout": ("atoms_mcp.cli.session", "logout"),
    "db": ("atoms_mcp.cli.database", "db_app"),
    "dev": ("atoms_mcp.cli.dev", "dev_app"),
    "org": ("atoms_mcp.cli.team", "org_app"),
    "member": ("atoms_mcp.cli.team", "member_app"),
    "invitation": ("atoms_mcp.cli.team", "invitation_app"),
    "project": ("atoms_mcp.cli.team", "project_app"),
}


class _LoadedOnUse(Mapping[str, Command]):
    """The subcommands by name; each is imported and built on first lookup, then kept."""

    def __init__(self) -> None:
        self._built: dict[str, Command] = {}

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            module, attribute = COMMANDS[name]
            target: Any = getattr(importlib.import_module(module), attribute)
            if not isinstance(target, typer.Typer):
                target, function = typer.Typer(add_completion=False), target
                target.command(name)(function)
            command = typer.main.get_command(target)
            command.name = name
            self._built[name] = command
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS)


class AtomsCommands(TyperGroup):
    """typer's command group over `COMMANDS`, loading a subcommand only when it is looked up."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _LoadedOnUse()

    def list_commands(self, ctx: Context) -> list[str]:
        return list(COMMANDS)


app = typer.Typer(
    cls=AtomsCommands,
    help="atoms: Postgres-first requirements traceability with an MCP server.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.callback()
def main(ctx: typer.Context) -> None:
    """Build the process's settings from the ATOMS_* environment once; every command reads them from here."""
    try:
        ctx.obj = Settings()
    except pydantic.ValidationError as invalid:
        problems = "; ".join(f"ATOMS_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in invalid.errors())
        usage(f"invalid configuration: {problems}")
