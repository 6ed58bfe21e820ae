"""Requests refused before the caller is identified: counted in memory, limited per client address, audited as one
row per (client address, minute, reason).

The HTTP transport refuses some requests before any token is verified: no or a bad token (401), a body over
ATOMS_MAX_BODY_BYTES, tool arguments over the key-count or nesting caps. Writing one audit row each would let an
unauthenticated client write to the audit log at will, so they are counted instead; `drain` turns the counts of
minutes that have ended (all of them at shutdown) into audit records with status refused, error_code the reason
and request_count the count. An address with ATOMS_REFUSALS_PER_MINUTE refusals in the current minute is refused
at once (reason RATE_LIMITED, still counted) until the minute ends. Memory is bounded: at most MAX_TRACKED keys per
minute; beyond them the counts are drained early.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["REFUSED_TOOL_NAME", "RefusalCounter"]

REFUSED_TOOL_NAME = "http_request"
MAX_TRACKED = 50_000


class RefusalCounter:
    """Counts of refused requests per (client address, minute, reason); ``clock`` returns seconds (tests)."""

    def __init__(self, *, per_minute: int, server_instance: str, clock: Callable[[], float] = time.time) -> None:
        self._per_minute = per_minute
        self._server_instance = server_instance
        self._clock = clock
        self._counts: dict[tuple[str, int, str], int] = {}
        self._per_address: dict[tuple[str, int], int] = {}
        self._early: list[dict[str, Any]] = []

    def _minute(self) -> int:
        return int(self._clock() // 60)

    def is_limited(self, address: str) -> bool:
        """Whether ``address`` has used up its refusals of this minute (its requests are then refused at once)."""
        return self._per_address.get((address, self._minute()), 0) >= self._per_minute

    def count(self, address: str, reason: str) -> None:
        """Count one refused request of ``address`` for ``reason`` (an upper-case code such as UNAUTHENTICATED)."""
        minute = self._minute()
        key = (address, minute, reason)
        if key not in self._counts and len(self._counts) >= MAX_TRACKED:
            self._early.extend(self._records(lambda _: True))
        self._counts[key] = self._counts.get(key, 0) + 1
        per_address = (address, minute)
        self._per_address[per_address] = self._per_address.get(per_address, 0) + 1

    def drain(self, final: bool) -> list[dict[str, Any]]:
        """Audit records of the minutes that have ended (every minute when ``final``), removed from the counts."""
        current = self._minute()
        records = self._early + self._records(lambda minute: final or minute < current)
        self._early = []
        self._per_address = {key: n for key, n in self._per_address.items() if key[1] >= current}
        return records

    def _records(self, take: Callable[[int], bool]) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        for key in [key for key in self._counts if take(key[1])]:
            address, minute, reason = key
            records.append(
                {
                    "tool_name": REFUSED_TOOL_NAME,
                    "status": "refused",
                    "error_code": reason,
                    "duration_ms": 0,
                    "client_address": address,
                    "request_count": self._counts.pop(key),
                    "called_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute * 60)),
                    "server_instance": self._server_instance,
                }
            )
        return records
