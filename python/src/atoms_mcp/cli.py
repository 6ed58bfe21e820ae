"""The `atoms` command line: thin typer wrappers over the library functions."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import psycopg
import typer

from atoms_mcp import localdb, migrations
from atoms_mcp.errors import AtomsError
from atoms_mcp.settings import Settings

if TYPE_CHECKING:
    from atoms_mcp.auth import TokenSource

app = typer.Typer(help="atoms: Postgres-first requirements traceability with an MCP server.", no_args_is_help=True)
db_app = typer.Typer(help="Local database: create, migrate, reset.", no_args_is_help=True)
app.add_typer(db_app, name="db")
dev_app = typer.Typer(help="Local development helpers (never for a real project).", no_args_is_help=True)
app.add_typer(dev_app, name="dev")

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
    except (psycopg.Error, RuntimeError) as error:
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


# ---- the MCP server ----


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


@app.command("serve")
def serve(
    transport: Annotated[Transport, typer.Option("--transport", "-t", help="stdio (one local client) or http.")] = (
        Transport.stdio
    ),
    host: Annotated[str, typer.Option(help="HTTP: interface to bind (keep 127.0.0.1 unless behind a proxy).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="HTTP: port.")] = 8765,
) -> None:
    """Run the MCP server: over stdio (token from ATOMS_ACCESS_TOKEN / `atoms login`) or streamable HTTP
    (a bearer token on every request) at http://HOST:PORT/mcp."""
    from atoms_mcp import server

    settings = Settings()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if transport is Transport.stdio:
        anyio.run(_serve_stdio, settings)
    else:
        import uvicorn

        uvicorn.run(server.create_http_app(settings, host=host), host=host, port=port, log_level="info")


async def _serve_stdio(settings: Settings) -> None:
    from atoms_mcp import server

    await server.run_stdio(settings)


@app.command("call")
def call(
    tool: Annotated[str, typer.Argument(help="Tool name, e.g. atoms_list_projects.")],
    arguments: Annotated[str, typer.Argument(help="Arguments as a JSON object.")] = "{}",
    as_user: Annotated[
        str | None, typer.Option("--as", help="Local dev: act as this seed user (mints a dev token).")
    ] = None,
) -> None:
    """Run one tool through the real server, in-process, and pretty-print its result (exit 1 on an error)."""
    from atoms_mcp.auth import StaticTokenSource
    from atoms_mcp.token_source import resolve_token_source

    settings = Settings()
    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as error:
        _fail(ValueError(f"arguments must be a JSON object: {error}"))
    if not isinstance(parsed, dict):
        _fail(ValueError("arguments must be a JSON object"))
    try:
        token = _dev_token(settings, as_user) if as_user else None
        # Without --as: ATOMS_ACCESS_TOKEN, else the credentials file, else a browser login if this is a terminal.
        source = StaticTokenSource(token, origin="--as") if token else resolve_token_source(settings)
        result = anyio.run(_call_tool, settings, tool, parsed, source)
    except (AtomsError, psycopg.Error, LookupError) as error:
        _fail(error)
    typer.echo(json.dumps(result["payload"], indent=2, ensure_ascii=False))
    if result["is_error"]:
        raise typer.Exit(1)


async def _call_tool(settings: Settings, tool: str, arguments: dict[str, Any], source: TokenSource) -> dict[str, Any]:
    from mcp import Client, MCPError
    from mcp.types import Implementation, TextContent

    from atoms_mcp.server import create_server

    server = create_server(settings, token_source=source)
    async with Client(server, client_info=Implementation(name="atoms-cli", version="0")) as client:
        try:
            result = await client.call_tool(tool, arguments)
        except MCPError as error:
            raise LookupError(error.message) from None
    payload: Any = result.structured_content
    if payload is None:
        payload = [block.text for block in result.content if isinstance(block, TextContent)]
    return {"payload": payload, "is_error": bool(result.is_error)}


@app.command("whoami")
def whoami() -> None:
    """Who the configured token belongs to: email, user id, expiry and organisation memberships."""
    settings = Settings()
    try:
        info = anyio.run(_whoami, settings)
    except (AtomsError, psycopg.Error) as error:
        _fail(error)
    typer.echo(f"email:   {info['email'] or '-'}")
    typer.echo(f"user id: {info['user_id']}")
    typer.echo(f"expires: {info['expires']}")
    typer.echo(f"session: {info['source']}")
    for org in info["orgs"]:
        typer.echo(f"org:     {org['name']} ({org['role']})")
    if not info["orgs"]:
        typer.echo("org:     - (member of no organisation)")


