"""`atoms dev ...`: local development helpers (dev tokens and client configuration); never for a real project."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import psycopg
import typer

from atoms_mcp.cli.common import DatabaseUrl, fail, settings_of
from atoms_mcp.identity.verifier import mint_token
from atoms_mcp.settings import DEV_JWT_SECRET, Settings

__all__ = ["add_local_user", "client_config_text", "dev_app", "dev_token_for"]

dev_app = typer.Typer(
    help="Local development helpers (never for a real project).", no_args_is_help=True, add_completion=False
)


def dev_token_for(settings: Settings, email: str, *, ttl: int = 3600, database_url: str | None = None) -> str:
    """A JWT for a user of the local database, signed with ATOMS_JWT_SECRET (unset: the local demo secret, which
    only an ATOMS_DEV=1 server accepts).

    Raises:
        LookupError: no such user in auth.users.
        psycopg.Error: the database cannot be reached.
    """
    with psycopg.connect(database_url or settings.database_url, connect_timeout=5) as conn:
        row = conn.execute("select id::text, email from auth.users where lower(email) = lower(%s)", (email,)).fetchone()
    if row is None:
        raise LookupError(
            f'no user {email!r} in auth.users; add one with: atoms dev user add {email} --name "Their Name" '
            "(seed users: admin@acme.test, editor@acme.test, ...)"
        )
    return mint_token(
        settings.jwt_secret or DEV_JWT_SECRET,
        user_id=row[0],
        email=row[1],
        audience=settings.jwt_audience,
        ttl_seconds=ttl,
    )


user_app = typer.Typer(help="Local users (auth.users), as Supabase Auth would create them.", no_args_is_help=True)
dev_app.add_typer(user_app, name="user")


def add_local_user(database_url: str, email: str, name: str) -> tuple[str, bool]:
    """A confirmed local user with this email (as Supabase Auth leaves one who confirmed their address): its id, and
    whether it was created now (False: it existed and was left unchanged).

    Raises:
        psycopg.Error: a malformed email (22023, the database's own rule) or an unreachable database.
    """
    with psycopg.connect(database_url, connect_timeout=5) as conn:
        address = conn.execute("select private.require_email(%s, 'email')", (email,)).fetchone()
        assert address is not None
        existing = conn.execute("select id::text from auth.users where lower(email) = %s", (address[0],)).fetchone()
        if existing is not None:
            return existing[0], False
        created = conn.execute(
            """
            insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
              created_at, updated_at)
            values (gen_random_uuid(), 'authenticated', 'authenticated', %s, now(),
              jsonb_build_object('provider', 'email', 'providers', jsonb_build_array('email')),
              jsonb_strip_nulls(jsonb_build_object('name', nullif(btrim(%s::text), ''))), now(), now())
            returning id::text
            """,
            (address[0], name),
        ).fetchone()
        assert created is not None
        # Hosted Supabase (and its local stack) keeps one identity per sign-in method; the compat layer has none.
        if conn.execute("select to_regclass('auth.identities') is not null").fetchone() == (True,):
            conn.execute(
                "insert into auth.identities (provider_id, user_id, identity_data, provider, created_at, updated_at)"
                " values (%s, %s::uuid, jsonb_build_object('sub', %s::text, 'email', %s::text,"
                " 'email_verified', true), 'email', now(), now())",
                (created[0], created[0], created[0], address[0]),
            )
        return created[0], True


@user_app.command("add")
def dev_user_add(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The new user's email.")],
    name: Annotated[str, typer.Option("--name", help="Display name (user_metadata.name).")] = "",
    database_url: DatabaseUrl = None,
) -> None:
    """Create a confirmed local user (local dev only); `atoms dev token --user EMAIL` then signs in as them."""
    try:
        user_id, created = add_local_user(database_url or settings_of(ctx).database_url, email, name)
    except psycopg.Error as error:
        fail(error.diag.message_primary or error)
    state = "created" if created else "already exists (unchanged)"
    typer.echo(f"user {email.strip().lower()} {state}: {user_id}")


@dev_app.command("token")
def dev_token(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="Email of a user in auth.users, e.g. editor@acme.test.")],
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
    database_url: DatabaseUrl = None,
) -> None:
    """Print a JWT for a user of the local database, signed with ATOMS_JWT_SECRET (local dev only)."""
    try:
        typer.echo(dev_token_for(settings_of(ctx), user, ttl=ttl, database_url=database_url))
    except (psycopg.Error, LookupError) as error:
        fail(error)


@dev_app.command("config")
def dev_config(
    ctx: typer.Context,
    user: Annotated[str, typer.Option("--user", help="Seed user the token is for.")] = "editor@acme.test",
    host: Annotated[str, typer.Option(help="Host of the HTTP server.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP server.")] = 8765,
    ttl: Annotated[int, typer.Option(help="Token lifetime in seconds.")] = 12 * 3600,
) -> None:
    """Print a dev token and ready-to-paste MCP client configuration (Claude Code, Claude Desktop, Cursor)."""
    settings = settings_of(ctx)
    try:
        token = dev_token_for(settings, user, ttl=ttl)
    except (psycopg.Error, LookupError) as error:
        fail(error)
    typer.echo(client_config_text(settings, token=token, user=user, url=f"http://{host}:{port}/mcp", ttl=ttl))


def client_config_text(settings: Settings, *, token: str, user: str, url: str, ttl: int) -> str:
    """The `make run` banner: how to point each MCP client at this server, over HTTP and over stdio."""
    atoms = shutil.which("atoms") or str(Path(sys.executable).parent / "atoms")
    stdio_env = {
        "ATOMS_DEV": "1",  # the dev token is signed with the local demo secret, which only ATOMS_DEV=1 accepts
        "ATOMS_ACCESS_TOKEN": token,
        "ATOMS_GATEWAY_DATABASE_URL": settings.gateway_database_url,
    }
    stdio = {"command": atoms, "args": ["serve", "--transport", "stdio"], "env": stdio_env}
    http = {"url": url, "headers": {"Authorization": f"Bearer {token}"}}
    desktop_http = {
        "command": "npx",
        "args": ["-y", "mcp-remote", url, "--header", "Authorization:${ATOMS_AUTH_HEADER}"],
        "env": {"ATOMS_AUTH_HEADER": f"Bearer {token}"},
    }
    env_flags = " ".join(f"-e {key}='{value}'" for key, value in stdio_env.items())
    hours = ttl // 3600

    def block(obj: dict[str, Any]) -> str:
        return json.dumps({"mcpServers": {"atoms": obj}}, indent=2)

    return "\n".join(
        [
            f"Dev token for {user} (valid {hours} h, signed with the LOCAL dev secret; never use it elsewhere):",
            token,
            "",
            f"MCP endpoint: {url}  (every request needs Authorization: Bearer <token>)",
            "",
            "Claude Code, HTTP:",
            f'  claude mcp add --transport http atoms {url} --header "Authorization: Bearer {token}"',
            "Claude Code, stdio:",
            f"  claude mcp add atoms {env_flags} -- {atoms} serve --transport stdio",
            "",
            "Claude Desktop (claude_desktop_config.json), stdio:",
            block(stdio),
            "Claude Desktop, HTTP (through the mcp-remote bridge):",
            block(desktop_http),
            "",
            "Cursor (~/.cursor/mcp.json), HTTP:",
            block(http),
            "Cursor, stdio:",
            block(stdio),
            "",
            "Other users: atoms dev token --user viewer@acme.test | admin@acme.test | admin@globex.test | ...",
        ]
    )
