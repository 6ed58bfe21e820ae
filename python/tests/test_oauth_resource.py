"""The HTTP transport as OAuth 2.1 resource server, end to end with tokens from the test authorization server:
401 challenge (resource_metadata + scope) -> RFC 9728 metadata -> login for that resource -> tool calls.
Plus the verifier's refusals (another key, another audience, service_role, expired) and DNS-rebinding checks."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet, RSAKey
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from atoms_mcp.core.errors import UnauthenticatedError
from atoms_mcp.identity.oauth_login import login
from atoms_mcp.identity.resource_server import transport_security
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.server.transports import create_http_app
from atoms_mcp.settings import Settings
from mcp_support import ListSink, make_settings
from oauth_server import SEED_USER_EMAIL, SEED_USER_ID, Browser, TestAuthorizationServer, signing_key

pytestmark = pytest.mark.anyio

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}},
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@dataclass
class RunningServer:
    url: str
    settings: Settings
    audit: ListSink

    @property
    def endpoint(self) -> str:
        return f"{self.url}/mcp"


def _serve(settings_for: Any, host: str = "127.0.0.1") -> Iterator[RunningServer]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = settings_for(url)
    audit = ListSink()
    config = uvicorn.Config(create_http_app(settings, audit_sink=audit, host=host), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.01)
    try:
        yield RunningServer(url, settings, audit)
    finally:
        server.should_exit = server.force_exit = True  # no graceful wait for idle keep-alive connections
        thread.join(timeout=10)
        sock.close()


def _settings_for(db_url: str | None, state_dir: Path, server: TestAuthorizationServer) -> Any:
    return lambda url: make_settings(
        db_url,
        state_dir,
        jwks_url=server.jwks_url,
        auth_issuer_url=server.url,
        app_url=url,
        resource_url=f"{url}/mcp",
    )


@pytest.fixture
def mcp_http(tmp_path: Path, auth_server: TestAuthorizationServer) -> Iterator[RunningServer]:
    """The real HTTP app on loopback (no database: for what happens before a tool reaches it), trusting
    `auth_server`'s keys, resource = its /mcp."""
    yield from _serve(_settings_for(None, tmp_path / "server-state", auth_server))


@pytest.fixture
def mcp_http_db(db_url: str, tmp_path: Path, auth_server: TestAuthorizationServer) -> Iterator[RunningServer]:
    """The same, on a fresh clone of the seeded database."""
    yield from _serve(_settings_for(db_url, tmp_path / "server-state", auth_server))


