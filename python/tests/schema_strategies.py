"""hypothesis strategies for tool arguments, derived from a tool's published JSON input schema, and hostile
mutations of them (wrong types, non-finite numbers, huge and deeply nested values, Unicode edge cases, unknown
and missing fields). Used by the fuzzer (test_fuzz_tools.py)."""

from __future__ import annotations

import re
import string
from datetime import UTC
from typing import Any

from hypothesis import strategies as st

from mcp_support import ACME_PROJECT, GLOBEX_PROJECT

KNOWN_PROJECTS = [ACME_PROJECT, GLOBEX_PROJECT, "a0000000-0000-4000-8000-0000000009ff"]
KNOWN_KEYS = [f"{prefix}-{n:03}" for prefix, top in (("REQ", 8), ("TC", 8), ("NOTE", 4)) for n in range(1, top + 1)]
KNOWN_KEYS += ["REQ-999", "TC-00001"]

# Text that has broken parsers, encoders and databases before.
UNICODE_EDGES = [
    "",
    " ",
    "\x00",
    "\ud800",
    "\udfff",
    "a\u202eb",
    "\u2066x\u2069",
    "\u2028",
    "\ufeff",
    "\u200b",
    "e\u0301\u0301\u0301",
    "😀" * 3,
    "\U0010ffff",
    "\t\r\n",
    "'; drop table items; --",
    "%s %(x)s {0} $1",
    "\\u0000",
    "REQ-001' or '1'='1",
    "ＲＥＱ-００１",
    "ß" * 5,
]


def _single_character_class(pattern: str) -> re.Pattern[str] | None:
    """For a text-rule pattern `^[^...]*$`: the character class one permitted character must match."""
    if pattern.startswith("^[^") and pattern.endswith("]*$"):
        return re.compile(pattern[1:-2])
    return None


def _string(schema: dict[str, Any], name: str) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", 10_000))
    pattern = schema.get("pattern")
    if name.endswith("project_id") or name == "user_id":
        return st.one_of(st.sampled_from(KNOWN_PROJECTS), st.uuids().map(str))
    if pattern is not None and "[A-Z]+-" in pattern:
        return st.one_of(st.sampled_from(KNOWN_KEYS), st.from_regex(r"\A[A-Z]{1,6}-[0-9]{3,6}\Z"))
    if schema.get("format") == "date-time":
        return st.datetimes(timezones=st.just(UTC)).map(lambda moment: moment.isoformat())
    single = _single_character_class(pattern) if pattern else None
    if pattern is not None and single is None:
        return st.from_regex(pattern, fullmatch=True).filter(lambda text: low <= len(text) <= high)
    alphabet = st.characters(codec="utf-8")
    if single is not None:
        alphabet = alphabet.filter(lambda char: single.fullmatch(char) is not None)
    plain = st.text(alphabet=alphabet, min_size=low, max_size=min(high, max(low, 80)))
    words = st.text(alphabet=string.ascii_letters + " -", min_size=max(low, 1), max_size=min(high, 40))
    longest = st.just("x" * high) if high <= 100_000 else st.nothing()
    return st.one_of(words, plain, longest)


def from_schema(schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
    """Values valid against ``schema`` (the subset of JSON Schema the tools publish)."""
    if "enum" in schema and schema.get("type") != "string":
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        return _string(schema, name)
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        integers = st.integers(min_value=low, max_value=high)
        edges = [v for v in (low, high) if v is not None]
        base = st.one_of(integers, st.sampled_from(edges)) if edges else integers
        return st.one_of(base, base.map(float))  # an integral float is an integer too
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        item = from_schema(schema.get("items", {}), name)
        return st.lists(item, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 5), 5))
    if kind == "object":
        properties: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", []))
        fields = {key: from_schema(value, key) for key, value in properties.items()}
        return st.fixed_dictionaries(
            {key: fields[key] for key in properties if key in required},
            optional={key: fields[key] for key in properties if key not in required},
        )
    return st.none()


def _deep(depth: int) -> Any:
    value: Any = "bottom"
    for level in range(depth):
        value = [value] if level % 2 else {"nested": value}
    return value


HOSTILE_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from(
        [
            None,
            True,
            False,
            0,
            -1,
            2**31,
            2**63,
            -(2**70),
            1.5,
            -0.0,
            float("nan"),
            float("inf"),
            float("-inf"),
            1e308,
            "",
            "5",
            [],
            {},
            [None],
            {"$ref": "#/x"},
            "x" * 100_001,
            "é" * 250_000,
            ["REQ-001"] * 1000,
            _deep(64),
            _deep(250),
        ]
    ),
    st.sampled_from(UNICODE_EDGES),
    st.text(max_size=20),
    st.integers(),
    st.floats(),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=20,
    ),
)


@st.composite
def hostile_arguments(draw: st.DrawFn, schema: dict[str, Any]) -> dict[str, Any]:
    """Valid arguments with one to three hostile mutations: a field's value replaced, a field dropped, an
    unknown field added (or thousands), or a text field spiked with a Unicode edge case."""
    arguments: dict[str, Any] = dict(draw(from_schema(schema)))
    properties: dict[str, Any] = schema.get("properties", {})
    names = sorted(properties) or ["anything"]
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        how = draw(st.sampled_from(["replace", "drop", "unknown", "spike", "replace", "flood"]))
        name = draw(st.sampled_from(names))
        if how == "replace":
            arguments[name] = draw(HOSTILE_VALUES)
        elif how == "drop":
            arguments.pop(name, None)
        elif how == "flood":  # thousands of unknown fields: a refusal naming each must still fit the budget
            arguments |= {f"unknown_{n}": "x" * 40 for n in range(draw(st.sampled_from([50, 3000])))}
        elif how == "unknown":
            arguments[draw(st.sampled_from(["colour", "__proto__", "project_id ", "LIMIT", "$where"]))] = draw(
                HOSTILE_VALUES
            )
        else:
            current = arguments.get(name)
            edge = draw(st.sampled_from(UNICODE_EDGES))
            arguments[name] = (current + edge) if isinstance(current, str) else edge
    return arguments


def tool_arguments(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Arguments for one call: valid ones (half) and hostile mutations of valid ones (half)."""
    return st.one_of(from_schema(schema), hostile_arguments(schema))
