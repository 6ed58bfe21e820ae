"""Split a SQL script into statements the way the Supabase CLI does before sending them as one batch.

Understands line and block comments, single-quoted strings (with '' escapes), E'' strings, quoted
identifiers and dollar-quoted bodies, so semicolons inside any of those never split a statement.
"""

from __future__ import annotations

import re

__all__ = ["split_statements"]

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def split_statements(script: str) -> list[str]:
    """Return the statements of ``script`` (trimmed, without the terminating semicolon, empty ones dropped)."""
    statements: list[str] = []
    start = 0
    i = 0
    n = len(script)
    while i < n:
        ch = script[i]
        nxt = script[i + 1] if i + 1 < n else ""
        if ch == "-" and nxt == "-":
            end = script.find("\n", i)
            i = n if end == -1 else end + 1
        elif ch == "/" and nxt == "*":
            i = _skip_block_comment(script, i)
        elif ch == "'":
            escapes = i > 0 and script[i - 1] in "eE" and (i < 2 or not script[i - 2].isalnum())
            i = _skip_quoted(script, i, "'", backslash_escapes=escapes)
        elif ch == '"':
            i = _skip_quoted(script, i, '"', backslash_escapes=False)
        elif ch == "$" and (match := _DOLLAR_TAG.match(script, i)) and not _is_identifier_char(script, i - 1):
            tag = match.group(0)
            end = script.find(tag, match.end())
            i = n if end == -1 else end + len(tag)
        elif ch == ";":
            _append(statements, script[start:i])
            i += 1
            start = i
        else:
            i += 1
    _append(statements, script[start:])
    return statements


def _append(statements: list[str], text: str) -> None:
    stripped = text.strip()
    if stripped and not _only_comments(stripped):
        statements.append(stripped)


def _only_comments(text: str) -> bool:
    without = re.sub(r"--[^\n]*", "", text)
    without = re.sub(r"/\*.*?\*/", "", without, flags=re.S)
    return not without.strip()


def _is_identifier_char(script: str, index: int) -> bool:
    return index >= 0 and (script[index].isalnum() or script[index] == "_")


def _skip_block_comment(script: str, i: int) -> int:
    depth = 0
    n = len(script)
    while i < n:
        if script.startswith("/*", i):
            depth += 1
            i += 2
        elif script.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def _skip_quoted(script: str, i: int, quote: str, *, backslash_escapes: bool) -> int:
    i += 1
    n = len(script)
    while i < n:
        ch = script[i]
        if backslash_escapes and ch == "\\":
            i += 2
        elif ch == quote:
            if i + 1 < n and script[i + 1] == quote:
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return n
