"""The `atoms` command: the typer app, its one Settings object per process, and where each command lives.

`atoms call`, `atoms tools` (cli.call), `atoms serve` (cli.serve), `atoms login|logout|whoami` (cli.session),
`atoms db ...` (cli.database), `atoms dev ...` (cli.dev). Exit codes: 0 success, 1 failure, 2 usage, 3 partial.
"""

from __future__ import annotations

import pydantic
import typer

from atoms_mcp.cli import call, serve, session
from atoms_mcp.cli.common import usage
from atoms_mcp.cli.database import db_app
from atoms_mcp.cli.dev import dev_app
from atoms_mcp.settings import Settings

__all__ = ["app"]

app = typer.Typer(
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


app.command("tools")(call.tools)
app.command("call")(call.call)
app.command("serve")(serve.serve)
app.command("whoami")(session.whoami)
app.command("login")(session.login)
app.command("logout")(session.logout)
app.add_typer(db_app, name="db")
app.add_typer(dev_app, name="dev")
