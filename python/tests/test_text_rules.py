"""Text that cannot disguise itself: the refused code points, defined once in SQL (private.refused_code_point) and
mirrored by the shim's input models, compared over every code point; each refused code point in each kind of field,
in the database and in the models; the scripts that need ZWNJ, ZWJ and direction marks; NUL and unpaired surrogates
in bulk items failing only their item; and a fuzz through the MCP server that never ends in INTERNAL."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from atoms_mcp.core import models
from atoms_mcp.core.caller import StaticTokenSource
from atoms_mcp.core.errors import ValidationError
from atoms_mcp.core.text_rules import first_refused_code_point
from atoms_mcp.core.validation import validate_arguments
from atoms_mcp.server.app import create_server
from mcp_support import ListSink, error_code, make_settings, payload, token_for
from principals import ACME_PROJECT, PRINCIPALS, as_principal
from writepath import counts, item, raises_sqlstate, rpc

P = ACME_PROJECT
EDITOR = PRINCIPALS["editor"]

# The specification, written out: what every text field refuses, and what single-line fields refuse besides.
REFUSED_EVERYWHERE = frozenset(
    [*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F)]
    + [*range(0x2066, 0x206A)]
)
REFUSED_IN_SINGLE_LINE = frozenset([0x2028, 0x2029, 0x200B, 0x2060, 0xFEFF])
SURROGATES = range(0xD800, 0xE000)

PERSIAN_WITH_ZWNJ = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u0628\u0631\u0627\u06a9\u0647"  # می‌خواهم
HINDI_WITH_ZWJ = "\u0915\u094d\u200d\u0937 \u0906\u0935\u0936\u094d\u092f\u0915\u0924\u093e"  # क्‍ष
ARABIC_WITH_RLM = "\u200f\u0645\u062a\u0637\u0644\u0628 REQ-001 \u200e(ISO 26262)"
EMOJI_ZWJ_SEQUENCE = "family \U0001f469\u200d\U0001f469\u200d\U0001f467 and \U0001f3f3\ufe0f\u200d\U0001f308"
ALLOWED_SCRIPTS = [PERSIAN_WITH_ZWNJ, HINDI_WITH_ZWJ, ARABIC_WITH_RLM, EMOJI_ZWJ_SEQUENCE]


def _refused_by_database(conn: psycopg.Connection, *, single_line: bool) -> set[int]:
    rows = conn.execute(
        "select cp from pg_catalog.generate_series(1, 1114111) as cp"
        " where cp not between 55296 and 57343 and private.refused_code_point(pg_catalog.chr(cp), %s) is not null",
        (single_line,),
    )
    return {cp for (cp,) in rows}


def _refused_by_shim(*, single_line: bool) -> set[int]:
    return {
        cp
        for cp in range(1, 0x110000)
        if not 0xD800 <= cp <= 0xDFFF and first_refused_code_point(chr(cp), single_line=single_line) is not None
    }


@pytest.mark.parametrize("single_line", [False, True], ids=["multi-line", "single-line"])
def test_the_shim_and_the_database_refuse_exactly_the_specified_code_points(
    module_db: psycopg.Connection, single_line: bool
) -> None:
    expected = REFUSED_EVERYWHERE | (REFUSED_IN_SINGLE_LINE if single_line else frozenset())
    assert _refused_by_database(module_db, single_line=single_line) == expected
    assert _refused_by_shim(single_line=single_line) == expected


def test_the_shim_also_refuses_what_text_cannot_hold() -> None:
    for cp in [0, *SURROGATES]:
        assert first_refused_code_point(f"a{chr(cp)}b", single_line=False) == cp


# ---- each refused code point in each kind of field, in the database ----

Call = Callable[[str], tuple[str, dict[str, Any]]]
MULTI_LINE_FIELDS: dict[str, Call] = {
    "body": lambda v: ("atoms_create_item", {"project_id": P, "type": "note", "title": "t", "body": v}),
    "summary": lambda v: ("atoms_update_item", {"project_id": P, "item_id": "REQ-002", "summary": v}),
    "note": lambda v: (
        "atoms_record_test_result",
        {"project_id": P, "item_id": "TC-001", "result": "passed", "note": v},
    ),
    "query": lambda v: ("atoms_search", {"project_id": P, "query": v}),
}
SINGLE_LINE_FIELDS: dict[str, Call] = {
    "title": lambda v: ("atoms_create_item", {"project_id": P, "type": "note", "title": v}),
    "domains tag": lambda v: ("atoms_update_item", {"project_id": P, "item_id": "REQ-003", "domains": [v]}),
    "domain tag": lambda v: ("atoms_list_items", {"project_id": P, "domain": v}),
}


@pytest.mark.parametrize(
    ("kind", "fields"), [("multi-line", MULTI_LINE_FIELDS), ("single-line", SINGLE_LINE_FIELDS)], ids=str
)
def test_each_refused_code_point_in_each_kind_of_field_is_named_by_the_database(
    module_db: psycopg.Connection, kind: str, fields: dict[str, Call]
) -> None:
    single_line = kind == "single-line"
    before = counts(module_db)
    with as_principal(module_db, EDITOR) as conn:
        for cp in sorted(REFUSED_EVERYWHERE | REFUSED_IN_SINGLE_LINE):
            value = f"a{chr(cp)}b"
            for field, build in fields.items():
                tool, args = build(value)
                if cp in REFUSED_EVERYWHERE or single_line:
                    with raises_sqlstate(conn, "22023") as info:
                        rpc(conn, tool, **args)
                    message = info.value.diag.message_primary or ""
                    assert message.startswith(f"{field} must not contain U+{cp:04X} ("), (tool, field, message)
                else:
                    with conn.transaction(force_rollback=True):
                        rpc(conn, tool, **args)  # a separator or invisible character is fine where lines are
    assert counts(module_db) == before


def test_a_bulk_item_with_a_refused_code_point_fails_alone_naming_its_field(module_db: psycopg.Connection) -> None:
    with as_principal(module_db, EDITOR) as conn:
        out = rpc(
            conn,
            "atoms_bulk_import",
            project_id=P,
            items=[
                {"type": "note", "title": "fine"},
                {"type": "note", "title": "over\u202eride"},
                {"type": "note", "title": "ok", "body": "isolate \u2066x\u2069"},
                {"type": "note", "title": "ok", "domains": ["zero\u200bwidth"]},
                {"type": "note", "title": "ok", "body": "a line\u2028separator is fine in a body"},
            ],
        )
    assert out["created"] == 2
    assert [(e["index"], e["error"].split(" (")[0]) for e in out["errors"]] == [
        (1, "title must not contain U+202E"),
        (2, "body must not contain U+2066"),
        (3, "domains tag must not contain U+200B"),
    ]


# ---- each refused code point in each kind of field, in the shim's input models ----

MODEL_FIELDS: list[tuple[type[models.ToolInput], dict[str, Any], str, bool]] = [
    (models.CreateItemInput, {"project_id": P, "type": "note"}, "title", True),
    (models.CreateItemInput, {"project_id": P, "type": "note", "title": "t"}, "body", False),
    (models.CreateItemInput, {"project_id": P, "type": "note", "title": "t"}, "summary", False),
    (models.UpdateItemInput, {"project_id": P, "item_id": "REQ-001"}, "title", True),
    (models.RecordTestResultInput, {"project_id": P, "item_id": "TC-001", "result": "passed"}, "note", False),
    (models.SearchInput, {"project_id": P}, "query", False),
    (models.ListItemsInput, {"project_id": P}, "domain", True),
]


@pytest.mark.parametrize(
    ("model", "base", "field", "single_line"), MODEL_FIELDS, ids=[f"{m.__name__}.{f}" for m, _, f, _ in MODEL_FIELDS]
)
def test_each_refused_code_point_in_each_kind_of_field_is_named_by_the_input_models(
    model: type[models.ToolInput], base: dict[str, Any], field: str, single_line: bool
) -> None:
    for cp in sorted(REFUSED_EVERYWHERE | REFUSED_IN_SINGLE_LINE | {0, 0xD800, 0xDFFF}):
        arguments = {**base, field: f"a{chr(cp)}b"}
        refused = cp in REFUSED_EVERYWHERE or cp in (0, 0xD800, 0xDFFF) or single_line
        if refused:
            with pytest.raises(ValidationError) as info:
                validate_arguments(model, arguments)
            if 0xD800 <= cp <= 0xDFFF:
                # pydantic itself may refuse an unpaired surrogate first ("not a valid string"): still this field.
                assert info.value.details[0]["field"] == field, info.value.message
            else:
                assert f"{field} must not contain U+{cp:04X} (" in info.value.message, info.value.message
        else:
            validate_arguments(model, arguments)
    tags = {**base, "domains": ["ok", "rtl\u202etag"]} if model is models.CreateItemInput else None
    if tags is not None:
        with pytest.raises(ValidationError) as info:
            validate_arguments(model, {**tags, "title": "t"})
        assert "domains.1 must not contain U+202E" in info.value.message


# ---- the scripts that need ZWNJ, ZWJ and direction marks ----


@pytest.mark.parametrize("text", ALLOWED_SCRIPTS, ids=["persian-zwnj", "hindi-zwj", "arabic-rlm", "emoji-zwj"])
def test_titles_in_scripts_that_need_joiners_and_direction_marks_are_stored_verbatim(
    module_db: psycopg.Connection, text: str
) -> None:
    validate_arguments(models.CreateItemInput, {"project_id": P, "type": "requirement", "title": text})
    with as_principal(module_db, EDITOR) as conn:
        created = rpc(conn, "atoms_create_item", project_id=P, type="requirement", title=text, domains=[text[:20]])
        assert item(conn, created["id"])["title"] == text
        bulk = rpc(conn, "atoms_bulk_import", project_id=P, items=[{"type": "note", "title": text, "body": text}])
        assert bulk["errors"] == []
        assert item(conn, bulk["items"][0]["id"])["body"] == text


# ---- NUL and friends in bulk items ----


def test_nul_and_unpaired_surrogates_in_bulk_items_fail_only_their_item(db: psycopg.Connection) -> None:
    with as_principal(db, EDITOR) as conn:
        out = rpc(
            conn,
            "atoms_bulk_import",
            project_id=P,
            items=[
                {"type": "note", "title": "before"},
                {"type": "note", "title": "nul\x00title"},
                {"type": "note", "title": "nul in the body", "body": "a\x00b"},
                {"type": "note", "title": "ok", "domains": ["x\x00"]},
                {"type": "note", "title": "lone \ud800 high"},
                {"type": "note", "title": "lone low", "summary": "\udc00"},
                {"type": "note", "title": "child of a failed item", "parent_id": "#1"},
                {"type": "note", "title": "after", "parent_id": "#0"},
            ],
        )
        assert out["created"] == 2
        assert [i["title"] for i in out["items"]] == ["before", "after"]
        errors = {e["index"]: e for e in out["errors"]}
        assert sorted(errors) == [1, 2, 3, 4, 5, 6]
        assert errors[1]["error"].startswith("title must not contain U+0000")
        assert errors[2]["error"].startswith("body must not contain U+0000")
        assert errors[2]["title"] == "nul in the body"
        assert errors[3]["error"].startswith("domains must not contain U+0000")
        assert errors[4]["error"].startswith("title must not contain an unpaired surrogate")
        assert errors[5]["error"].startswith("summary must not contain an unpaired surrogate")
        assert errors[5]["title"] == "lone low"
        assert "created earlier" in errors[6]["error"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(st.text(alphabet=st.characters(exclude_categories=[]), max_size=40), min_size=1, max_size=4),
    field=st.sampled_from(["title", "body", "summary", "type", "level", "parent_id"]),
)
def test_any_text_in_a_bulk_item_is_created_or_refused_for_that_item_alone(
    module_db: psycopg.Connection, texts: list[str], field: str
) -> None:
    items: list[dict[str, Any]] = [{"type": "note", "title": "anchor"}]
    items += [{"type": "note", "title": "fuzz", field: text} for text in texts]
    with as_principal(module_db, EDITOR) as conn:
        out = rpc(conn, "atoms_bulk_import", project_id=P, items=items)
    assert out["created"] + len(out["errors"]) == len(items)
    assert out["items"][0]["title"] == "anchor"
    assert all(e["index"] >= 1 for e in out["errors"])


# ---- through the MCP server: never INTERNAL ----


@pytest.mark.anyio
async def test_nul_nested_in_bulk_items_over_mcp_is_a_validation_error_for_that_item(url: str, tmp_path: Path) -> None:
    server = create_server(
        make_settings(url, tmp_path), token_source=StaticTokenSource(token_for("editor")), audit_sink=ListSink()
    )
    async with Client(server) as client:
        result = await client.call_tool(
            "atoms_bulk_import",
            {
                "project_id": P,
                "items": [
                    {"type": "note", "title": "over MCP"},
                    {"type": "note", "title": "ok", "body": "nested \x00 NUL"},
                    {"type": "note", "title": "ok", "domains": ["nested \x00"]},
                ],
            },
        )
        assert error_code(result) is None
        data = payload(result)["data"]
        assert data["created"] == 1
        assert [(e["index"], e["error"].split(" (")[0]) for e in data["errors"]] == [
            (1, "body must not contain U+0000"),
            (2, "domains must not contain U+0000"),
        ]
        title = await client.call_tool("atoms_create_item", {"project_id": P, "type": "note", "title": "nul\x00"})
        assert error_code(title) == "VALIDATION_ERROR"
        assert "title must not contain U+0000" in payload(title)["error"]["message"]
        bidi = await client.call_tool("atoms_create_item", {"project_id": P, "type": "note", "title": "a\u202eb"})
        assert error_code(bidi) == "VALIDATION_ERROR"
        assert "title must not contain U+202E" in payload(bidi)["error"]["message"]


def _hostile_strings(count: int, seed: int) -> list[str]:
    """Strings mixing every refused code point, NUL, surrogates, joiners, marks and random code points."""
    chooser = random.Random(seed)
    pool = [*REFUSED_EVERYWHERE, *REFUSED_IN_SINGLE_LINE, 0, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0x200C, 0x200D]
    pool += [0x200E, 0x200F, 0xFFFD, 0xFFFE, 0xFFFF, 0x10FFFF, 0x1F469, 0x0627, 0x0915]
    strings = []
    for _ in range(count):
        length = chooser.randint(1, 12)
        strings.append(
            "".join(
                chr(chooser.choice(pool) if chooser.random() < 0.5 else chooser.randint(1, 0x10FFFF))
                for _ in range(length)
            )
        )
    return strings


@pytest.mark.anyio
async def test_fuzzed_text_through_the_mcp_server_never_ends_in_internal(url: str, tmp_path: Path) -> None:
    server = create_server(
        make_settings(url, tmp_path), token_source=StaticTokenSource(token_for("editor")), audit_sink=ListSink()
    )
    codes: set[str | None] = set()
    async with Client(server) as client:
        for text in _hostile_strings(60, seed=13):
            calls = [
                ("atoms_create_item", {"project_id": P, "type": "note", "title": text, "body": text}),
                ("atoms_update_item", {"project_id": P, "item_id": "REQ-004", "summary": text, "domains": [text]}),
                ("atoms_search", {"project_id": P, "query": text}),
                ("atoms_list_items", {"project_id": P, "domain": text}),
                ("atoms_record_test_result", {"project_id": P, "item_id": "TC-002", "result": "failed", "note": text}),
                ("atoms_bulk_import", {"project_id": P, "items": [{"type": "note", "title": text, "body": text}]}),
            ]
            for tool, arguments in calls:
                code = error_code(await client.call_tool(tool, arguments))
                assert code in (None, "VALIDATION_ERROR"), (tool, ascii(text), code)
                codes.add(code)
    assert codes == {None, "VALIDATION_ERROR"}
