"""How the MCP server is served: over stdio (one local client) or as a streamable HTTP app.

The HTTP app is wrapped by `RequestGuard` (caps and refusals before identification, see `request_guard`), whose
counts reach the audit log through the server's audit queue. Over stdio the audit records the database cannot take
are spilled at once: a client may kill the server soon after it closes stdin.
"""

from __future__ import annotations

from mcp.server.stdio import stdio_server
from starlette.applications import Starlette

from atoms_mcp.core.audit import AuditSink
from atoms_mcp.core.caller import StaticTokenSource, TokenSource
from atoms_mcp.core.refusals import RefusalCounter
from atoms_mcp.identity import resource_server
from atoms_mcp.identity.verifier import JwtVerifier
from atoms_mcp.server.app import create_server
from atoms_mcp.server.request_guard import RequestGuard
from atoms_mcp.settings import Settings

__all__ = ["create_http_app", "run_stdio"]


def create_http_app(
    settings: Settings,
    *,
    audit_sink: AuditSink | None = None,
    host: str = "127.0.0.1",
    port: int = 8765,
    refusals: RefusalCounter | None = None,
) -> Starlette:
    """The streamable HTTP app served at HOST:PORT: every request must carry `Authorization: Bearer <user JWT>`
    (else 401). Without ATOMS_APP_URL its public URL (RFC 9728 metadata, Host allow-list) is http://HOST:PORT.
    ``refusals`` replaces the counter of requests refused before identification (tests read it)."""
    # OAuth 2.1 resource server: RFC 9728 metadata, audience-bound tokens, scope in the challenge, Host checks.
    settings = resource_server.http_settings(resource_server.bound_settings(settings, host, port))
    counter = refusals or RefusalCounter(per_minute=settings.refusals_per_minute, server_instance=f"http:{host}")
    server = create_server(
        settings, token_source=StaticTokenSource(None, origin="HTTP"), audit_sink=audit_sink, refusals=counter
    )
    auth, verifier = resource_server.http_auth(settings)
    app = server.streamable_http_app(
        host=host,
        auth=auth,
        token_verifier=verifier,
        transport_security=resource_server.transport_security(settings, host),
        max_request_body_size=settings.max_body_bytes,
    )
    app = resource_server.finish_http_app(app, settings)
    app.add_middleware(RequestGuard, settings=settings, refusals=counter, verifier=JwtVerifier(settings))
    return app


async def run_stdio(settings: Settings, *, token_source: TokenSource | None = None) -> None:
    """Serve one client over stdin/stdout until it disconnects (logs go to stderr)."""
    server = create_server(settings, token_source=token_source, spill_at_once=True)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
