"""A real OAuth 2.1 authorization server for the tests, built from authlib's server components.

`authlib.oauth2.rfc6749.AuthorizationServer` with `AuthorizationCodeGrant` + `CodeChallenge(required=True)`
(RFC 7636; S256 only), `RefreshTokenGrant` with rotation (each refresh token works once), RFC 7009 revocation,
RFC 8414 metadata and RFC 9068 JWT access tokens signed RS256 with a key published as JWKS. Access tokens carry
`aud` = the RFC 8707 `resource` of the request (else `default_audience`), `role` = authenticated, `sub` = a seed
user. It serves on 127.0.0.1 with the standard library's threaded HTTP server; the consent step answers at once
(`decision` "approve" or "deny"), so a test "browser" only needs to follow redirects.

State is in memory and the knobs are plain attributes: `access_token_ttl`, `refresh_token_ttl`, `decision`,
`user`; counters `token_requests` (per grant type) and `revoked` (revoked refresh tokens).
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx2
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request, TokenMixin
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc.jwk import KeySet, RSAKey

SEED_USER_ID = "a0000000-0000-4000-8000-0000000000a3"  # viewer@acme.test in supabase/seed.sql
SEED_USER_EMAIL = "viewer@acme.test"
CLIENT_ID = "atoms-cli"
SCOPES = ["openid", "email", "profile", "offline_access"]


@functools.cache
def signing_key(name: str = "as") -> RSAKey:
    """An RSA key per name, generated once per test process (key generation is the slow part)."""
    return RSAKey.generate_key(2048, parameters={"kid": f"{name}-{generate_token(8)}", "use": "sig", "alg": "RS256"})


@dataclass
class User:
    id: str
    email: str


@dataclass
class Grantee:
    """The user a grant is for, plus the RFC 8707 resource the token must be bound to."""

    user: User
    resource: str | None

    def get_user_id(self) -> str:
        return self.user.id


@dataclass
class PublicClient(ClientMixin):
    """A public native client: no secret, loopback redirect on any port (RFC 8252 §7.3)."""

    client_id: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in (scope or "").split() if s in SCOPES)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        parts = urlsplit(redirect_uri)
        return parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.path == "/callback"

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in {"authorization_code", "refresh_token"}


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    grantee: Grantee
    code_challenge: str | None
    code_challenge_method: str | None
    expires_at: float

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


@dataclass
class TokenRecord(TokenMixin):
    access_token: str
    refresh_token: str | None
    client_id: str
    scope: str
    grantee: Grantee
    refresh_expires_at: float
    revoked: bool = False

    def check_client(self, client: ClientMixin) -> bool:
        return self.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return self.refresh_expires_at <= time.time()

    def is_revoked(self) -> bool:
        return self.revoked


class _Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: dict[str, str], query: dict[str, str], form: dict[str, str]):
        super().__init__(method, uri, headers=headers)
        self._query, self._form = query, form
        self.payload = BasicOAuth2Payload({**query, **form})

    @property
    def args(self) -> dict[str, str]:
        return self._query

    @property
    def form(self) -> dict[str, str]:
        return self._form


@dataclass
class _Raw:
    method: str
    uri: str
    headers: dict[str, str]
    query: dict[str, str]
    form: dict[str, str]


class TestAuthorizationServer(AuthorizationServer):
    """authlib's AuthorizationServer bound to an in-memory store and a stdlib HTTP server on 127.0.0.1."""

    __test__ = False  # not a pytest class

    def __init__(self, default_audience: str = "authenticated") -> None:
        super().__init__(scopes_supported=SCOPES)
        self.default_audience = default_audience
        self.access_token_ttl = 3600
        self.refresh_token_ttl = 86400
        self.decision = "approve"
        self.user = User(SEED_USER_ID, SEED_USER_EMAIL)
        self.extra_claims: dict[str, Any] = {}
        self.clients = {CLIENT_ID: PublicClient(CLIENT_ID)}
        self.codes: dict[str, AuthorizationCode] = {}
        self.tokens: dict[str, TokenRecord] = {}  # by refresh token
        self.token_requests: Counter[str] = Counter()
        self.revoked: list[str] = []
        self.lock = threading.Lock()
        self.key = signing_key()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self.issuer = self.url
        self.register_token_generator("default", _TokenGenerator(self))
        self.register_grant(_CodeGrant, [CodeChallenge(required=True)])
        self.register_grant(_RefreshGrant)
        self.register_endpoint(_Revocation)
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    # ---- lifecycle and test helpers ----

    def start(self) -> TestAuthorizationServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()

    @property
    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks.json"

    def metadata(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "revocation_endpoint": f"{self.url}/revoke",
            "jwks_uri": self.jwks_url,
            "scopes_supported": SCOPES,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "code_challenge_methods_supported": ["S256"],
        }

    def expire_refresh_tokens(self) -> None:
        with self.lock:
            for record in self.tokens.values():
                record.refresh_expires_at = 0

    # ---- authlib framework hooks ----

    def query_client(self, client_id: str) -> PublicClient | None:
        return self.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        if token.get("refresh_token"):
            with self.lock:
                self.tokens[token["refresh_token"]] = TokenRecord(
                    access_token=token["access_token"],
                    refresh_token=token["refresh_token"],
                    client_id=request.client.get_client_id(),
                    scope=token.get("scope", ""),
                    grantee=request.user,
                    refresh_expires_at=time.time() + self.refresh_token_ttl,
                )

    def create_oauth2_request(self, request: _Raw | OAuth2Request) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        return _Request(request.method, request.uri, request.headers, request.query, request.form)

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
        payload = json.dumps(body).encode() if isinstance(body, dict) else (body or "").encode()
        return status, payload, list(headers or [])

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None


