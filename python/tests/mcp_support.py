"""Helpers for the MCP server tests: settings pointing at a test database, user tokens, in-memory sinks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mcp.types import CallToolResult, TextContent
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from atoms_mcp.identity.verifier import mint_token
from atoms_mcp.settings import DEV_JWT_SECRET, Settings
from principals import PRINCIPALS

ACME_PROJECT = "a0000000-0000-4000-8000-000000000101"
GLOBEX_PROJECT = "b0000000-0000-4000-8000-000000000101"


def gateway_url(db_url: str) -> str:
    """The same database, logged in as the MCP server's role (local trust auth)."""
    info = conninfo_to_dict(db_url)
    info["user"] = "atoms_mcp_gateway"
    info.pop("password", None)
    return make_conninfo(**info)


def make_settings(db_url: str | None, state_dir: Path, **overrides: Any) -> Settings:
    """Settings for one test, independent of the environment's ATOMS_* variables."""
    values: dict[str, Any] = {
        "dev": True,
        "database_url": db_url or "postgresql://postgres@127.0.0.1:5432/atoms_unused",
        "gateway_database_url": gateway_url(db_url) if db_url else "postgresql://atoms_mcp_gateway@127.0.0.1:1/none",
        "access_token": None,
        "jwt_secret": DEV_JWT_SECRET,
        "jwks_url": None,
        "jwt_audience": "authenticated",
        "jwt_issuer": None,
        "client_name": None,
        "rate_limit_rpm": 10_000,
        "pool_min_size": 0,
        "pool_max_size": 4,
        "state_dir": state_dir,
    }
    values.update(overrides)
    return Settings(**values)


def token_for(principal: str, **kwargs: Any) -> str:
    """A dev JWT of a seed user (principal names of principals.PRINCIPALS)."""
    p = PRINCIPALS[principal]
    assert p.user_id is not None, f"{principal} is not a signed-in user"
    return mint_token(DEV_JWT_SECRET, user_id=p.user_id, email=p.email, **kwargs)


def payload(result: CallToolResult) -> dict[str, Any]:
    """The envelope, checking that structuredContent and the text block carry the same JSON."""
    assert result.structured_content is not None
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    assert len(texts) == 1
    assert json.loads(texts[0]) == result.structured_content
    return result.structured_content


def error_code(result: CallToolResult) -> str | None:
    body = payload(result)
    if result.is_error:
        assert body["status"] == "error"
        return body["error"]["code"]
    assert body.get("status") != "error"
    return None


class ListSink:
    """An in-memory audit sink (tests that do not need the database writer)."""

    def __init__(self) -> None:
        self.records: list[Mapping[str, Any]] = []

    async def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        self.records.extend(records)

    async def close(self) -> None:
        pass
