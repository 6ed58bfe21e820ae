"""`atoms serve`: run the MCP server over stdio or streamable HTTP (the only command that loads the MCP SDK)."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from typing import Annotated

import anyio
import typer

from atoms_mcp.cli.common import fail, settings_of
from atoms_mcp.settings import ConfigurationError, require_servable

__all__ = ["Transport", "serve"]


class Transport(StrEnum):
    """How the server talks to its clients."""

    stdio = "stdio"
    http = "http"


def serve(
    ctx: typer.Context,
    transport: Annotated[Transport, typer.Option("--transport", "-t", help="stdio (one local client) or http.")] = (
        Transport.stdio
    ),
    host: Annotated[str, typer.Option(help="HTTP: interface to bind (keep 127.0.0.1 unless behind a proxy).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="HTTP: port.")] = 8765,
) -> None:
    """Run the MCP server: over stdio (token from ATOMS_ACCESS_TOKEN / `atoms login`) or streamable HTTP
    (a bearer token on every request) at http://HOST:PORT/mcp."""
    # The MCP SDK is imported here only, so the other commands start without it.
    from atoms_mcp.server.transports import create_http_app, run_stdio

    settings = settings_of(ctx)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        require_servable(settings, http_host=host if transport is Transport.http else None)
    except ConfigurationError as error:
        fail(f"atoms serve: {error}")
    if settings.dev:
        logging.getLogger("atoms_mcp").warning(
            "ATOMS_DEV=1: development mode (local demo JWT secret unless ATOMS_JWT_SECRET is set, HTTP on loopback "
            "only, session key in %s). Never use it for a deployment.",
            settings.state_dir,
        )
    if transport is Transport.stdio:
        anyio.run(run_stdio, settings)
    else:
        import uvicorn

        uvicorn.run(create_http_app(settings, host=host, port=port), host=host, port=port, log_level="info")