class _TokenGenerator(JWTBearerTokenGenerator):
    def __init__(self, server: TestAuthorizationServer) -> None:
        super().__init__(
            issuer=server.issuer,
            refresh_token_generator=lambda **_: generate_token(48),
            expires_generator=lambda client, grant_type: server.access_token_ttl,
        )
        self.server = server

    def get_jwks(self) -> KeySet:
        return KeySet([self.server.key])  # a key set, so the token header names the key (kid)

    def get_audiences(self, client: Any, user: Grantee, scope: str) -> str:
        return user.resource or self.server.default_audience

    def get_extra_claims(self, client: Any, grant_type: str, user: Grantee, scope: str) -> dict[str, Any]:
        return {"role": "authenticated", "email": user.user.email, **self.server.extra_claims}


class _CodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    server: TestAuthorizationServer

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        data = request.payload.data
        with self.server.lock:
            self.server.codes[code] = AuthorizationCode(
                code=code,
                client_id=request.client.get_client_id(),
                redirect_uri=request.payload.redirect_uri,
                scope=request.client.get_allowed_scope(request.payload.scope),
                grantee=request.user,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                expires_at=time.time() + 600,
            )

    def query_authorization_code(self, code: str, client: ClientMixin) -> AuthorizationCode | None:
        found = self.server.codes.get(code)
        if found and found.client_id == client.get_client_id() and found.expires_at > time.time():
            return found
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        with self.server.lock:
            self.server.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Grantee:
        return authorization_code.grantee


class _RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation
    server: TestAuthorizationServer

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        record = self.server.tokens.get(refresh_token)
        if record and not record.is_revoked() and not record.is_expired():
            return record
        return None

    def authenticate_user(self, refresh_token: TokenRecord) -> Grantee:
        return refresh_token.grantee

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        with self.server.lock:
            refresh_token.revoked = True


class _Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["none"]
    server: TestAuthorizationServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        return self.server.tokens.get(token_string)

    def revoke_token(self, token: TokenRecord, request: OAuth2Request) -> None:
        with self.server.lock:
            token.revoked = True
            self.server.revoked.append(token.refresh_token or "")


def _handler(server: TestAuthorizationServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            target = urlsplit(self.path)
            if target.path == "/.well-known/oauth-authorization-server":
                self._json(200, server.metadata())
            elif target.path == "/jwks.json":
                self._json(200, server.jwks)
            elif target.path == "/authorize":
                self._authorize(self._raw(target, {}))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802
            target = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            raw = self._raw(target, form)
            if target.path == "/token":
                with server.lock:
                    server.token_requests[form.get("grant_type", "")] += 1
                self._reply(*server.create_token_response(raw))
            elif target.path == "/revoke":
                self._reply(*server.create_endpoint_response("revocation", raw))
            else:
                self._json(404, {"error": "not_found"})

        def _authorize(self, raw: _Raw) -> None:
            try:
                grant = server.get_consent_grant(raw, end_user=server.user)
            except OAuth2Error as error:
                self._json(400, dict(error.get_body()))
                return
            grantee = Grantee(server.user, raw.query.get("resource"))
            self._reply(
                *server.create_authorization_response(
                    grant.request, grant_user=grantee if server.decision == "approve" else None, grant=grant
                )
            )

        def _raw(self, target: Any, form: dict[str, str]) -> _Raw:
            return _Raw(
                self.command,
                f"{server.url}{self.path}",
                dict(self.headers.items()),
                dict(parse_qsl(target.query, keep_blank_values=True)),
                form,
            )

        def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._reply(status, json.dumps(body).encode(), [("Content-Type", "application/json")])

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            return

    return Handler


class Browser:
    """Stands in for `webbrowser.open`: in a thread (a real browser does not block the CLI either) it follows
    the authorization URL's redirects to the CLI's loopback callback and keeps the page it lands on.

    `tamper(url) -> url` may rewrite the authorization URL before it is visited, and `tamper_callback` the
    redirect to the CLI (an attacker's or a broken server's doing)."""

    __test__ = False

    def __init__(
        self,
        tamper: Callable[[str], str] | None = None,
        tamper_callback: Callable[[str], str] | None = None,
    ) -> None:
        self.tamper = tamper
        self.tamper_callback = tamper_callback
        self.opened: list[str] = []
        self.pages: list[httpx2.Response] = []
        self._threads: list[threading.Thread] = []

    def open(self, url: str, *args: Any, **kwargs: Any) -> bool:
        self.opened.append(url)
        thread = threading.Thread(target=self._visit, args=(url,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return True

    def _visit(self, url: str) -> None:
        with httpx2.Client(timeout=10) as http:
            response = http.get(self.tamper(url) if self.tamper else url)
            while response.is_redirect:
                target = response.headers["location"]
                if self.tamper_callback and urlsplit(target).path == "/callback":
                    target = self.tamper_callback(target)
                response = http.get(target)
            self.pages.append(response)

    def join(self) -> httpx2.Response:
        """The page the browser ended on (after the CLI answered the callback)."""
        for thread in self._threads:
            thread.join(timeout=10)
        assert self.pages, "the browser got no page"
        return self.pages[-1]
