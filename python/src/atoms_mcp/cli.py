"""The `atoms` command line: thin typer wrappers over the library functions."""

from __future__ import annotations

from typing import Annotated

import psycopg
import typer

from atoms_mcp import localdb, migrations
from atoms_mcp.settings import Settings

app = typer.Typer(help="atoms: Postgres-first requirements traceability with an MCP server.", no_args_is_help=True)
db_app = typer.Typer(help="Local database: create, migrate, reset.", no_args_is_help=True)
app.add_typer(db_app, name="db")

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", help="PostgreSQL URL (default: ATOMS_DATABASE_URL, else the local server)."),
]


def _fail(error: Exception) -> None:
    typer.secho(f"{type(error).__name__}: {error}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


@db_app.command("reset")
def db_reset(
    database_url: DatabaseUrl = None,
    with_seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Load supabase/seed.sql afterwards.")] = False,
) -> None:
    """Drop and recreate the database, then apply compat (when needed), every migration and optionally the seed."""
    settings = Settings()
    url = database_url or settings.database_url
    try:
        applied = migrations.reset_database(url, settings.supabase_dir, with_seed=with_seed)
    except (psycopg.Error, ValueError) as error:
        _fail(error)
    typer.echo(f"reset {_safe(url)}: applied {len(applied)} migrations{' and the seed' if with_seed else ''}")


@db_app.command("push")
def db_push(database_url: DatabaseUrl = None) -> None:
    """Apply the pending migrations only (like `supabase db push`)."""
    settings = Settings()
    url = database_url or settings.database_url
    try:
        applied = migrations.migrate(url, settings.supabase_dir, with_seed=False)
    except psycopg.Error as error:
        _fail(error)
    typer.echo(f"pushed {len(applied)} migrations to {_safe(url)}" if applied else "database is up to date")


@db_app.command("up")
def db_up(
    database_url: DatabaseUrl = None,
    with_seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Load the seed once.")] = True,
) -> None:
    """Make sure the database exists and is migrated (and seeded once)."""
    settings = Settings()
    url = database_url or settings.database_url
    try:
        how = localdb.ensure_local_server(url, settings.supabase_dir.parent / ".atoms")
        if how != "running":
            typer.echo(f"PostgreSQL: {how}")
        if not migrations.database_exists(url):
            migrations.create_database(url)
        applied = migrations.migrate(url, settings.supabase_dir, with_seed=with_seed)
    except (psycopg.Error, RuntimeError, OSError) as error:
        _fail(error)
    typer.echo(f"{_safe(url)} is ready ({len(applied)} migrations applied now)")


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.pop("password", None)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname')}"
