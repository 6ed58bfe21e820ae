"""`atoms login`: OAuth 2.1 authorization code + PKCE (S256) as a public native client (RFC 8252).

1. Discover the authorization server's endpoints from `ATOMS_AUTH_URL`: RFC 8414 metadata first, then OpenID
   Connect discovery (the order the MCP authorization spec prescribes), and check the metadata's `issuer` and
   that it supports S256.
2. Listen on `http://127.0.0.1:<ATOMS_LOGIN_PORT>/callback` (an IP literal, never `localhost`).
3. Open the browser on the authorization URL (also printed, for headless machines): `code_challenge` S256,
   a random `state`, the RFC 8707 `resource` (the MCP server) when configured.
4. The first request to /callback ends the wait: `state` must match (constant-time), `iss` too when sent
   (RFC 9207); the code is exchanged with the verifier; the browser then gets a page saying what happened.
5. The listener is closed after that one callback or after the timeout.

The OAuth protocol work (authorization URL, PKCE challenge, token requests) is authlib's; the discovery URLs and the
metadata model are the MCP SDK's (`build_oauth_authorization_server_metadata_discovery_urls`, `OAuthMetadata`).
This module wires the loopback listener, discovery and the credentials file together; refreshing and revoking a
session live in `identity.refresh`.
"""

from __future__ import annotations

import html
import queue
import secrets
import sys
import threading
import webbrowser
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from mcp.client.auth.utils import build_oauth_authorization_server_metadata_discovery_urls
from mcp.shared.auth import OAuthMetadata
from pydantic import ValidationError as PydanticValidationError

from atoms_mcp.identity.credentials import Credentials, LoginError
from atoms_mcp.identity.refresh import HTTP_TIMEOUT_SECONDS, expires_at, now
from atoms_mcp.settings import Settings

__all__ = ["LoginError", "discover_metadata", "discovery_urls", "login"]

CALLBACK_PATH = "/callback"


def discovery_urls(issuer: str) -> list[str]:
    """Metadata URLs to try, in the MCP authorization spec's order (path insertion before path appending)."""
    return build_oauth_authorization_server_metadata_discovery_urls(issuer, issuer)


def discover_metadata(issuer: str, http: httpx2.Client) -> OAuthMetadata:
    """The authorization server's metadata, checked (RFC 8414 §3.3 issuer match, PKCE S256 support).

    Raises:
        LoginError: no metadata found, or it is unusable.
    """
    tried: list[str] = []
    for url in discovery_urls(issuer):
        try:
            response = http.get(url, headers={"Accept": "application/json"})
        except httpx2.HTTPError as error:
            raise LoginError(f"cannot reach the authorization server at {url}: {error}") from None
        if response.status_code != 200:
            tried.append(f"{url} ({response.status_code})")
            continue
        try:
            metadata = OAuthMetadata.model_validate_json(response.content)
        except PydanticValidationError:
            raise LoginError(f"{url} is not valid authorization server metadata.") from None
        if str(metadata.issuer).rstrip("/") != issuer.rstrip("/"):
            raise LoginError(
                f"{url} names issuer {str(metadata.issuer)!r}, not {issuer!r}; check ATOMS_AUTH_URL (RFC 8414 §3.3)."
            )
        if "S256" not in (metadata.code_challenge_methods_supported or []):
            raise LoginError(f"the authorization server at {issuer} does not advertise PKCE S256; refusing to log in.")
        return metadata
    raise LoginError(
        f"no OAuth metadata under ATOMS_AUTH_URL={issuer} (tried {', '.join(tried)}). Set ATOMS_AUTH_URL to the "
        "issuer, e.g. https://<project-ref>.supabase.co/auth/v1 with its OAuth 2.1 server enabled."
    )


def requested_scope(settings: Settings, metadata: OAuthMetadata) -> str:
    """The configured scopes, plus offline_access when the server offers it (so a refresh token is issued)."""
    scopes = settings.oauth_scopes.split()
    if "offline_access" in (metadata.scopes_supported or []) and "offline_access" not in scopes:
        scopes.append("offline_access")
    return " ".join(scopes)


def login(
    settings: Settings,
    *,
    open_browser: Callable[[str], object] | None = None,
    echo: Callable[[str], None] | None = None,
) -> Credentials:
    """Run the browser login and return the new credentials (the caller saves them). Messages go to `echo`
    (default: stderr, so a command's stdout stays its result).

    Raises:
        LoginError: discovery, the consent, the callback or the code exchange failed, or the wait timed out.
    """
    with httpx2.Client(timeout=HTTP_TIMEOUT_SECONDS) as http:
        metadata = discover_metadata(settings.auth_issuer_url, http)
    listener = _CallbackListener(settings.login_port)
    try:
        redirect_uri = f"http://127.0.0.1:{listener.port}{CALLBACK_PATH}"
        extra = {"resource": settings.resource_url} if settings.resource_url else {}
        client: Any = OAuth2Client(
            client_id=settings.oauth_client_id,
            token_endpoint_auth_method="none",
            redirect_uri=redirect_uri,
            scope=requested_scope(settings, metadata),
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT_SECONDS,
        )
        with client:
            verifier = generate_token(64)
            url: str
            state: str
            url, state = client.create_authorization_url(
                str(metadata.authorization_endpoint), state=generate_token(32), code_verifier=verifier, **extra
            )
            (echo or _to_stderr)(
                f"Opening the browser to sign in. If it does not open, visit this URL on this machine:\n\n  {url}\n"
            )
            (open_browser or webbrowser.open)(url)
            params = listener.wait(settings.login_timeout_seconds)
            try:
                code = _check_callback(params, state, str(metadata.issuer))
                token: Mapping[str, Any] = client.fetch_token(
                    str(metadata.token_endpoint), code=code, code_verifier=verifier, **extra
                )
            except OAuthError as error:
                raise LoginError(
                    f"the token request was refused ({_describe(error)}). Run `atoms login` again."
                ) from None
            except httpx2.HTTPError as error:
                raise LoginError(f"the token request failed: {error}. Run `atoms login` again.") from None
            credentials = _credentials_from_token(token, settings, metadata, resource=settings.resource_url)
        listener.finish(ok=True, message="You are signed in to atoms. You can close this tab.")
        return credentials
    except LoginError as error:
        listener.finish(ok=False, message=str(error))
        raise
    except BaseException:
        listener.finish(ok=False, message="Sign-in was interrupted. Return to the terminal.")
        raise
    finally:
        listener.close()


