"""Where an RPC's time goes: per-function call counts and self time (``track_functions = 'all'``).

The calls run as the given user inside one transaction that is rolled back, so writes leave nothing behind;
``pg_stat_xact_user_functions`` shows that transaction's counters before the rollback. SQL functions that the
planner inlines do not appear (they cost nothing of their own); security definer functions are never inlined.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from atoms_bench.workload import act_as

__all__ = ["FunctionCost", "profile_statement"]


@dataclass(frozen=True, slots=True)
class FunctionCost:
    """One function's share of the profiled calls (times in ms, per profiled call)."""

    name: str
    calls_per_call: float
    self_ms: float
    total_ms: float


def profile_statement(
    conn: psycopg.Connection, user_id: str, statement: sql.Composable, params: object, *, repeat: int = 20
) -> tuple[float, list[FunctionCost]]:
    """Run ``statement`` ``repeat`` times as ``user_id``; return (wall ms per call, per-function costs).

    ``conn`` is a superuser connection (track_functions is superuser-only to set).
    """
    import time

    with conn.transaction(force_rollback=True):
        conn.execute("set local track_functions = 'all'")
        act_as(conn, user_id)
        t0 = time.perf_counter()
        for _ in range(repeat):
            conn.execute(statement, params)
        wall = (time.perf_counter() - t0) * 1000 / repeat
        conn.execute("reset role")
        rows = conn.execute(
            "select schemaname || '.' || funcname, calls, self_time, total_time"
            " from pg_stat_xact_user_functions order by self_time desc"
        ).fetchall()
    return wall, [
        FunctionCost(name, calls / repeat, self_ms / repeat, total / repeat) for name, calls, self_ms, total in rows
    ]
