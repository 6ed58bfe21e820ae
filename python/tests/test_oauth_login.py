"""`atoms login` against a real authorization server: PKCE, state, consent, discovery, the loopback listener."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx2
import jwt
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from atoms_mcp.identity import oauth_login
from atoms_mcp.identity.oauth_login import LoginError, discovery_urls, login
from atoms_mcp.settings import Settings
from oauth_server import SEED_USER_EMAIL, SEED_USER_ID, Browser, TestAuthorizationServer

RESOURCE = "http://127.0.0.1:8765/mcp"


def _replace_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def _verified(token: str, server: TestAuthorizationServer, audience: str) -> dict[str, object]:
    return jwt.decode(token, jwt.PyJWK(server.key.as_dict(private=False)).key, algorithms=["RS256"], audience=audience)


def test_login_runs_the_pkce_flow_end_to_end_and_returns_the_seed_users_tokens(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    browser, printed = Browser(), []
    credentials = login(oauth_settings, open_browser=browser.open, echo=printed.append)
    page = browser.join()

    claims = _verified(credentials.access_token, auth_server, "authenticated")
    assert claims["sub"] == SEED_USER_ID and claims["email"] == SEED_USER_EMAIL and claims["role"] == "authenticated"
    assert credentials.refresh_token and credentials.expires_at and credentials.issuer == auth_server.issuer
    assert credentials.revocation_endpoint == f"{auth_server.url}/revoke"
    assert auth_server.token_requests == {"authorization_code": 1}

    (url,) = browser.opened
    query = parse_qs(urlsplit(url).query)
    assert query["code_challenge_method"] == ["S256"] and "code_verifier" not in query
    assert query["redirect_uri"][0].startswith("http://127.0.0.1:") and query["client_id"] == ["atoms-cli"]
    assert len(query["state"][0]) >= 32
    assert "offline_access" in query["scope"][0].split()  # the server advertises it
    assert url in printed[0]  # printed for headless use
    assert page.status_code == 200 and "signed in" in page.text.lower()
    assert page.headers["cache-control"] == "no-store" and page.headers["referrer-policy"] == "no-referrer"


def test_login_closes_the_listener_after_the_one_callback(oauth_settings: Settings) -> None:
    browser = Browser()
    login(oauth_settings, open_browser=browser.open, echo=lambda _: None)
    browser.join()
    redirect_uri = parse_qs(urlsplit(browser.opened[0]).query)["redirect_uri"][0]
    with pytest.raises(httpx2.ConnectError):
        httpx2.get(redirect_uri + "?code=x&state=y", timeout=5)


def test_login_asks_for_the_mcp_server_as_resource_and_gets_a_token_for_it(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    settings = oauth_settings.model_copy(update={"resource_url": RESOURCE})
    browser = Browser()
    credentials = login(settings, open_browser=browser.open, echo=lambda _: None)
    browser.join()
    assert parse_qs(urlsplit(browser.opened[0]).query)["resource"] == [RESOURCE]
    assert _verified(credentials.access_token, auth_server, RESOURCE)["aud"] == RESOURCE
    assert credentials.resource == RESOURCE


def test_login_refuses_a_callback_with_another_state_and_exchanges_nothing(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    browser = Browser(tamper_callback=lambda url: _replace_query(url, state="forged-state-of-an-attacker"))
    with pytest.raises(LoginError, match="state"):
        login(oauth_settings, open_browser=browser.open, echo=lambda _: None)
    page = browser.join()
    assert page.status_code == 400 and "state" in page.text
    assert auth_server.token_requests == {}


def test_login_fails_when_the_code_verifier_does_not_match_the_challenge(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    # The authorization request reaches the server with someone else's challenge (e.g. an injected request).
    other_challenge = create_s256_code_challenge("x" * 64)
    browser = Browser(tamper=lambda url: _replace_query(url, code_challenge=other_challenge))
    with pytest.raises(LoginError, match="invalid_grant"):
        login(oauth_settings, open_browser=browser.open, echo=lambda _: None)
    assert browser.join().status_code == 400
    assert auth_server.token_requests == {"authorization_code": 1}


def test_login_reports_denied_consent(oauth_settings: Settings, auth_server: TestAuthorizationServer) -> None:
    auth_server.decision = "deny"
    browser = Browser()
    with pytest.raises(LoginError, match="access_denied"):
        login(oauth_settings, open_browser=browser.open, echo=lambda _: None)
    page = browser.join()
    assert page.status_code == 400 and "access_denied" in page.text
    assert auth_server.token_requests == {}


def test_callback_page_escapes_what_it_reflects(oauth_settings: Settings) -> None:
    script = "<script>alert(document.cookie)</script>"
    browser = Browser(
        tamper_callback=lambda url: _replace_query(url, error="access_denied", error_description=script, code="")
    )
    with pytest.raises(LoginError):
        login(oauth_settings, open_browser=browser.open, echo=lambda _: None)
    page = browser.join()
    assert script not in page.text and "&lt;script&gt;" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'none'")


def test_login_refuses_an_answer_from_another_issuer(oauth_settings: Settings) -> None:
    browser = Browser(tamper_callback=lambda url: _replace_query(url, iss="https://evil.example"))
    with pytest.raises(LoginError, match="RFC 9207"):
        login(oauth_settings, open_browser=browser.open, echo=lambda _: None)
    browser.join()


def test_login_gives_up_after_the_timeout_when_no_browser_answers(oauth_settings: Settings) -> None:
    settings = oauth_settings.model_copy(update={"login_timeout_seconds": 0.2})
    with pytest.raises(LoginError, match="no sign-in answer"):
        login(settings, open_browser=lambda url: False, echo=lambda _: None)


def test_login_uses_webbrowser_open_by_default(oauth_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    browser = Browser()
    monkeypatch.setattr(oauth_login.webbrowser, "open", browser.open)
    assert login(oauth_settings, echo=lambda _: None).access_token
    browser.join()


def test_discovery_urls_follow_rfc8414_then_oidc_for_issuers_with_a_path() -> None:
    assert discovery_urls("https://ref.supabase.co/auth/v1") == [
        "https://ref.supabase.co/.well-known/oauth-authorization-server/auth/v1",
        "https://ref.supabase.co/.well-known/openid-configuration/auth/v1",
        "https://ref.supabase.co/auth/v1/.well-known/openid-configuration",
    ]
    assert discovery_urls("https://idp.example/") == [
        "https://idp.example/.well-known/oauth-authorization-server",
        "https://idp.example/.well-known/openid-configuration",
    ]


def test_discovery_refuses_metadata_naming_another_issuer(
    oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    auth_server.issuer = "https://someone-else.example"
    with pytest.raises(LoginError, match="issuer"):
        login(oauth_settings, open_browser=lambda url: False, echo=lambda _: None)


def test_discovery_refuses_a_server_without_pkce_s256(
    oauth_settings: Settings, auth_server: TestAuthorizationServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    metadata = auth_server.metadata()
    metadata.pop("code_challenge_methods_supported")
    monkeypatch.setattr(auth_server, "metadata", lambda: metadata)
    with pytest.raises(LoginError, match="S256"):
        login(oauth_settings, open_browser=lambda url: False, echo=lambda _: None)


def test_discovery_explains_a_wrong_auth_url(oauth_settings: Settings, auth_server: TestAuthorizationServer) -> None:
    settings = oauth_settings.model_copy(update={"auth_issuer_url": f"{auth_server.url}/nothing/here"})
    with pytest.raises(LoginError, match=re.escape("ATOMS_AUTH_URL")):
        login(settings, open_browser=lambda url: False, echo=lambda _: None)
