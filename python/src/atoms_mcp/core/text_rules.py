"""The code points a text argument may not contain, mirrored from the database for early, identical errors.

The database's `private.refused_code_point` is the definition (every RPC applies it through the shared validation
helpers); this module repeats its two lists so the input models refuse the same text before any round trip, with
the same message naming the field's problem and the code point (`U+202E`). A test compares the two over every
code point from U+0001 to U+10FFFF, so they cannot drift apart.

Every text field refuses C0 controls other than tab, line feed and carriage return, DEL, the C1 controls
(U+0080-U+009F) and the bidirectional embedding, override and isolate controls (U+202A-U+202E, U+2066-U+2069).
Single-line fields (titles, tags) also refuse U+2028, U+2029, U+200B, U+2060 and U+FEFF. ZWNJ/ZWJ (U+200C,
U+200D) and the direction marks (U+200E, U+200F) are allowed. Beyond the database's lists, the shim also refuses
what PostgreSQL text cannot hold at all: U+0000 and unpaired surrogates (U+D800-U+DFFF), which JSON can carry.
"""

from __future__ import annotations

import re

__all__ = [
    "MULTI_LINE_PATTERN",
    "SINGLE_LINE_PATTERN",
    "first_refused_code_point",
    "refusal_message",
    "require_permitted_text",
]

_REFUSED_EVERYWHERE = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_REFUSED_IN_SINGLE_LINE = "\u200b\u2028\u2029\u2060\ufeff"
_MULTI_LINE = re.compile(f"[{_REFUSED_EVERYWHERE}]")
_SINGLE_LINE = re.compile(f"[{_REFUSED_EVERYWHERE}{_REFUSED_IN_SINGLE_LINE}]")


def _escaped(ranges: str) -> str:
    """A character-class body with every character written as \\uXXXX (valid in ECMA-262 and Python regexes)."""
    return "".join(f"\\u{ord(c):04x}" if c != "-" else "-" for c in ranges)


# The same rules as JSON Schema `pattern`s (published in the tools' input schemas): no refused code point at all.
MULTI_LINE_PATTERN = f"^[^{_escaped(_REFUSED_EVERYWHERE)}]*$"
SINGLE_LINE_PATTERN = f"^[^{_escaped(_REFUSED_EVERYWHERE + _REFUSED_IN_SINGLE_LINE)}]*$"


def first_refused_code_point(value: str, *, single_line: bool) -> int | None:
    """The first code point of ``value`` a text field refuses, or None."""
    found = (_SINGLE_LINE if single_line else _MULTI_LINE).search(value)
    return ord(found.group()) if found else None


def refusal_message(code: int) -> str:
    """Why a code point is refused, worded as the database words it (`must not contain U+202E (...)`)."""
    if code == 0:
        reason = "NUL: text cannot hold it"
    elif 0xD800 <= code <= 0xDFFF:
        reason = "an unpaired surrogate: not a character"
    elif code < 0xA0:
        reason = "a control character; only tab, line feed and carriage return are allowed"
    elif 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069:
        reason = "a bidirectional control: the text would display differently from what is stored"
    else:
        reason = "a line separator or an invisible character, not allowed in a single-line field"
    return f"must not contain U+{code:04X} ({reason})"


def require_permitted_text(value: str, *, single_line: bool) -> str:
    """``value`` unchanged, or ValueError saying which code point it must not contain.

    Raises:
        ValueError: the text contains a refused code point (the message names it).
    """
    code = first_refused_code_point(value, single_line=single_line)
    if code is not None:
        raise ValueError(refusal_message(code))
    return value
