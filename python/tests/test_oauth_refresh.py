"""The credentials token source: refresh within the 60-second buffer, rotation, single flight, failure states,
and the order in which a process finds its token."""

from __future__ import annotations

import time

import anyio
import pytest
from authlib.integrations.base_client import OAuthError

from atoms_mcp.core.caller import StaticTokenSource
from atoms_mcp.identity.credentials import Credentials, CredentialStore, InsecureCredentialsError
from atoms_mcp.identity.oauth_login import login
from atoms_mcp.identity.refresh import refresh_credentials
from atoms_mcp.identity.token_source import CredentialsTokenSource, NotSignedInError, resolve_token_source
from atoms_mcp.settings import Settings
from oauth_server import Browser, TestAuthorizationServer

pytestmark = pytest.mark.anyio


def _sign_in(
    settings: Settings, server: TestAuthorizationServer, remaining: int | None = None
) -> tuple[CredentialStore, Credentials]:
    """Log in (one-hour tokens); with `remaining`, the session is saved as if the hour had passed but for that
    many seconds - time travel instead of sleeping."""
    browser = Browser()
    credentials = login(settings, open_browser=browser.open, echo=lambda _: None)
    browser.join()
    if remaining is not None:
        now = int(time.time())
        credentials = credentials.model_copy(
            update={"expires_at": now + remaining, "obtained_at": now + remaining - server.access_token_ttl}
        )
    store = CredentialStore(settings.state_dir)
    store.save(credentials)
    return store, credentials


