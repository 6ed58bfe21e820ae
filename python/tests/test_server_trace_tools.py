"""The trace, reason, guarded-delete, evidence and bulk-link arguments through the real server: the input models
check the shape (exactly one link form, force with a reason) before any round trip, the database's details reach
error.details, and every call, refused or not, is audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mcp import Client
from mcp.types import Implementation
from psycopg.conninfo import make_conninfo

from atoms_mcp.core.registry import TOOLS
from atoms_mcp.server.app import create_server
from mcp_support import ACME_PROJECT, ListSink, error_code, make_settings, payload, token_for

pytestmark = pytest.mark.anyio


class EditorToken:
    async def access_token(self) -> str | None:
        return token_for("editor")

    def status(self) -> str:
        return "test"


@pytest.fixture
def db_url_for_server(db: psycopg.Connection) -> str:
    info = db.info
    return make_conninfo(host=info.host, port=info.port, user=info.user, dbname=info.dbname, password=info.password)


async def calls(url: str, tmp_path: Path, sink: ListSink, *requests: tuple[str, dict[str, Any]]) -> list[Any]:
    server = create_server(make_settings(url, tmp_path), token_source=EditorToken(), audit_sink=sink)
    results = []
    async with Client(server, mode="auto", client_info=Implementation(name="claude-code", version="1")) as client:
        for name, args in requests:
            results.append(await client.call_tool(name, {"project_id": ACME_PROJECT, **args}))
    return results


def test_no_input_schema_uses_ref_or_one_of() -> None:
    for spec in TOOLS:
        text = json.dumps(spec.input_schema)
        assert "$ref" not in text and "oneOf" not in text and "$defs" not in text, spec.name
    links = next(s for s in TOOLS if s.name == "atoms_link_items").input_schema["properties"]["links"]
    assert links["maxItems"] == 500 and links["items"]["required"] == ["from_id", "to_id", "type"]


async def test_guarded_delete_reaches_the_client_with_its_impact(db_url_for_server: str, tmp_path: Path) -> None:
    sink = ListSink()
    conflict, no_reason, forced, gone = await calls(
        db_url_for_server,
        tmp_path,
        sink,
        ("atoms_delete_item", {"item_id": "REQ-001"}),
        ("atoms_delete_item", {"item_id": "REQ-001", "force": True}),
        ("atoms_delete_item", {"item_id": "REQ-001", "force": True, "reason": "Replaced by REQ-002"}),
        ("atoms_get_item", {"item_id": "REQ-001"}),
    )
    assert error_code(conflict) == "CONFLICT"
    details = payload(conflict)["error"]["details"]
    assert details["children"] == ["REQ-002", "REQ-003"] and details["id"] == "REQ-001"
    assert error_code(no_reason) == "VALIDATION_ERROR"
    assert "force needs a reason" in payload(no_reason)["error"]["message"]
    assert error_code(forced) is None and payload(forced)["data"]["reason"] == "Replaced by REQ-002"
    assert error_code(gone) == "NOT_FOUND"
    assert set(payload(gone)["error"]["details"]) == {"id", "deleted_at", "deleted_by"}
    assert [(r["tool_name"], r["error_code"]) for r in sink.records] == [
        ("atoms_delete_item", "CONFLICT"),
        ("atoms_delete_item", "VALIDATION_ERROR"),
        ("atoms_delete_item", None),
        ("atoms_get_item", "NOT_FOUND"),
    ]


async def test_link_items_takes_exactly_one_form(db_url_for_server: str, tmp_path: Path) -> None:
    sink = ListSink()
    one_link = {"from_id": "TC-007", "to_id": "REQ-007", "type": "verifies"}
    both, neither, many, bulk = await calls(
        db_url_for_server,
        tmp_path,
        sink,
        ("atoms_link_items", {**one_link, "links": [one_link]}),
        ("atoms_link_items", {"from_id": "TC-007"}),
        ("atoms_link_items", {"links": [one_link] * 501}),
        ("atoms_link_items", {"links": [one_link, {**one_link, "to_id": "REQ-404"}], "reason": "matrix import"}),
    )
    assert error_code(both) == "VALIDATION_ERROR" and "not both" in payload(both)["error"]["message"]
    assert error_code(neither) == "VALIDATION_ERROR" and "missing: to_id, type" in payload(neither)["error"]["message"]
    assert error_code(many) == "VALIDATION_ERROR"
    data = payload(bulk)["data"]
    assert (data["processed"], [e["index"] for e in data["errors"]]) == (1, [1])
    assert len(sink.records) == 4


async def test_trace_and_result_evidence_through_the_server(db_url_for_server: str, tmp_path: Path) -> None:
    sink = ListSink()
    # The seed's test cases were created when the template database was built: a run just now is after that.
    ran = datetime.now(UTC).replace(microsecond=0)
    trace, recorded, future = await calls(
        db_url_for_server,
        tmp_path,
        sink,
        ("atoms_trace", {"item_id": "REQ-002", "direction": "both", "related_depth": 0}),
        (
            "atoms_record_test_result",
            {
                "item_id": "TC-007",
                "result": "passed",
                "run_at": ran.isoformat().replace("+00:00", "Z"),
                "build": "fw 2.1.0",
                "executed_by": "editor@acme.test",
                "evidence": "https://ci.example.test/42",
            },
        ),
        ("atoms_record_test_result", {"item_id": "TC-007", "result": "passed", "run_at": "2999-01-01T00:00:00Z"}),
    )
    items = payload(trace)["data"]["items"]
    assert all(i["via"] for i in items) and {i["relationship"] for i in items} <= {
        "parent",
        "child",
        "verifies",
        "verified_by",
    }
    assert "REQ-003" not in {i["id"] for i in items}  # REQ-002's sibling under REQ-001
    assert error_code(recorded) is None, payload(recorded)
    data = payload(recorded)["data"]
    assert (data["run_at"], data["build"], data["executed_by_id"]) == (
        ran.strftime("%Y-%m-%dT%H:%M:%S.000000Z"),
        "fw 2.1.0",
        "a0000000-0000-4000-8000-0000000000a2",
    )
    assert error_code(future) == "VALIDATION_ERROR"
