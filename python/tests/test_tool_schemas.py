"""The schemas `tools/list` publishes: an output schema for every tool that its results validate against,
self-contained input schemas (no `$ref`, `$defs` or `oneOf`) that state every pattern the server enforces,
integral floats accepted for integers, and -32602 for a cursor `tools/list` never handed out."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS, PaginatedRequestParams
from pydantic import BaseModel

from atoms_mcp.core import models
from atoms_mcp.core.registry import TOOLS, ToolSpec
from atoms_mcp.core.text_rules import MULTI_LINE_PATTERN, SINGLE_LINE_PATTERN, first_refused_code_point
from atoms_mcp.server.app import create_server
from mcp_support import ACME_PROJECT, ListSink, error_code, make_settings, payload, token_for

pytestmark = pytest.mark.anyio


def _walk(node: Any) -> Any:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.mark.parametrize("spec", TOOLS, ids=lambda spec: spec.name)
def test_every_tool_publishes_a_valid_self_contained_output_and_input_schema(spec: ToolSpec) -> None:
    assert issubclass(spec.output_model, BaseModel), f"{spec.name} has no output model"
    for schema in (spec.input_schema, spec.output_schema):
        Draft202012Validator.check_schema(schema)
        assert schema["type"] == "object"
        keys = {key for node in _walk(schema) if isinstance(node, dict) for key in node}
        assert not keys & {"$ref", "$defs", "oneOf"}, spec.name
    properties = spec.output_schema["properties"]
    assert properties["status"]["enum"][-1] == "error" and "error" in properties
    if spec.kind == "rpc":
        assert set(properties) >= {"data", "meta"}
    if spec.returns_meta:
        assert set(properties["meta"]["required"]) == {"total_count", "limit", "offset", "has_more"}


def test_every_output_model_sits_next_to_its_input_model() -> None:
    for spec in TOOLS:
        assert spec.output_model.__name__ == spec.input_model.__name__.replace("Input", "Output")
        home = sys.modules[spec.input_model.__module__]
        assert getattr(home, spec.output_model.__name__) is spec.output_model


def test_bulk_import_items_are_inlined_in_its_input_schema() -> None:
    (bulk,) = [spec for spec in TOOLS if spec.name == "atoms_bulk_import"]
    items = bulk.input_schema["properties"]["items"]
    assert items["items"]["type"] == "object"
    assert items["items"]["additionalProperties"] is False
    assert {"type", "title"} <= set(items["items"]["required"])


def _patterns(schema: dict[str, Any]) -> dict[str, str]:
    return {name: prop["pattern"] for name, prop in schema["properties"].items() if "pattern" in prop}


def test_text_fields_publish_the_text_rules_as_patterns() -> None:
    (create,) = [spec for spec in TOOLS if spec.name == "atoms_create_item"]
    patterns = _patterns(create.input_schema)
    assert patterns["title"] == SINGLE_LINE_PATTERN
    assert patterns["body"] == MULTI_LINE_PATTERN and patterns["summary"] == MULTI_LINE_PATTERN
    assert create.input_schema["properties"]["domains"]["items"]["pattern"] == SINGLE_LINE_PATTERN
    (search,) = [spec for spec in TOOLS if spec.name == "atoms_search"]
    assert _patterns(search.input_schema)["query"] == MULTI_LINE_PATTERN


@pytest.mark.parametrize(("pattern", "single_line"), [(SINGLE_LINE_PATTERN, True), (MULTI_LINE_PATTERN, False)])
def test_the_published_patterns_refuse_exactly_what_the_server_refuses(pattern: str, single_line: bool) -> None:
    compiled = re.compile(pattern)
    for code in [*range(0x3000), *range(0xD700, 0xE100), 0xFEFF, 0xFFFD, 0x1F600, 0x10FFFF]:
        text = f"a{chr(code)}b"
        refused = first_refused_code_point(text, single_line=single_line) is not None
        assert (compiled.fullmatch(text) is None) == refused, hex(code)


async def test_results_validate_against_the_output_schema_and_integral_floats_count_as_integers(
    url: str, tmp_path: Path
) -> None:
    class Viewer:
        async def access_token(self) -> str:
            return token_for("viewer")

    server = create_server(make_settings(url, tmp_path), token_source=Viewer(), audit_sink=ListSink())
    async with Client(server) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert all(listed[spec.name].output_schema == spec.output_schema for spec in TOOLS)
        page = await client.call_tool("atoms_list_items", {"project_id": ACME_PROJECT, "limit": 2.0, "offset": 1.0})
        body = payload(page)
        assert error_code(page) is None and body["meta"]["limit"] == 2 and body["meta"]["offset"] == 1
        Draft202012Validator(listed["atoms_list_items"].output_schema).validate(body)
        half = await client.call_tool("atoms_list_items", {"project_id": ACME_PROJECT, "limit": 2.5})
        assert error_code(half) == "VALIDATION_ERROR"
        Draft202012Validator(listed["atoms_list_items"].output_schema).validate(payload(half))
        depth = await client.call_tool(
            "atoms_trace", {"project_id": ACME_PROJECT, "item_id": "REQ-001", "direction": "both", "depth": 2.0}
        )
        assert error_code(depth) is None


async def test_a_tools_list_cursor_is_invalid_params(tmp_path: Path) -> None:
    server = create_server(make_settings(None, tmp_path), audit_sink=ListSink())
    async with Client(server) as client:
        with pytest.raises(MCPError) as raised:
            await client.session.list_tools(params=PaginatedRequestParams(cursor="bogus"))
        assert raised.value.code == INVALID_PARAMS
        assert len((await client.list_tools()).tools) == len(TOOLS)


async def test_the_client_checks_results_against_the_published_output_schema(url: str, tmp_path: Path) -> None:
    """A result that does not fit its output schema is caught (the check the fuzzer and the tests rely on)."""

    class Lying(models.ToolOutput):
        data: int

    (projects,) = [spec for spec in TOOLS if spec.name == "atoms_list_projects"]
    fields = {name: getattr(projects, name) for name in projects.__dataclass_fields__}
    lying = ToolSpec(**{**fields, "output_model": Lying})

    class Viewer:
        async def access_token(self) -> str:
            return token_for("viewer")

    server = create_server(make_settings(url, tmp_path), token_source=Viewer(), audit_sink=ListSink(), tools=[lying])
    schema = lying.output_schema
    assert schema["properties"]["data"] == {"type": "integer"}
    assert json.dumps(schema)
    async with Client(server) as client:
        await client.list_tools()
        with pytest.raises(Exception, match="(?i)structured content|schema|validat"):
            await client.call_tool("atoms_list_projects", {})
