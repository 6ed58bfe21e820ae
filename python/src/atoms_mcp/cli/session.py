"""`atoms login`, `atoms logout`, `atoms whoami`: the signed-in session of the person at the terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import psycopg
import typer

from atoms_mcp.cli.common import fail, settings_of
from atoms_mcp.core.clients import CLI_ACTOR, CLI_CLIENT_NAME
from atoms_mcp.core.errors import AtomsError, UnauthenticatedError
from atoms_mcp.core.gateway import CallContext, Gateway
from atoms_mcp.identity.compact_jwt import unverified_claims
from atoms_mcp.identity.credentials import CredentialsError, CredentialStore
from atoms_mcp.identity.token_source import default_token_source
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.settings import Settings

__all__ = ["login", "logout", "whoami"]


def whoami(ctx: typer.Context) -> None:
    """Who the configured token belongs to: email, user id, expiry and organisation memberships."""
    try:
        info = anyio.run(_whoami, settings_of(ctx))
    except (AtomsError, psycopg.Error) as error:
        fail(error)
    typer.echo(f"email:   {info['email'] or '-'}")
    typer.echo(f"user id: {info['user_id']}")
    typer.echo(f"expires: {info['expires']}")
    typer.echo(f"session: {info['source']}")
    for org in info["orgs"]:
        typer.echo(f"org:     {org['name']} ({org['role']})")
    if not info["orgs"]:
        typer.echo("org:     - (member of no organisation)")


async def _whoami(settings: Settings) -> dict[str, Any]:
    source = default_token_source(settings)
    token = await source.access_token()
    if not token:
        raise UnauthenticatedError(f"Not signed in: {source.status()}")
    user = await JwtVerifier(settings).verify(token)
    gateway = Gateway(settings)
    await gateway.open()
    try:
        call = CallContext(claims=user.claims, actor=CLI_ACTOR, session_id="whoami", client_name=CLI_CLIENT_NAME)
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


def login(ctx: typer.Context) -> None:
    """Sign in through the browser (OAuth 2.1 + PKCE) and keep the session in <state dir>/credentials.json."""
    # The browser sign-in uses the MCP SDK's OAuth metadata models: imported here, so other commands start without it.
    from atoms_mcp.identity import oauth_login

    settings = settings_of(ctx)
    store = CredentialStore(settings.state_dir)
    try:
        credentials = oauth_login.login(settings, echo=lambda line: typer.echo(line, err=True))
        path = store.save(credentials)
    except AtomsError as error:
        fail(error)
    claims = unverified_claims(credentials.access_token) or {}
    who = claims.get("email") or claims.get("sub") or "unknown user"
    typer.echo(f"Signed in as {who}. Credentials saved to {path} (mode 0600).")
    if settings.access_token:
        typer.secho("Note: ATOMS_ACCESS_TOKEN is set and takes precedence over this login.", err=True)


def logout(ctx: typer.Context) -> None:
    """Revoke the refresh token (when the server offers RFC 7009 revocation) and delete the credentials file."""
    from atoms_mcp.identity.refresh import revoke_refresh_token  # the OAuth client, loaded for this command only

    store = CredentialStore(settings_of(ctx).state_dir)
    try:
        credentials = store.load()
    except CredentialsError as error:  # unsafe or unreadable: delete it without using its tokens
        typer.secho(f"{type(error).__name__}: {error}", err=True, fg=typer.colors.YELLOW)
        credentials = None
    revoked = revoke_refresh_token(credentials) if credentials is not None else False
    if not store.delete():
        typer.echo(f"Not signed in (no {store.path}).")
        return
    if credentials is not None and credentials.revocation_endpoint and not revoked:
        typer.secho("The authorization server did not confirm the revocation.", err=True, fg=typer.colors.YELLOW)
    typer.echo(f"Signed out: {store.path} deleted{' and the refresh token revoked' if revoked else ''}.")
