"""Rate limiter and audit writer throughput, with the limiter's exactness checked in the same run.

`run(db_url, smoke=...)` measures, on an existing atoms database (migrations applied):

- hot user: 8 clients hammer one user through `public.atoms_check_rate_limit` (limit 60, window 1 h, so every
  call of the run falls in one window); checks/s, per-check p50/p95, and the allowed count, which must be 60;
- distinct users: 8 clients check 10,000 users (smoke: 400) twice each (first call creates the bucket, second
  takes the hot path); checks/s and the allowed count, which must be 2 per user;
- audit: batches of 200 realistic records through `private.write_mcp_audit_batch` on the gateway role, rows/s,
  interleaved with a plain INSERT ... SELECT of the same rows (the cost of validation, redaction and caps).

Each check is one autocommit round trip as `authenticated` with the user's claims, as the server sends it (its
own short transaction). Users are fresh random ids, so runs never see each other's buckets. The audit rows stay
in the database (the log is append-only by design): run it on a bench database. Measures; never fails on time.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

__all__ = ["run"]

CLIENTS = 8
HOT_LIMIT = 60
HOT_WINDOW_SECONDS = 3600
AUDIT_BATCH_SIZE = 200

_CHECK = 'select allowed from public.atoms_check_rate_limit("limit" => {limit}, window_seconds => {window})'


def run(db_url: str, *, smoke: bool) -> dict[str, Any]:
    """Measure the limiter (hot user, distinct users) and the audit writer; return numbers for BENCHMARKS.md."""
    hot_checks_per_client = 60 if smoke else 600
    distinct_users = 400 if smoke else 10_000
    audit_batches = 5 if smoke else 50

    hot = _hot_user(db_url, hot_checks_per_client)
    distinct = _distinct_users(db_url, distinct_users)
    audit = _audit_batches(db_url, audit_batches)
    return {
        "smoke": smoke,
        # Headline: aggregate capacity across users (one row lock each, so users do not contend).
        "checks_per_s": distinct["checks_per_s"],
        "hot_user_checks_per_s": hot["checks_per_s"],
        "exact": hot["exact"] and distinct["exact"],
        "hot_user": hot,
        "distinct_users": distinct,
        "audit": audit,
        "audit_rows_per_s": audit["rows_per_s"],
    }


def _hot_user(db_url: str, checks_per_client: int) -> dict[str, Any]:
    user = str(uuid.uuid4())
    query = _check_query(user, HOT_LIMIT, HOT_WINDOW_SECONDS)

    def client(conn: psycopg.Connection, index: int, latencies: list[float]) -> int:
        allowed = 0
        for _ in range(checks_per_client):
            started = time.perf_counter()
            allowed += _one_check(conn, query)
            latencies.append(time.perf_counter() - started)
        return allowed

    allowed, seconds, latencies = _in_parallel(db_url, client)
    checks = CLIENTS * checks_per_client
    return {
        "clients": CLIENTS,
        "checks": checks,
        "seconds": round(seconds, 3),
        "checks_per_s": round(checks / seconds, 1),
        "p50_ms": _percentile_ms(latencies, 50),
        "p95_ms": _percentile_ms(latencies, 95),
        "limit": HOT_LIMIT,
        "window_seconds": HOT_WINDOW_SECONDS,
        "allowed": allowed,
        "exact": allowed == min(HOT_LIMIT, checks),
    }


def _distinct_users(db_url: str, users: int) -> dict[str, Any]:
    ids = [str(uuid.uuid4()) for _ in range(users)]
    queries = [_check_query(u, HOT_LIMIT, 60) for u in ids]

    def client(conn: psycopg.Connection, index: int, latencies: list[float]) -> int:
        allowed = 0
        mine = queries[index::CLIENTS]
        for query in mine + mine:  # first pass creates each bucket, second takes the hot path
            started = time.perf_counter()
            allowed += _one_check(conn, query)
            latencies.append(time.perf_counter() - started)
        return allowed

    allowed, seconds, latencies = _in_parallel(db_url, client)
    checks = 2 * users
    return {
        "clients": CLIENTS,
        "users": users,
        "checks": checks,
        "seconds": round(seconds, 3),
        "checks_per_s": round(checks / seconds, 1),
        "p50_ms": _percentile_ms(latencies, 50),
        "p95_ms": _percentile_ms(latencies, 95),
        "allowed": allowed,
        "exact": allowed == checks,
    }


def _audit_batches(db_url: str, batches: int) -> dict[str, Any]:
    """The writer (gateway role) against a plain INSERT ... SELECT of the same rows (owner), interleaved."""
    with psycopg.connect(db_url, autocommit=True) as gateway, psycopg.connect(db_url, autocommit=True) as owner:
        project = owner.execute("select id::text from public.projects order by id limit 1").fetchone()
        project_id = project[0] if project else None
        gateway.execute("set role atoms_mcp_gateway")
        records = Jsonb([_audit_record(i, project_id) for i in range(AUDIT_BATCH_SIZE)])
        writer_seconds = plain_seconds = 0.0
        written = 0
        for _ in range(batches):
            started = time.perf_counter()
            written += gateway.execute("select private.write_mcp_audit_batch(%s)", (records,)).fetchone()[0]
            writer_seconds += time.perf_counter() - started
            started = time.perf_counter()
            owner.execute(_PLAIN_AUDIT_INSERT, (records,))
            plain_seconds += time.perf_counter() - started
    return {
        "batches": batches,
        "batch_size": AUDIT_BATCH_SIZE,
        "rows": written,
        "seconds": round(writer_seconds, 3),
        "rows_per_s": round(written / writer_seconds, 1),
        "plain_insert_rows_per_s": round(written / plain_seconds, 1),
        "writer_vs_plain_insert": round(writer_seconds / plain_seconds, 2),
    }


# The same rows without validation, redaction, caps or cleaning: the floor the writer is compared with.
_PLAIN_AUDIT_INSERT = """
insert into public.mcp_audit_log (
  called_at, tool_name, params, status, error_code, error_message, duration_ms, user_id, org_id, project_id,
  session_id, client_name, actor, request_id, server_instance
)
select
  now(), e ->> 'tool_name', e -> 'params', (e ->> 'status')::public.mcp_call_status, e ->> 'error_code',
  e ->> 'error_message',
  (e ->> 'duration_ms')::integer, (e ->> 'user_id')::uuid, p.org_id, (e ->> 'project_id')::uuid,
  e ->> 'session_id', e ->> 'client_name', e ->> 'actor', e ->> 'request_id', e ->> 'server_instance'
