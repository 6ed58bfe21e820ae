"""The result budget: every successful result fits RESULT_BUDGET_BYTES of serialised JSON. Pages shrink (and
`offset += limit` still reaches every row), long texts and nested lists are trimmed with the one marker shape,
and atoms_get_item reads any body whole in `body_offset`/`body_limit` pieces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from atoms_mcp.core.result_budget import RESULT_BUDGET_BYTES, fit_result, serialized_size
from atoms_mcp.server.app import create_server
from mcp_support import ACME_PROJECT, ListSink, error_code, make_settings, payload, token_for

MARKER_KEYS = {"truncated", "field", "full_length", "next_offset"}


def _page(rows: list[Any], total: int | None = None, limit: int = 200) -> dict[str, Any]:
    count = len(rows) if total is None else total
    meta = {"total_count": count, "limit": limit, "offset": 0, "has_more": limit < count}
    return {"status": "success", "data": rows, "meta": meta}


def test_a_small_result_is_returned_unchanged() -> None:
    small = _page([{"id": "REQ-001", "summary": "short"}])
    assert fit_result(small, {}) == small


def test_a_long_page_shrinks_and_says_there_is_more() -> None:
    rows = [{"id": f"REQ-{n:03}", "summary": "é" * 2000} for n in range(200)]
    assert serialized_size(_page(rows)) > 4 * RESULT_BUDGET_BYTES
    fitted = fit_result(_page(rows, total=382), {})
    assert serialized_size(fitted) <= RESULT_BUDGET_BYTES
    kept = len(fitted["data"])
    assert 0 < kept < 200 and fitted["data"] == rows[:kept]
    assert fitted["meta"] == {"total_count": 382, "limit": kept, "offset": 0, "has_more": True}


def test_a_single_huge_row_has_its_longest_texts_trimmed_with_markers() -> None:
    event = {"event_type": "updated", "old_values": {"body": '"\\' * 60_000}, "new_values": {"body": "😀" * 100_000}}
    fitted = fit_result(_page([event]), {})
    assert serialized_size(fitted) <= RESULT_BUDGET_BYTES
    markers = {m["field"]: m for m in fitted["meta"]["truncated"]}
    assert set(markers) <= {"0.old_values.body", "0.new_values.body"} and "0.new_values.body" in markers
    for field, marker in markers.items():
        assert set(marker) == MARKER_KEYS and marker["truncated"] is True
        _, group, _ = field.split(".")
        kept = fitted["data"][0][group]["body"]
        assert marker["next_offset"] == len(kept) < marker["full_length"]
        assert event[group]["body"].startswith(kept)


def test_a_nested_list_is_cut_with_a_marker_counting_rows() -> None:
    uncovered = [{"id": f"REQ-{n:05}", "title": "x" * 40, "domains": ["safety"]} for n in range(5000)]
    coverage = {"status": "success", "data": {"total": 5000, "covered": 0, "uncovered_items": uncovered}}
    fitted = fit_result(coverage, {})
    assert serialized_size(fitted) <= RESULT_BUDGET_BYTES
    (marker,) = fitted["meta"]["truncated"]
    kept = len(fitted["data"]["uncovered_items"])
    assert marker == {"truncated": True, "field": "uncovered_items", "full_length": 5000, "next_offset": kept}
    assert fitted["data"]["uncovered_items"] == uncovered[:kept]


def test_markers_of_rows_cut_away_are_dropped() -> None:
    rows = [[{"text": "y" * 30_000}, {"text": "z" * 30_000}] for _ in range(4)]
    fitted = fit_result({"status": "success", "data": {"groups": rows}}, {})
    assert serialized_size(fitted) <= RESULT_BUDGET_BYTES
    kept_groups = len(fitted["data"]["groups"])
    for marker in fitted["meta"]["truncated"]:
        parts = marker["field"].split(".")
        if len(parts) > 2:
            assert int(parts[1]) < kept_groups


# ---- through the real server ----


class Editor:
    async def access_token(self) -> str:
        return token_for("editor")


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Any:
    return create_server(make_settings(db_url, tmp_path), token_source=Editor(), audit_sink=ListSink())


def _within_budget(result: Any) -> dict[str, Any]:
    body = payload(result)
    text = result.content[0].text
    assert len(text.encode()) <= RESULT_BUDGET_BYTES
    assert json.loads(text) == body
    return body


@pytest.mark.anyio
async def test_any_body_is_read_whole_in_pieces(server: Any) -> None:
    body = "".join(chr(0x1F600 + n % 80) + ('"' if n % 7 == 0 else "") for n in range(87_000))[:100_000]
    async with Client(server) as client:
        created = await client.call_tool(
            "atoms_create_item", {"project_id": ACME_PROJECT, "type": "note", "title": "long", "body": body}
        )
        assert error_code(created) is None, payload(created)
        key = payload(created)["data"]["id"]
        pieces: list[str] = []
        offset, calls = 0, 0
        while True:
            got = _within_budget(
                await client.call_tool(
                    "atoms_get_item",
                    {"project_id": ACME_PROJECT, "item_id": key, "body_offset": offset, "body_limit": 100_000},
                )
            )
            calls += 1
            assert got["data"]["body_length"] == len(body)
            pieces.append(got["data"]["body"])
            markers = got.get("meta", {}).get("truncated", [])
            if not markers:
                break
            (marker,) = markers
            assert marker == {
                "truncated": True,
                "field": "body",
                "full_length": len(body),
                "next_offset": offset + len(got["data"]["body"]),
            }
            offset = marker["next_offset"]
        assert "".join(pieces) == body and calls >= 4
        first = _within_budget(await client.call_tool("atoms_get_item", {"project_id": ACME_PROJECT, "item_id": key}))
        assert first["data"]["body"] == body[:20_000]
        beyond = _within_budget(
            await client.call_tool(
                "atoms_get_item", {"project_id": ACME_PROJECT, "item_id": key, "body_offset": 200_000}
            )
        )
        assert beyond["data"]["body"] == "" and "meta" not in beyond


@pytest.mark.anyio
async def test_a_page_of_long_items_shrinks_and_offset_walks_every_row(server: Any) -> None:
    async with Client(server) as client:
        for batch in range(2):
            items = [{"type": "note", "title": f"n{batch}-{n}", "summary": "ü" * 2000} for n in range(100)]
            done = await client.call_tool("atoms_bulk_import", {"project_id": ACME_PROJECT, "items": items})
            assert payload(done)["data"]["created"] == 100
        seen: list[str] = []
        offset, total = 0, None
        while True:
            page = _within_budget(
                await client.call_tool("atoms_list_items", {"project_id": ACME_PROJECT, "limit": 200, "offset": offset})
            )
            meta = page["meta"]
            total = meta["total_count"]
            seen += [row["id"] for row in page["data"]]
            assert meta["limit"] == len(page["data"]) or not meta["has_more"]
            if not meta["has_more"]:
                break
            assert meta["limit"] < 200
            offset += meta["limit"]
        assert len(seen) == len(set(seen)) == total >= 220


@pytest.mark.anyio
async def test_history_of_huge_bodies_stays_within_the_budget(server: Any) -> None:
    async with Client(server) as client:
        for n in range(3):
            changed = await client.call_tool(
                "atoms_update_item", {"project_id": ACME_PROJECT, "item_id": "REQ-001", "body": str(n) * 100_000}
            )
            assert error_code(changed) is None
        history = _within_budget(
            await client.call_tool(
                "atoms_get_history", {"project_id": ACME_PROJECT, "item_id": "REQ-001", "limit": 100}
            )
        )
        assert history["meta"]["total_count"] >= 6
        assert history["meta"]["truncated"]
        assert all(set(marker) == MARKER_KEYS for marker in history["meta"]["truncated"])


def test_a_refusal_naming_thousands_of_fields_is_trimmed_too() -> None:
    problems = [{"field": f"k{n}", "problem": "unknown parameter; allowed: project_id, limit"} for n in range(3000)]
    message = "Invalid arguments: " + "; ".join(f"{p['field']} {p['problem']}" for p in problems)
    refused = {"status": "error", "error": {"code": "VALIDATION_ERROR", "message": message, "details": problems}}
    fitted = fit_result(refused, {})
    assert serialized_size(fitted) <= RESULT_BUDGET_BYTES
    assert fitted["error"]["code"] == "VALIDATION_ERROR"
    assert "meta" not in fitted
    assert {m["field"] for m in fitted["error"]["truncated"]} <= {"message", "details"}
    assert fitted["error"]["message"].startswith("Invalid arguments: k0 unknown parameter")


@pytest.mark.anyio
async def test_thousands_of_unknown_arguments_get_a_refusal_within_the_budget(server: Any) -> None:
    arguments = {f"unknown_{n}": "x" * 100 for n in range(3000)} | {"project_id": "p" * 10_000}
    async with Client(server) as client:
        result = await client.call_tool("atoms_list_items", arguments)
        assert error_code(result) == "VALIDATION_ERROR"
        _within_budget(result)
