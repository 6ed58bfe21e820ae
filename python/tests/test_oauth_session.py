"""The login session as the rest of atoms uses it: the stdio server's default token source (credentials file,
refreshed on use), `atoms whoami`, and recovery when a new login replaces an ended session."""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from mcp import Client
from typer.testing import CliRunner

from atoms_mcp.cli.app import app
from atoms_mcp.core.caller import StaticTokenSource
from atoms_mcp.identity.credentials import Credentials, CredentialStore
from atoms_mcp.identity.oauth_login import login
from atoms_mcp.identity.token_source import CredentialsTokenSource, default_token_source
from atoms_mcp.server.app import create_server
from atoms_mcp.settings import Settings
from mcp_support import ListSink, gateway_url
from oauth_server import SEED_USER_EMAIL, SEED_USER_ID, Browser, TestAuthorizationServer

pytestmark = pytest.mark.anyio


def _sign_in(settings: Settings, remaining: int | None = None) -> Credentials:
    browser = Browser()
    credentials = login(settings, open_browser=browser.open, echo=lambda _: None)
    browser.join()
    if remaining is not None:
        now = int(time.time())
        credentials = credentials.model_copy(update={"expires_at": now + remaining, "obtained_at": now - 3000})
    CredentialStore(settings.state_dir).save(credentials)
    return credentials


def _server_settings(settings: Settings, server: TestAuthorizationServer) -> Settings:
    """The stdio server verifying the authorization server's RS256 tokens by its JWKS."""
    return settings.model_copy(
        update={"jwks_url": server.jwks_url, "gateway_database_url": "postgresql://atoms_mcp_gateway@127.0.0.1:1/x"}
    )


async def test_the_stdio_server_uses_the_login_and_refreshes_it_on_use(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    old = await anyio.to_thread.run_sync(_sign_in, oauth_settings, 30)
    settings = _server_settings(oauth_settings, auth_server)
    source = default_token_source(settings)
    assert isinstance(source, CredentialsTokenSource)
    async with Client(create_server(settings, audit_sink=ListSink())) as client:
        result = await client.call_tool("atoms_status", {})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "authenticated"
    assert result.structured_content["email"] == SEED_USER_EMAIL
    assert auth_server.token_requests["refresh_token"] == 1
    saved = CredentialStore(oauth_settings.state_dir).load()
    assert saved is not None and saved.access_token != old.access_token


async def test_the_stdio_server_starts_without_a_login_and_says_what_to_run(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    settings = _server_settings(oauth_settings, auth_server)
    source = default_token_source(settings)
    assert await source.access_token() is None and "atoms login" in source.status()
    async with Client(create_server(settings, audit_sink=ListSink())) as client:
        result = await client.call_tool("atoms_status", {})
    assert result.structured_content is not None
    assert result.structured_content["status"] == "not_authenticated"
    assert "atoms login" in result.structured_content["message"]


async def test_an_unsafe_credentials_file_does_not_stop_the_server_but_is_never_used(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    await anyio.to_thread.run_sync(_sign_in, oauth_settings)
    (oauth_settings.state_dir / "credentials.json").chmod(0o640)
    source = default_token_source(_server_settings(oauth_settings, auth_server))
    assert await source.access_token() is None
    assert "chmod 600" in source.status()


def test_the_environment_token_still_comes_first_for_the_server(oauth_settings: Settings) -> None:
    source = default_token_source(oauth_settings.model_copy(update={"access_token": "env"}))
    assert isinstance(source, StaticTokenSource)


async def test_a_new_login_replaces_an_ended_session_in_a_running_process(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    await anyio.to_thread.run_sync(_sign_in, oauth_settings, 30)
    auth_server.expire_refresh_tokens()
    source = CredentialsTokenSource(CredentialStore(oauth_settings.state_dir))
    assert await source.access_token() is None and source.describe().state == "expired"
    fresh = await anyio.to_thread.run_sync(_sign_in, oauth_settings)  # the user runs `atoms login` again
    assert await source.access_token() == fresh.access_token
    assert source.describe().state == "ok"


def test_whoami_shows_the_user_the_memberships_and_the_session(
    oauth_settings: Settings, auth_server: TestAuthorizationServer, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = _sign_in(oauth_settings)
    monkeypatch.setenv("ATOMS_STATE_DIR", str(oauth_settings.state_dir))
    monkeypatch.setenv("ATOMS_JWKS_URL", auth_server.jwks_url)
    monkeypatch.setenv("ATOMS_GATEWAY_DATABASE_URL", gateway_url(db_url))
    result = CliRunner().invoke(app, ["whoami"])
    assert result.exit_code == 0, result.output
    assert f"email:   {SEED_USER_EMAIL}" in result.stdout and f"user id: {SEED_USER_ID}" in result.stdout
    assert "(viewer)" in result.stdout  # viewer of Acme in the seed
    assert str(Path(oauth_settings.state_dir) / "credentials.json") in result.stdout
    assert credentials.expires_at is not None


def test_whoami_without_a_session_says_what_to_run(oauth_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_STATE_DIR", str(oauth_settings.state_dir))
    result = CliRunner().invoke(app, ["whoami"])
    assert result.exit_code == 1 and "atoms login" in result.stderr
