"""`atoms login` and `atoms logout` from the command line (typer's CliRunner), against the test server."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from atoms_mcp.cli.app import app
from atoms_mcp.identity import oauth_login
from atoms_mcp.identity.credentials import CredentialStore
from atoms_mcp.settings import Settings
from oauth_server import Browser, TestAuthorizationServer


@pytest.fixture
def cli_env(oauth_settings: Settings, auth_server: TestAuthorizationServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    """ATOMS_* variables pointing the CLI at the test server and a private state dir; the browser patched."""
    monkeypatch.setenv("ATOMS_AUTH_URL", auth_server.url)
    monkeypatch.setenv("ATOMS_STATE_DIR", str(oauth_settings.state_dir))
    monkeypatch.setenv("ATOMS_LOGIN_PORT", "0")
    monkeypatch.setattr(oauth_login.webbrowser, "open", Browser().open)
    return oauth_settings.state_dir


def test_login_saves_an_owner_only_credentials_file(cli_env: Path) -> None:
    result = CliRunner().invoke(app, ["login"])
    assert result.exit_code == 0, result.output
    assert "Signed in as viewer@acme.test" in result.stdout
    path = cli_env / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(cli_env.stat().st_mode) == 0o700


def test_login_failure_exits_1_with_the_reason(cli_env: Path, auth_server: TestAuthorizationServer) -> None:
    auth_server.decision = "deny"
    result = CliRunner().invoke(app, ["login"])
    assert result.exit_code == 1
    assert "LoginError" in result.stderr and "access_denied" in result.stderr
    assert not (cli_env / "credentials.json").exists()


def test_logout_revokes_the_refresh_token_and_deletes_the_file(
    cli_env: Path, auth_server: TestAuthorizationServer
) -> None:
    assert CliRunner().invoke(app, ["login"]).exit_code == 0
    credentials = CredentialStore(cli_env).load()
    assert credentials is not None
    result = CliRunner().invoke(app, ["logout"])
    assert result.exit_code == 0, result.output
    assert "revoked" in result.stdout
    assert auth_server.revoked == [credentials.refresh_token]
    assert not (cli_env / "credentials.json").exists()
    again = CliRunner().invoke(app, ["logout"])
    assert again.exit_code == 0 and "Not signed in" in again.stdout


def test_logout_deletes_an_unsafe_file_without_using_its_tokens(
    cli_env: Path, auth_server: TestAuthorizationServer
) -> None:
    assert CliRunner().invoke(app, ["login"]).exit_code == 0
    (cli_env / "credentials.json").chmod(0o644)
    result = CliRunner().invoke(app, ["logout"])
    assert result.exit_code == 0 and "chmod 600" in result.stderr
    assert auth_server.revoked == [] and not (cli_env / "credentials.json").exists()