from jsonb_array_elements(%s) as e
left join public.projects as p on p.id = (e ->> 'project_id')::uuid
"""


def _audit_record(i: int, project_id: str | None) -> dict[str, Any]:
    error = i % 10 == 0
    return {
        "tool_name": ("atoms_get_item", "atoms_search", "atoms_create_item", "atoms_list_items")[i % 4],
        "params": {"project_id": project_id, "item_id": f"REQ-{i % 1000:03d}", "query": "brake pressure sensor"},
        "status": "error" if error else "success",
        "error_code": "NOT_FOUND" if error else None,
        "error_message": f"item REQ-{i % 1000:03d} not found" if error else None,
        "duration_ms": 5 + i % 40,
        "user_id": str(uuid.UUID(int=i + 1)),
        "project_id": project_id,
        "session_id": "bench-session",
        "client_name": "bench",
        "actor": "mcp_bench",
        "request_id": f"bench-{i}",
        "server_instance": "bench",
    }


def _check_query(user_id: str, limit: int, window: int) -> sql.Composed:
    """One simple-protocol round trip: the user's claims for this session, then the check (autocommit)."""
    claims = json.dumps({"sub": user_id, "role": "authenticated"})
    return sql.SQL("select set_config('request.jwt.claims', {}, false); " + _CHECK).format(
        sql.Literal(claims), limit=sql.Literal(limit), window=sql.Literal(window)
    )


def _one_check(conn: psycopg.Connection, query: sql.Composed) -> int:
    cursor = conn.execute(query)
    cursor.nextset()
    return 1 if cursor.fetchone()[0] else 0


def _in_parallel(
    db_url: str, client: Callable[[psycopg.Connection, int, list[float]], int]
) -> tuple[int, float, list[float]]:
    """Run ``client`` on CLIENTS connections (as authenticated) started together; total result, seconds, latencies."""
    connections = [psycopg.connect(db_url, autocommit=True) for _ in range(CLIENTS)]
    try:
        for conn in connections:
            conn.execute("set role authenticated")
        barrier = threading.Barrier(CLIENTS + 1)
        results = [0] * CLIENTS
        latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
        errors: list[BaseException] = []

        def work(index: int) -> None:
            try:
                barrier.wait()
                results[index] = client(connections[index], index, latencies[index])
            except BaseException as error:  # re-raised below, in the caller's thread
                errors.append(error)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        barrier.wait()
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        if errors:
            raise errors[0]
        return sum(results), seconds, [x for per_client in latencies for x in per_client]
    finally:
        for conn in connections:
            conn.close()


def _percentile_ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return round((ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)) * 1000, 3)
