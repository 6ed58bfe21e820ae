"""`atoms db ...`: the local database: make a server answer, create, migrate, reset."""

from __future__ import annotations

from typing import Annotated

import psycopg
import typer

from atoms_mcp.cli.common import DatabaseUrl, fail, safe_url, settings_of
from atoms_mcp.database import local_cluster, migrations

__all__ = ["db_app"]

db_app = typer.Typer(
    help="Local database: start a server, create, migrate, reset.", no_args_is_help=True, add_completion=False
)


@db_app.command("start")
def db_start(ctx: typer.Context, database_url: DatabaseUrl = None) -> None:
    """Make sure a PostgreSQL server answers at the URL: the machine's cluster, else a private one under .atoms/."""
    settings = settings_of(ctx)
    url = database_url or settings.database_url
    try:
        how = local_cluster.ensure_local_server(url, settings.cluster_dir)
    except (psycopg.Error, RuntimeError, OSError) as error:
        fail(error)
    typer.echo(f"PostgreSQL at {safe_url(url)}: {how}")


@db_app.command("reset")
def db_reset(
    ctx: typer.Context,
    database_url: DatabaseUrl = None,
    with_seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Load supabase/seed.sql afterwards.")] = False,
) -> None:
    """Drop and recreate the database, then apply compat (when needed), every migration and optionally the seed."""
    settings = settings_of(ctx)
    url = database_url or settings.database_url
    try:
        applied = migrations.reset_database(url, settings.supabase_dir, with_seed=with_seed)
    except (psycopg.Error, ValueError) as error:
        fail(error)
    typer.echo(f"reset {safe_url(url)}: applied {len(applied)} migrations{' and the seed' if with_seed else ''}")


@db_app.command("push")
def db_push(ctx: typer.Context, database_url: DatabaseUrl = None) -> None:
    """Apply the pending migrations only (like `supabase db push`)."""
    settings = settings_of(ctx)
    url = database_url or settings.database_url
    try:
        applied = migrations.migrate(url, settings.supabase_dir, with_seed=False)
    except (psycopg.Error, RuntimeError) as error:
        fail(error)
    typer.echo(f"pushed {len(applied)} migrations to {safe_url(url)}" if applied else "database is up to date")


@db_app.command("up")
def db_up(
    ctx: typer.Context,
    database_url: DatabaseUrl = None,
    with_seed: Annotated[bool, typer.Option("--seed/--no-seed", help="Load the seed once.")] = True,
) -> None:
    """Make sure the server answers and the database exists and is migrated (and seeded once)."""
    settings = settings_of(ctx)
    url = database_url or settings.database_url
    try:
        how = local_cluster.ensure_local_server(url, settings.cluster_dir)
        if how != "running":
            typer.echo(f"PostgreSQL: {how}")
        if not migrations.database_exists(url):
            migrations.create_database(url)
        applied = migrations.migrate(url, settings.supabase_dir, with_seed=with_seed)
    except (psycopg.Error, RuntimeError, OSError) as error:
        fail(error)
    typer.echo(f"{safe_url(url)} is ready ({len(applied)} migrations applied now)")
