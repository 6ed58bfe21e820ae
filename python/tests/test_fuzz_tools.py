"""The fuzzer: arguments derived from each tool's published input schema, plus hostile mutations, through the
real server (an in-memory MCP client session on a clone of the seeded database, the database audit writer).

For every call: no INTERNAL error, every refusal a documented code, every result within the result budget and
valid against the tool's output schema; per tool, exactly one audit row per call. The short run is part of
`make test` (profile `default`); `make fuzz` runs the profile `fuzz` (at least 2,000 argument sets per tool).
Every failing example ever found is kept as an explicit case in test_fuzz_regressions.py.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from mcp import Client, MCPError
from mcp.types import CallToolResult, TextContent

from atoms_mcp.core.registry import TOOLS, ToolSpec
from atoms_mcp.core.result_budget import RESULT_BUDGET_BYTES
from atoms_mcp.core.tool_schemas import ERROR_CODES
from atoms_mcp.server.app import create_server
from mcp_support import make_settings, token_for
from schema_strategies import tool_arguments

# How many argument sets per tool: the short run of `make test`, or `make fuzz` (profile "fuzz", conftest.py).
SHORT_RUN_EXAMPLES = 25
FUZZ_SETTINGS = settings(
    max_examples=(
        settings.default.max_examples if settings.get_current_profile_name() == "fuzz" else SHORT_RUN_EXAMPLES
    ),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

# Flooded arguments make hypothesis warn about the size of an example's repr; the finding matters, not the repr.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

DOCUMENTED = set(ERROR_CODES) - {"INTERNAL"}
PRINCIPALS = ["viewer", "editor", "admin", "non_member"]


class RotatingTokenSource:
    """Each call as the next of a few users (and sometimes no one), so every role's path is fuzzed."""

    def __init__(self) -> None:
        self._next = itertools.cycle([*PRINCIPALS, "editor", "admin", None])

    async def access_token(self) -> str | None:
        who = next(self._next)
        return token_for(who) if who is not None else None


@contextmanager
def served(url: str, state_dir: Path) -> Iterator[tuple[BlockingPortal, Client]]:
    """A real server with the database audit writer and an in-memory client, on a loop in another thread."""
    server = create_server(make_settings(url, state_dir, rate_limit_rpm=10_000), token_source=RotatingTokenSource())
    with (
        start_blocking_portal(backend="asyncio") as portal,
        portal.wrap_async_context_manager(Client(server)) as client,
    ):
        yield portal, client


def check_result(spec: ToolSpec, result: CallToolResult, validator: Draft202012Validator) -> str | None:
    """What is wrong with one result (None: nothing)."""
    texts = [block.text for block in result.content if isinstance(block, TextContent)]
    if len(texts) != 1 or result.structured_content is None:
        return "not exactly one text block with structuredContent"
    if json.loads(texts[0]) != result.structured_content:
        return "text and structuredContent differ"
    if len(texts[0].encode()) > RESULT_BUDGET_BYTES:
        return f"result of {len(texts[0].encode())} bytes, over the budget"
    problems = [error.message for error in validator.iter_errors(result.structured_content)]
    if problems:
        return f"not valid against the output schema: {problems[0][:300]}"
    body = result.structured_content
    if result.is_error:
        code = body.get("error", {}).get("code")
        if code not in DOCUMENTED:
            return f"refused with {code}: {body.get('error', {}).get('message')}"
    elif spec.kind == "rpc" and (body.get("status") != "success" or "data" not in body):
        return "a success without data"
    return None


def audit_rows(db: psycopg.Connection, tool: str) -> int:
    row = db.execute("select count(*) from public.mcp_audit_log where tool_name = %s", [tool]).fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_fuzz_tool(spec: ToolSpec, module_db: psycopg.Connection, url: str, tmp_path: Path) -> None:
    validator = Draft202012Validator(spec.output_schema)
    before = audit_rows(module_db, spec.name)
    calls = 0
    failures: list[str] = []

    with served(url, tmp_path / "state") as (portal, client):

        @FUZZ_SETTINGS
        @given(arguments=tool_arguments(spec.input_schema))
        def fuzz(arguments: dict[str, Any]) -> None:
            nonlocal calls
            calls += 1
            try:
                result = portal.call(client.call_tool, spec.name, arguments)
            except MCPError as refused:  # a JSON-RPC error instead of a tool result: never expected
                problem: str | None = f"JSON-RPC error {refused.code}: {refused}"
            else:
                problem = check_result(spec, result, validator)
            if problem is not None:
                failures.append(f"{problem}\n  arguments: {json.dumps(arguments, default=repr)[:600]}")
                raise AssertionError(problem)

        fuzz()

    assert not failures, failures[0]
    assert calls >= (FUZZ_SETTINGS.max_examples or 0), f"only {calls} argument sets"
    after = audit_rows(module_db, spec.name)
    assert after - before == calls, f"{calls} calls, {after - before} audit rows"


def test_the_short_run_stays_short_and_make_fuzz_runs_2000_per_tool() -> None:
    """`make test` runs SHORT_RUN_EXAMPLES per tool (its size bounds the time the fuzzer adds to every run)."""
    assert SHORT_RUN_EXAMPLES * len(TOOLS) <= 1_000
    assert settings.get_profile("fuzz").max_examples >= 2_000
