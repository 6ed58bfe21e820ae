"""The streamable HTTP transport as an OAuth 2.1 resource server (MCP authorization spec, RFC 9728, RFC 8707).

- Protected-resource metadata (RFC 9728) at `/.well-known/oauth-protected-resource/mcp` names the authorization
  server (`ATOMS_AUTH_URL`) and the scopes a client should ask for (`ATOMS_OAUTH_SCOPES`).
- A request without a valid token gets `401` with `WWW-Authenticate: Bearer ..., resource_metadata="...",
  scope="..."`. The SDK writes the challenge without `scope`; `ChallengeScopeMiddleware` adds it.
- Tokens must be issued for this server: `aud` must be `ATOMS_RESOURCE_URL` when it is set (authorization servers
  with RFC 8707 resource indicators), else `ATOMS_JWT_AUDIENCE` (Supabase Auth: `authenticated`). Signature,
  expiry and `role = authenticated` are checked by `auth.JwtVerifier`.
- No token passthrough: the bearer token is only verified; tool calls use the verified claims, and nothing sends
  the token anywhere.
- DNS-rebinding protection: the SDK arms it for loopback hosts only; for any other bind address the allowed
  Host/Origin values come from the public URLs (`ATOMS_APP_URL`, `ATOMS_RESOURCE_URL`) plus
  `ATOMS_ALLOWED_HOSTS` / `ATOMS_ALLOWED_ORIGINS`, so a request naming another host gets 421.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken, TokenVerifier
from mcp.server.auth.routes import build_resource_metadata_url, create_protected_resource_routes
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl, ConfigDict
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atoms_mcp.core.caller import VerifiedUser
from atoms_mcp.core.errors import UnauthenticatedError
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.settings import Settings

__all__ = [
    "AtomsTokenVerifier",
    "ChallengeScopeMiddleware",
    "DEFAULT_APP_URL",
    "LOOPBACK_HOSTS",
    "app_url",
    "bound_settings",
    "finish_http_app",
    "http_auth",
    "http_settings",
    "resource_url",
    "transport_security",
    "verified_user",
    "VerifiedAccessToken",
]

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
WILDCARD_HOSTS = ("0.0.0.0", "::", "")
_HAS_SCOPE = re.compile(rb"(^|[\s,])scope=", re.IGNORECASE)


class VerifiedAccessToken(AccessToken):
    """The SDK's access token of a request, carrying the user our verifier verified, so the call uses that user
    as it is (no second verification, no rebuilding it from the token's fields)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    user: VerifiedUser


class AtomsTokenVerifier(TokenVerifier):
    """The MCP SDK's bearer-token hook for the HTTP transport: a refused token gives 401."""

    def __init__(self, verifier: JwtVerifier) -> None:
        self._verifier = verifier

    async def verify_token(self, token: str) -> AccessToken | None:
        """The request's access token with its verified user, or None (the SDK then answers 401)."""
        try:
            user = await self._verifier.verify(token)
        except UnauthenticatedError:
            return None
        return VerifiedAccessToken(
            token=token,
            client_id=user.user_id,
            scopes=[],
            expires_at=user.expires_at,
            subject=user.user_id,
            claims=user.claims,  # the SDK binds an HTTP session to its principal (iss, sub) from these
            user=user,
        )


def verified_user() -> VerifiedUser | None:
    """The user the HTTP transport verified for the current request (None on stdio and in-memory connections)."""
    access = get_access_token()
    return access.user if isinstance(access, VerifiedAccessToken) else None


DEFAULT_APP_URL = "http://127.0.0.1:8765"


def app_url(settings: Settings) -> str:
    """The public base URL of the HTTP server: ATOMS_APP_URL, else the default bind http://127.0.0.1:8765."""
    return settings.app_url or DEFAULT_APP_URL


def bound_settings(settings: Settings, host: str, port: int) -> Settings:
    """The settings of a server bound to HOST:PORT: without ATOMS_APP_URL the public URL is that address, so the
    RFC 9728 metadata and the Host allow-list name the port actually served."""
    if settings.app_url:
        return settings
    name = "127.0.0.1" if host in WILDCARD_HOSTS else host
    name = f"[{name}]" if ":" in name else name
    return settings.model_copy(update={"app_url": f"http://{name}:{port}"})


def resource_url(settings: Settings) -> str:
    """The canonical URL of the MCP endpoint: ATOMS_RESOURCE_URL, else the app URL + /mcp."""
    return settings.resource_url or app_url(settings).rstrip("/") + "/mcp"


def http_settings(settings: Settings) -> Settings:
    """The settings of the HTTP server: the audience tokens must carry is this resource when it is configured."""
    return settings.model_copy(update={"jwt_audience": settings.resource_url or settings.jwt_audience})


def http_auth(settings: Settings) -> tuple[AuthSettings, AtomsTokenVerifier]:
    """The SDK's auth settings (metadata, challenge) and the verifier (of `http_settings(settings)`)."""
    verifier = AtomsTokenVerifier(JwtVerifier(http_settings(settings)))
    auth = AuthSettings(
        issuer_url=AnyHttpUrl(settings.auth_issuer_url),
        resource_server_url=AnyHttpUrl(resource_url(settings)),
        validate_token_resource=False,  # the verifier checks `aud` against this resource itself
    )
    return auth, verifier


def transport_security(settings: Settings, host: str) -> TransportSecuritySettings | None:
    """Host/Origin allow-lists for a non-loopback bind (None: the SDK's loopback defaults apply)."""
    public = [app_url(settings), resource_url(settings)]
    if host in LOOPBACK_HOSTS and all(urlsplit(url).hostname in LOOPBACK_HOSTS for url in public):
        return None
    hosts: list[str] = []
    origins: list[str] = []
    for url in public:
        parts = urlsplit(url)
        if not parts.hostname:
            continue
        name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        hosts += [parts.netloc, name, f"{name}:*"]
        origins.append(f"{parts.scheme}://{parts.netloc}")
    if host in LOOPBACK_HOSTS:  # behind a local reverse proxy: direct local calls keep working
        hosts += ["127.0.0.1:*", "localhost:*", "[::1]:*"]
        origins += ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=_unique(hosts + settings.allowed_hosts),
        allowed_origins=_unique(origins + settings.allowed_origins),
    )