# ---- helpers ----


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _check_callback(params: Mapping[str, list[str]], state: str, issuer: str) -> str:
    """The authorization code from the callback parameters, after the state / iss / error checks."""
    got_state = _single(params, "state")
    if got_state is None or not secrets.compare_digest(got_state.encode(), state.encode()):
        raise LoginError("the sign-in answer did not carry this login's state (possible CSRF); nothing was saved.")
    iss = _single(params, "iss")
    if iss is not None and iss.rstrip("/") != issuer.rstrip("/"):
        raise LoginError(f"the sign-in answer came from issuer {iss!r}, not {issuer!r} (RFC 9207); nothing was saved.")
    error = _single(params, "error")
    if error is not None:
        description = _single(params, "error_description")
        detail = f"{error}: {description}" if description else error
        raise LoginError(f"the authorization server refused the sign-in ({detail}).")
    code = _single(params, "code")
    if not code:
        raise LoginError("the sign-in answer carried no authorization code.")
    return code


def _single(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise LoginError(f"the sign-in answer repeated the parameter {name!r}; refusing it.")
    return values[0]


def _credentials_from_token(
    token: Mapping[str, Any], settings: Settings, metadata: OAuthMetadata, *, resource: str | None
) -> Credentials:
    if not token.get("access_token"):
        raise LoginError("the token response carried no access token.")
    token_type = str(token.get("token_type", "Bearer"))
    if token_type.lower() != "bearer":
        raise LoginError(f"the token response has token_type {token_type!r}; only Bearer tokens are supported.")
    return Credentials(
        issuer=settings.auth_issuer_url,  # discovery checked that the metadata names this issuer
        client_id=settings.oauth_client_id,
        token_endpoint=str(metadata.token_endpoint),
        revocation_endpoint=str(metadata.revocation_endpoint) if metadata.revocation_endpoint else None,
        resource=resource,
        token_type="Bearer",
        access_token=str(token["access_token"]),
        refresh_token=token.get("refresh_token"),
        expires_at=expires_at(token),
        scope=token.get("scope"),
        obtained_at=now(),
    )


def _describe(error: OAuthError) -> str:
    return f"{error.error}: {error.description}" if error.description else str(error.error)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>atoms: {title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style></head>
<body><h1>{title}</h1><p>{message}</p></body></html>
"""


@dataclass
class _Outcome:
    ok: bool
    message: str


class _CallbackListener:
    """A loopback HTTP server that takes exactly one request to /callback, then answers with the outcome."""

    def __init__(self, port: int) -> None:
        self._params: queue.Queue[dict[str, list[str]]] = queue.Queue(maxsize=1)
        self._outcome: queue.Queue[_Outcome] = queue.Queue(maxsize=1)
        self._taken = threading.Lock()
        self._finished = False
        self._answered = threading.Event()
        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        except OSError as error:
            raise LoginError(
                f"cannot listen on 127.0.0.1:{port} for the sign-in callback ({error.strerror}). Close what "
                "uses it or set ATOMS_LOGIN_PORT to a port the authorization server accepts."
            ) from None
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # how soon close() takes effect
            name="atoms-login-callback",
            daemon=True,
        )
        self._thread.start()

    def wait(self, timeout: float) -> dict[str, list[str]]:
        try:
            return self._params.get(timeout=timeout)
        except queue.Empty:
            raise LoginError(f"no sign-in answer within {timeout:g} seconds; run `atoms login` again.") from None

    def finish(self, *, ok: bool, message: str) -> None:
        """Tell the waiting callback request what to show (only the first call counts)."""
        if not self._finished:
            self._finished = True
            self._outcome.put_nowait(_Outcome(ok, message))

    def close(self) -> None:
        """Stop listening, after the callback page (if any) was written, so the browser never sees a reset."""
        if self._taken.locked():
            self._answered.wait(timeout=5)
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                target = urlsplit(self.path)
                if target.path != CALLBACK_PATH or not listener._taken.acquire(blocking=False):
                    self._send(404, "Not found", "Nothing to see here.")
                    return
                listener._params.put_nowait(parse_qs(target.query, keep_blank_values=True))
                try:
                    outcome = listener._outcome.get(timeout=HTTP_TIMEOUT_SECONDS * 2)
                except queue.Empty:
                    outcome = _Outcome(False, "The sign-in did not finish in time. Return to the terminal.")
                try:
                    if outcome.ok:
                        self._send(200, "Signed in", outcome.message)
                    else:
                        self._send(400, "Sign-in failed", f"{outcome.message} Return to the terminal.")
                finally:
                    listener._answered.set()

            def _send(self, status: int, title: str, message: str) -> None:
                body = _PAGE.format(title=html.escape(title), message=html.escape(message)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (signature of the base class)
                return  # the query string holds the code: never log it

        return Handler
