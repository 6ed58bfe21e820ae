"""The result budget: no call returns more than `RESULT_BUDGET_BYTES` of serialised result.

MCP hosts refuse or cut long tool results, so the server bounds them itself, in this order:
1. `atoms_get_item` returns the window `body_offset`/`body_limit` (characters) of the body;
2. a paginated list (`meta.total_count`) shrinks its page: `meta.limit` becomes the rows returned and `has_more`
   stays true, so `offset += limit` still walks every row;
3. the longest text fields (and, as a last resort, nested lists) are trimmed.
Every trimmed field is reported by one marker shape in `meta.truncated`:
`{"truncated": true, "field": F, "full_length": N, "next_offset": M}` where F is the field's path in `data`
(dots and list indices, e.g. `body`, `3.new_values.body`), N its full length (characters of a text, rows of a
list) and M where the returned part ends (for the body: the next `body_offset`). A failed call's envelope is
trimmed the same way (a refusal naming thousands of bad fields), its markers in `error.truncated` (paths
relative to `error`).
"""

from __future__ import annotations

import json
from typing import Any, cast

__all__ = ["RESULT_BUDGET_BYTES", "RESULT_ARGUMENTS", "fit_result", "serialized_size"]

RESULT_BUDGET_BYTES = 90_000
"""The most UTF-8 bytes of a result's JSON text (the text block; structuredContent carries the same JSON)."""

RESULT_ARGUMENTS = frozenset({"body_offset", "body_limit"})
"""Arguments the server applies to the result itself; they are never passed to the RPC."""

_SLACK = 256  # bytes kept free for the markers a trim adds


def serialized_size(payload: Any) -> int:
    """The size in bytes of ``payload`` as the server sends it (compact JSON, UTF-8, non-ASCII as is)."""
    return len(json.dumps(payload, ensure_ascii=False, default=str).encode())


def fit_result(payload: dict[str, Any], arguments: dict[str, Any], budget: int = RESULT_BUDGET_BYTES) -> dict[str, Any]:
    """The envelope ``payload`` windowed (body) and trimmed to ``budget`` bytes, markers in meta."""
    windowed = "body_offset" in arguments or "body_limit" in arguments
    if not windowed and serialized_size(payload) <= budget:
        return payload  # the common case: nothing to copy or change
    trimmer = _Trimmer(payload)
    if windowed:
        trimmer.window_body(int(arguments.get("body_offset", 0)), int(arguments.get("body_limit", 20_000)))
    if trimmer.size() > budget:
        trimmer.shrink_page(budget)
    while trimmer.size() > budget:
        if not trimmer.trim_largest(trimmer.size() - budget + _SLACK):
            break
    return trimmer.result()


class _Trimmer:
    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = json.loads(json.dumps(payload, default=str))
        # path -> (offset of the returned part's first character or row, full length)
        self.origins: dict[str, tuple[int, int]] = {}
        self.markers: dict[str, dict[str, Any]] = {}

    def size(self) -> int:
        return serialized_size(self.result())

    def result(self) -> dict[str, Any]:
        if not self.markers:
            return self.payload
        home = self.payload.setdefault("meta", {}) if "data" in self.payload else self.payload.get("error")
        cast(dict[str, Any], home)["truncated"] = list(self.markers.values())
        return self.payload

    def window_body(self, offset: int, limit: int) -> None:
        data = self.payload.get("data")
        if not isinstance(data, dict) or not isinstance(cast(dict[str, Any], data).get("body"), str):
            return
        document = cast(dict[str, Any], data)
        body = cast(str, document["body"])
        document["body_length"] = len(body)
        start = min(offset, len(body))
        piece = body[start : start + limit]
        document["body"] = piece
        self.origins["body"] = (start, len(body))
        if start + len(piece) < len(body):
            self._mark("body", start + len(piece))

    def shrink_page(self, budget: int) -> None:
        data = self.payload.get("data")
        meta = self.payload.get("meta")
        if not isinstance(data, list) or not isinstance(meta, dict) or "total_count" not in meta:
            return
        rows = cast(list[Any], data)
        page = cast(dict[str, Any], meta)
        low, high = 1, len(rows)
        while low < high:  # the most rows (at least one) that fit
            middle = (low + high + 1) // 2
            self.payload["data"] = rows[:middle]
            if self.size() <= budget:
                low = middle
            else:
                high = middle - 1
        kept = min(low, len(rows))
        self.payload["data"] = rows[:kept]
        if kept < len(rows):
            page["limit"] = kept
            page["has_more"] = int(page.get("offset", 0)) + kept < int(page["total_count"])

    def trim_largest(self, excess: int) -> bool:
        """Cut the largest text or nested list in data by at least ``excess`` bytes; False if nothing is left."""
        if "data" in self.payload:
            candidates = list(_trimmable(self.payload["data"], ""))
        else:
            candidates = list(_trimmable(self.payload.get("error"), ""))
        if not candidates:
            return False
        path, container, key, value = max(candidates, key=lambda c: serialized_size(c[3]))
        current = serialized_size(value)
        target = max(0, current - excess)
        if isinstance(value, str):
            kept = _longest_prefix(value, target)
        else:
            kept = _longest_rows(cast(list[Any], value), target)
        if kept >= len(value):
            return False
        start, full = self.origins.get(path, (0, len(value)))
        self.origins[path] = (start, full)
        container[key] = value[:kept]
        if isinstance(value, list):  # markers inside the rows just removed go with them
            for marked in [m for m in self.markers if _inside_removed_row(m, path, kept)]:
                del self.markers[marked]
        self._mark(path, start + kept)
        return True

    def _mark(self, path: str, next_offset: int) -> None:
        start, full = self.origins.get(path, (0, next_offset))
        del start
        self.markers[path] = {"truncated": True, "field": path, "full_length": full, "next_offset": next_offset}


def _trimmable(node: Any, path: str) -> Any:
    """(path, container, key, value) of every string longer than 64 characters and every non-empty nested list."""
    if isinstance(node, dict):
        mapping = cast(dict[str, Any], node)
        items: list[tuple[Any, Any]] = list(mapping.items())
    elif isinstance(node, list):
        items = list(enumerate(cast(list[Any], node)))
    else:
        return
    for key, value in items:
        child = f"{path}.{key}" if path else str(key)
        if isinstance(value, str) and len(value) > 64:
            yield child, node, key, value
        elif isinstance(value, dict | list):
            if isinstance(value, list) and len(cast(list[Any], value)) > 1:
                yield child, node, key, value
            yield from _trimmable(value, child)


def _inside_removed_row(marked: str, path: str, kept: int) -> bool:
    """Whether the field ``marked`` lies in a row at index ``kept`` or later of the list at ``path``."""
    if not marked.startswith(f"{path}."):
        return False
    index = marked.removeprefix(f"{path}.").split(".", 1)[0]
    return index.isdigit() and int(index) >= kept


def _longest_prefix(text: str, target: int) -> int:
    """The most leading characters of ``text`` whose JSON fits ``target`` bytes."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if serialized_size(text[:middle]) <= target:
            low = middle
        else:
            high = middle - 1
    return low


def _longest_rows(rows: list[Any], target: int) -> int:
    """The most leading rows of ``rows`` (at least one) whose JSON fits ``target`` bytes."""
    low, high = 1, len(rows)
    while low < high:
        middle = (low + high + 1) // 2
        if serialized_size(rows[:middle]) <= target:
            low = middle
        else:
            high = middle - 1
    return low