async def _whoami(settings: Settings) -> dict[str, Any]:
    from atoms_mcp.auth import JwtVerifier, default_token_source
    from atoms_mcp.db import CallContext, Gateway
    from atoms_mcp.errors import UnauthenticatedError

    source = default_token_source(settings)
    token = await source.access_token()
    if not token:
        raise UnauthenticatedError(f"Not signed in: {source.status()}")
    user = await JwtVerifier(settings).verify(token)
    gateway = Gateway(settings)
    await gateway.open()
    try:
        call = CallContext(claims=user.claims, actor="mcp_cli", session_id="whoami", client_name="atoms-cli")
        orgs = await gateway.fetch_as_user(
            call,
            "select o.name, m.role::text as role from public.organization_members m"
            " join public.organizations o on o.id = m.org_id"
            " where m.user_id = (select auth.uid()) order by o.name",
        )
    finally:
        await gateway.close()
    expires = datetime.fromtimestamp(user.expires_at, UTC).isoformat() if user.expires_at else "never"
    return {"email": user.email, "user_id": user.user_id, "expires": expires, "orgs": orgs, "source": source.status()}


@dev_app.command("token")
def dev_token(
    user: Annotated[str, typer.Option("--user", help="Email of a user in auth.users, e.g. editor@acme.test.")],
    ttl: Annotated[int, typer.Option(help="Lifetime in seconds.")] = 3600,
    database_url: DatabaseUrl = None,
) -> None:
    """Print a JWT for a user of the local database, signed with ATOMS_JWT_SECRET (local dev only)."""
    settings = Settings()
    try:
        typer.echo(_dev_token(settings, user, ttl=ttl, database_url=database_url))
    except (psycopg.Error, LookupError) as error:
        _fail(error)


def _dev_token(settings: Settings, email: str, *, ttl: int = 3600, database_url: str | None = None) -> str:
    from atoms_mcp.auth import mint_token

    with psycopg.connect(database_url or settings.database_url, connect_timeout=5) as conn:
        row = conn.execute("select id::text, email from auth.users where lower(email) = lower(%s)", (email,)).fetchone()
    if row is None:
        raise LookupError(f"no user {email!r} in auth.users (seed users: admin@acme.test, editor@acme.test, ...)")
    return mint_token(
        settings.jwt_secret, user_id=row[0], email=row[1], audience=settings.jwt_audience, ttl_seconds=ttl
    )


@dev_app.command("config")
def dev_config(
    user: Annotated[str, typer.Option("--user", help="Seed user the token is for.")] = "editor@acme.test",
    host: Annotated[str, typer.Option(help="Host of the HTTP server.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port of the HTTP server.")] = 8765,
    ttl: Annotated[int, typer.Option(help="Token lifetime in seconds.")] = 12 * 3600,
) -> None:
    """Print a dev token and ready-to-paste MCP client configuration (Claude Code, Claude Desktop, Cursor)."""
    settings = Settings()
    try:
        token = _dev_token(settings, user, ttl=ttl)
    except (psycopg.Error, LookupError) as error:
        _fail(error)
    typer.echo(client_config_text(settings, token=token, user=user, url=f"http://{host}:{port}/mcp", ttl=ttl))


def client_config_text(settings: Settings, *, token: str, user: str, url: str, ttl: int) -> str:
    """The `make run` banner: how to point each MCP client at this server, over HTTP and over stdio."""
    atoms = shutil.which("atoms") or str(Path(sys.executable).parent / "atoms")
    stdio_env = {"ATOMS_ACCESS_TOKEN": token, "ATOMS_GATEWAY_DATABASE_URL": settings.gateway_database_url}
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


# ---- sign-in: `atoms login` / `atoms logout` (OAuth 2.1 + PKCE, credentials file) ----


@app.command("login")
def login_command() -> None:
    """Sign in through the browser (OAuth 2.1 + PKCE) and keep the session in <state dir>/credentials.json."""
    from atoms_mcp import oauth_login
    from atoms_mcp.credentials import CredentialStore
    from atoms_mcp.token_source import unverified_claims

    settings = Settings()
    store = CredentialStore(settings.state_dir)
    try:
        credentials = oauth_login.login(settings, echo=lambda line: typer.echo(line, err=True))
        path = store.save(credentials)
    except AtomsError as error:
        _fail(error)
    claims = unverified_claims(credentials.access_token) or {}
    who = claims.get("email") or claims.get("sub") or "unknown user"
    typer.echo(f"Signed in as {who}. Credentials saved to {path} (mode 0600).")
    if settings.access_token:
        typer.secho("Note: ATOMS_ACCESS_TOKEN is set and takes precedence over this login.", err=True)


@app.command("logout")
def logout_command() -> None:
    """Revoke the refresh token (when the server offers RFC 7009 revocation) and delete the credentials file."""
    from atoms_mcp import oauth_login
    from atoms_mcp.credentials import CredentialsError, CredentialStore

    settings = Settings()
    store = CredentialStore(settings.state_dir)
    try:
        credentials = store.load()
    except CredentialsError as error:  # unsafe or unreadable: delete it without using its tokens
        typer.secho(f"{type(error).__name__}: {error}", err=True, fg=typer.colors.YELLOW)
        credentials = None
    revoked = oauth_login.revoke_refresh_token(credentials) if credentials is not None else False
    if not store.delete():
        typer.echo(f"Not signed in (no {store.path}).")
        return
    if credentials is not None and credentials.revocation_endpoint and not revoked:
        typer.secho("The authorization server did not confirm the revocation.", err=True, fg=typer.colors.YELLOW)
    typer.echo(f"Signed out: {store.path} deleted{' and the refresh token revoked' if revoked else ''}.")