def finish_http_app(app: Starlette, settings: Settings) -> Starlette:
    """Publish the scopes in the RFC 9728 metadata and add `scope` to every Bearer challenge."""
    scopes = settings.oauth_scopes.split()
    resource = AnyHttpUrl(resource_url(settings))
    metadata_path = urlsplit(str(build_resource_metadata_url(resource))).path
    (replacement,) = create_protected_resource_routes(
        resource_url=resource,
        authorization_servers=[AnyHttpUrl(settings.auth_issuer_url)],
        scopes_supported=scopes,
        resource_name="atoms MCP server",
    )
    routes = app.router.routes
    for index, route in enumerate(routes):
        if isinstance(route, Route) and route.path == metadata_path:
            routes[index] = replacement
    app.add_middleware(ChallengeScopeMiddleware, scope=" ".join(scopes))
    return app


class ChallengeScopeMiddleware:
    """Adds `scope="..."` to `WWW-Authenticate: Bearer` challenges that lack one (MCP spec; RFC 6750 §3)."""

    def __init__(self, app: ASGIApp, scope: str) -> None:
        self.app = app
        self.param = f', scope="{scope}"'.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_scope(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                message = {**message, "headers": [self._with_scope(name, value) for name, value in message["headers"]]}
            await send(message)

        await self.app(scope, receive, send_with_scope)

    def _with_scope(self, name: bytes, value: bytes) -> tuple[bytes, bytes]:
        if name.lower() == b"www-authenticate" and value[:7].lower() == b"bearer " and not _HAS_SCOPE.search(value):
            return name, value + self.param
        return name, value


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))