def _challenge(header: str) -> dict[str, str]:
    assert header.startswith("Bearer ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


def _login_for(settings: Settings, resource: str | None) -> str:
    browser = Browser()
    credentials = login(
        settings.model_copy(update={"resource_url": resource}), open_browser=browser.open, echo=lambda _: None
    )
    browser.join()
    return credentials.access_token


async def _call(endpoint: str, token: str, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http,
        streamable_http_client(endpoint, http_client=http) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        result = await session.call_tool(tool, arguments)
    assert result.structured_content is not None
    return result.structured_content


async def test_a_client_goes_from_the_401_challenge_to_a_tool_call_with_a_token_for_this_resource(
    mcp_http: RunningServer, oauth_settings: Settings, auth_server: TestAuthorizationServer
) -> None:
    # 1. No token: 401 with the challenge naming the metadata and the scopes.
    async with httpx2.AsyncClient(timeout=10) as http:
        refused = await http.post(mcp_http.endpoint, json=INITIALIZE, headers=MCP_HEADERS)
        assert refused.status_code == 401
        challenge = _challenge(refused.headers["www-authenticate"])
        assert challenge["resource_metadata"] == f"{mcp_http.url}/.well-known/oauth-protected-resource/mcp"
        assert challenge["scope"] == "openid email profile"
        # 2. RFC 9728 metadata: this resource, its authorization server, the scopes.
        metadata = (await http.get(challenge["resource_metadata"])).json()
    assert metadata["resource"] == mcp_http.endpoint
    assert [url.rstrip("/") for url in metadata["authorization_servers"]] == [auth_server.url]
    assert metadata["scopes_supported"] == ["openid", "email", "profile"]
    # 3. Sign in at that server for that resource (RFC 8707), 4. call tools with the token.
    settings = oauth_settings.model_copy(update={"auth_issuer_url": metadata["authorization_servers"][0]})
    token = await anyio.to_thread.run_sync(_login_for, settings, metadata["resource"])
    with anyio.fail_after(20):
        status = await _call(mcp_http.endpoint, token, "atoms_status", {})
    assert status["status"] == "authenticated" and status["email"] == SEED_USER_EMAIL


async def test_a_database_backed_tool_runs_as_the_user_of_the_token(
    mcp_http_db: RunningServer, oauth_settings: Settings
) -> None:
    mcp_http = mcp_http_db
    resource = mcp_http.settings.resource_url
    token = await anyio.to_thread.run_sync(_login_for, oauth_settings, resource)
    with anyio.fail_after(20):
        projects = await _call(mcp_http.endpoint, token, "atoms_list_projects", {})
    assert projects["status"] == "success", projects
    assert [p["id"] for p in projects["data"]] == ["a0000000-0000-4000-8000-000000000101"]  # viewer of Acme only
    # No token passthrough: the server acts on the verified claims; the token is recorded nowhere.
    assert mcp_http.audit.records and token not in repr(mcp_http.audit.records)
    assert {r["user_id"] for r in mcp_http.audit.records} == {SEED_USER_ID}


async def test_a_token_issued_for_another_audience_is_refused(
    mcp_http: RunningServer, oauth_settings: Settings
) -> None:
    token = await anyio.to_thread.run_sync(_login_for, oauth_settings, None)  # aud = "authenticated"
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.post(
            mcp_http.endpoint, json=INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"}
        )
    assert response.status_code == 401
    assert _challenge(response.headers["www-authenticate"])["error"] == "invalid_token"


# ---- the verifier, with the authorization server's JWKS ----


def _forged(server: TestAuthorizationServer, claims: dict[str, Any], key_name: str = "as") -> str:
    """A token like the server's, signed with `key_name`'s key but claiming the server's key id."""
    now = int(time.time())
    body = {"iss": server.issuer, "sub": SEED_USER_ID, "aud": "authenticated", "role": "authenticated"}
    body |= {"iat": now, "exp": now + 600, **claims}
    header = {"alg": "RS256", "kid": server.key.kid, "typ": "at+jwt"}
    if key_name == "as":
        return jose_jwt.encode(header, body, KeySet([server.key]))
    intruder = {k: v for k, v in signing_key(key_name).as_dict(private=True).items() if k != "kid"}
    return jose_jwt.encode(header, body, RSAKey.import_key(intruder))


@pytest.fixture
def verifier(oauth_settings: Settings, auth_server: TestAuthorizationServer) -> JwtVerifier:
    return JwtVerifier(oauth_settings.model_copy(update={"jwks_url": auth_server.jwks_url}))


async def test_the_verifier_accepts_the_authorization_servers_token(
    verifier: JwtVerifier, auth_server: TestAuthorizationServer
) -> None:
    user = await verifier.verify(_forged(auth_server, {}))
    assert user.user_id == SEED_USER_ID


@pytest.mark.parametrize(
    ("case", "claims", "key_name"),
    [
        ("signed by another key", {}, "intruder"),
        ("issued for another audience", {"aud": "https://other.example/mcp"}, "as"),
        ("a service_role token", {"role": "service_role"}, "as"),
        ("an anon token", {"role": "anon"}, "as"),
        ("expired", {"exp": int(time.time()) - 3600}, "as"),
    ],
)
async def test_the_verifier_and_the_status_refuse(
    verifier: JwtVerifier, auth_server: TestAuthorizationServer, case: str, claims: dict[str, Any], key_name: str
) -> None:
    token = _forged(auth_server, claims, key_name)
    with pytest.raises(UnauthenticatedError):
        await verifier.verify(token)
    assert (await verifier.status(token)).status != "authenticated", case


# ---- DNS rebinding ----


def test_loopback_binds_keep_the_sdk_defaults(oauth_settings: Settings) -> None:
    assert transport_security(oauth_settings, "127.0.0.1") is None


def test_a_public_bind_allows_only_the_configured_host_names(oauth_settings: Settings) -> None:
    settings = oauth_settings.model_copy(
        update={"app_url": "https://mcp.example.com", "allowed_hosts": ["atoms.internal:8443"]}
    )
    security = transport_security(settings, "0.0.0.0")
    assert security is not None and security.enable_dns_rebinding_protection
    assert "mcp.example.com" in security.allowed_hosts and "atoms.internal:8443" in security.allowed_hosts
    assert not any(h.startswith(("127.0.0.1", "localhost")) for h in security.allowed_hosts)
    assert security.allowed_origins == ["https://mcp.example.com"]


def test_allowed_hosts_come_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_ALLOWED_HOSTS", "a.example, b.example:8443")
    assert Settings().allowed_hosts == ["a.example", "b.example:8443"]


@pytest.fixture
def public_http(tmp_path: Path, auth_server: TestAuthorizationServer) -> Iterator[RunningServer]:
    """The HTTP app configured as if bound to 0.0.0.0 behind the name mcp.example.com (served on loopback)."""
    yield from _serve(
        lambda url: make_settings(
            None,
            tmp_path / "server-state",
            jwks_url=auth_server.jwks_url,
            auth_issuer_url=auth_server.url,
            app_url="https://mcp.example.com",
            dev=False,
            session_key="s" * 32,
        ),
        host="0.0.0.0",
    )


async def test_a_request_naming_another_host_is_refused_even_with_a_valid_token(
    public_http: RunningServer, auth_server: TestAuthorizationServer
) -> None:
    token = _forged(auth_server, {})
    headers = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(timeout=10) as http:
        rebound = await http.post(public_http.endpoint, json=INITIALIZE, headers={**headers, "Host": "evil.example"})
        named = await http.post(public_http.endpoint, json=INITIALIZE, headers={**headers, "Host": "mcp.example.com"})
        origin = await http.post(
            public_http.endpoint,
            json=INITIALIZE,
            headers={**headers, "Host": "mcp.example.com", "Origin": "https://evil.example"},
        )
    assert rebound.status_code == 421
    assert named.status_code == 200
    assert origin.status_code == 403