async def test_a_token_expiring_within_60_seconds_is_refreshed_and_the_rotated_refresh_token_saved(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, old = _sign_in(oauth_settings, auth_server, remaining=58)
    source = CredentialsTokenSource(store, old)
    with anyio.fail_after(10):
        token = await source.access_token()
    assert token is not None and token != old.access_token
    assert auth_server.token_requests["refresh_token"] == 1
    saved = store.load()
    assert saved is not None and saved.access_token == token
    assert saved.refresh_token not in (None, old.refresh_token)  # rotated, and the new one kept
    # The old refresh token is dead after rotation.
    with pytest.raises(OAuthError) as refused:
        await refresh_credentials(old)
    assert refused.value.error == "invalid_grant"
    # The rotated one works.
    assert (await refresh_credentials(saved)).access_token


async def test_a_token_valid_beyond_the_buffer_is_used_as_is(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, credentials = _sign_in(oauth_settings, auth_server, remaining=65)
    source = CredentialsTokenSource(store, credentials)
    assert await source.access_token() == credentials.access_token
    assert auth_server.token_requests["refresh_token"] == 0


async def test_twenty_concurrent_callers_cause_one_refresh(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, old = _sign_in(oauth_settings, auth_server, remaining=30)
    source = CredentialsTokenSource(store, old)
    tokens: list[str | None] = []

    async def call() -> None:
        tokens.append(await source.access_token())

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            for _ in range(20):
                group.start_soon(call)
    assert len(tokens) == 20 and len(set(tokens)) == 1 and tokens[0] != old.access_token
    assert auth_server.token_requests["refresh_token"] == 1


async def test_a_process_adopts_the_token_another_process_already_refreshed(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, old = _sign_in(oauth_settings, auth_server, remaining=30)
    first, second = CredentialsTokenSource(store, old), CredentialsTokenSource(store, old)
    token = await first.access_token()
    assert await second.access_token() == token  # read from the file, not a second refresh with a dead token
    assert auth_server.token_requests["refresh_token"] == 1


async def test_losing_a_refresh_race_to_another_process_adopts_the_winners_token(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, old = _sign_in(oauth_settings, auth_server, remaining=30)
    winner = CredentialsTokenSource(store, old)

    async def refresh_after_the_winner(credentials: Credentials) -> Credentials:
        await winner.access_token()  # the other process rotates the refresh token first ...
        return await refresh_credentials(credentials)  # ... so this refresh is refused (invalid_grant)

    loser = CredentialsTokenSource(store, old, refresh=refresh_after_the_winner)
    token = await loser.access_token()
    assert token is not None and token == await winner.access_token()
    assert auth_server.token_requests["refresh_token"] == 2  # the winner's, and the loser's refused one
    assert loser.describe().state == "ok"


async def test_an_expired_refresh_token_ends_in_status_expired_not_a_crash(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, credentials = _sign_in(oauth_settings, auth_server, remaining=30)
    auth_server.expire_refresh_tokens()
    source = CredentialsTokenSource(store, credentials)
    assert await source.access_token() is None
    assert await source.access_token() is None  # no second attempt at the server
    assert auth_server.token_requests["refresh_token"] == 1
    status = source.describe()
    assert status.state == "expired" and "invalid_grant" in status.message
    assert "atoms login" in source.status()


async def test_an_unreachable_server_and_an_expired_token_end_in_status_expired(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, expired = _sign_in(oauth_settings, auth_server, remaining=-10)
    auth_server.stop()
    source = CredentialsTokenSource(store, expired)
    assert await source.access_token() is None
    assert source.describe().state == "expired" and "atoms login" in source.status()


async def test_an_unreachable_server_still_leaves_a_token_that_has_not_expired_yet(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, credentials = _sign_in(oauth_settings, auth_server, remaining=30)
    auth_server.stop()
    source = CredentialsTokenSource(store, credentials)
    assert await source.access_token() == credentials.access_token
    assert source.describe().state == "ok"


async def test_a_service_role_token_is_refused_by_the_token_source(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    auth_server.extra_claims = {"role": "service_role"}
    store, credentials = _sign_in(oauth_settings, auth_server)
    source = CredentialsTokenSource(store)
    assert await source.access_token() is None
    assert source.describe().state == "refused" and "service_role" in source.status()


async def test_status_reports_the_signed_in_user_and_expiry(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, credentials = _sign_in(oauth_settings, auth_server)
    status = CredentialsTokenSource(store).describe()
    assert status.state == "ok" and status.email == "viewer@acme.test" and status.expires_at == credentials.expires_at
    assert "viewer@acme.test" in CredentialsTokenSource(store).status()
    store.delete()
    assert CredentialsTokenSource(store).describe().state == "missing"


def test_tokens_shorter_than_the_buffer_are_refreshed_at_half_their_lifetime() -> None:
    now = 1_000_000
    short = Credentials(
        issuer="i", client_id="c", token_endpoint="t", access_token="a", expires_at=now + 30, obtained_at=now
    )
    assert not short.needs_refresh(60, now=now)  # fresh: no refresh on every call
    assert short.needs_refresh(60, now=now + 15)
    long = short.model_copy(update={"expires_at": now + 3600})
    assert not long.needs_refresh(60, now=now + 3539) and long.needs_refresh(60, now=now + 3540)


# ---- resolution order ----


def test_the_environment_token_comes_first(oauth_settings: Settings, auth_server: TestAuthorizationServer) -> None:
    _sign_in(oauth_settings, auth_server)
    source = resolve_token_source(oauth_settings.model_copy(update={"access_token": "env-token"}), interactive=True)
    assert isinstance(source, StaticTokenSource)
    assert anyio.run(source.access_token) == "env-token"


def test_the_credentials_file_comes_next(oauth_settings: Settings, auth_server: TestAuthorizationServer) -> None:
    _, credentials = _sign_in(oauth_settings, auth_server)
    source = resolve_token_source(oauth_settings, interactive=True, login=lambda _: pytest.fail("no login"))
    assert isinstance(source, CredentialsTokenSource)
    assert anyio.run(source.access_token) == credentials.access_token


def test_without_a_file_a_terminal_gets_an_interactive_login(oauth_settings: Settings) -> None:
    logins: list[Settings] = []

    def fake_login(settings: Settings) -> Credentials:
        logins.append(settings)
        return Credentials(issuer="i", client_id="c", token_endpoint="t", access_token="a", refresh_token="r")

    source = resolve_token_source(oauth_settings, interactive=True, login=fake_login)
    assert isinstance(source, CredentialsTokenSource) and len(logins) == 1
    saved = CredentialStore(oauth_settings.state_dir).load()
    assert saved is not None and saved.access_token == "a"


def test_without_a_file_or_a_terminal_the_error_says_what_to_do(oauth_settings: Settings) -> None:
    with pytest.raises(NotSignedInError, match="atoms login.*ATOMS_ACCESS_TOKEN"):
        resolve_token_source(oauth_settings, interactive=False)


def test_an_unsafe_credentials_file_stops_the_resolution(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    store, _ = _sign_in(oauth_settings, auth_server)
    store.path.chmod(0o644)
    with pytest.raises(InsecureCredentialsError, match="chmod 600"):
        resolve_token_source(oauth_settings, interactive=True)
