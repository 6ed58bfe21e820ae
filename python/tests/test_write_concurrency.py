"""Real concurrent connections: keys stay contiguous and unique, writers never deadlock, the history chain stays
gap-free and verifies afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg

from principals import ACME_PROJECT, PRINCIPALS, act_as, as_principal
from writepath import rpc

P = ACME_PROJECT
EDITOR = PRINCIPALS["editor"]
WORKERS = 16


def run_concurrently(db_url: str, jobs: list[Callable[[psycopg.Connection], Any]]) -> list[Any]:
    """Open one connection per job, line them all up on a barrier, then run each job in its own transaction."""
    barrier = threading.Barrier(len(jobs))

    def worker(job: Callable[[psycopg.Connection], Any]) -> Any:
        with psycopg.connect(db_url) as conn:
            barrier.wait(timeout=30)
            with conn.transaction():
                act_as(conn, EDITOR)
                return job(conn)

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(worker, jobs))


def keys_of(db: psycopg.Connection, prefix: str) -> list[int]:
    rows = db.execute(
        "select substring(key from '[0-9]+$')::int from public.items where project_id = %s and key like %s order by 1",
        (P, prefix + "-%"),
    ).fetchall()
    return [r[0] for r in rows]


def verify(db: psycopg.Connection) -> dict[str, Any]:
    with as_principal(db, EDITOR):
        return rpc(db, "atoms_verify_history", project_id=P)


def test_sixteen_concurrent_creators_get_contiguous_unique_keys(db: psycopg.Connection, db_url: str) -> None:
    def create(conn: psycopg.Connection) -> str:
        return rpc(conn, "atoms_create_item", project_id=P, type="requirement", title="concurrent")["id"]

    created = run_concurrently(db_url, [create] * WORKERS)
    assert len(set(created)) == WORKERS
    assert sorted(created, key=lambda k: int(k[4:])) == [f"REQ-{n:03d}" for n in range(9, 9 + WORKERS)]
    assert keys_of(db, "REQ") == list(range(1, 9 + WORKERS))
    assert verify(db) == {"intact": True, "checked_rows": 41 + WORKERS, "first_broken": None}


def test_mixed_concurrent_writers_do_not_deadlock_and_keep_every_sequence(db: psycopg.Connection, db_url: str) -> None:
    def bulk(conn: psycopg.Connection) -> int:
        items = [{"type": t, "title": f"{t} in bulk"} for t in ("note", "test-case", "requirement")]
        return rpc(conn, "atoms_bulk_import", project_id=P, items=items)["created"]

    def create_tc(conn: psycopg.Connection) -> int:
        rpc(conn, "atoms_create_item", project_id=P, type="test-case", title="tc", parent_ids=["REQ-001"])
        return 1

    def link_and_record(conn: psycopg.Connection) -> int:
        rpc(conn, "atoms_record_test_result", project_id=P, item_id="TC-001", result="passed")
        rpc(conn, "atoms_link_items", project_id=P, from_id="TC-007", to_id="REQ-007", type="verifies", action="add")
        return 0

    created = run_concurrently(db_url, [bulk, create_tc, link_and_record, bulk] * 4)
    assert sum(created) == 8 * 3 + 4
    assert keys_of(db, "REQ") == list(range(1, 9 + 8))
    assert keys_of(db, "TC") == list(range(1, 9 + 8 + 4))
    assert keys_of(db, "NOTE") == list(range(1, 5 + 8))
    assert verify(db)["intact"] is True


def wait_until_blocked(db: psycopg.Connection, pid: int) -> None:
    """Poll (bounded) until backend ``pid`` waits on a lock."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        row = db.execute("select wait_event_type from pg_stat_activity where pid = %s", (pid,)).fetchone()
        if row and row[0] == "Lock":
            return
        time.sleep(0.02)
    raise AssertionError(f"backend {pid} never blocked")


def race(db: psycopg.Connection, db_url: str, first_commits: bool) -> tuple[str, str]:
    """A creates (uncommitted); B's create queues behind A's lock; A commits or rolls back; B finishes."""
    with psycopg.connect(db_url) as a, psycopg.connect(db_url) as b:
        act_as(a, EDITOR)  # not autocommit: A's transaction stays open until commit() or rollback()
        first = rpc(a, "atoms_create_item", project_id=P, type="requirement", title="first")["id"]

        def second() -> str:
            with b.transaction():
                act_as(b, EDITOR)
                return rpc(b, "atoms_create_item", project_id=P, type="requirement", title="second")["id"]

        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(second)
            wait_until_blocked(db, b.info.backend_pid)
            if first_commits:
                a.commit()
            else:
                a.rollback()
            return first, future.result(timeout=30)


def test_two_creates_racing_for_the_next_key_queue_and_take_consecutive_keys(
    db: psycopg.Connection, db_url: str
) -> None:
    assert race(db, db_url, first_commits=True) == ("REQ-009", "REQ-010")
    assert keys_of(db, "REQ")[-2:] == [9, 10]


def test_a_rolled_back_create_leaves_no_gap(db: psycopg.Connection, db_url: str) -> None:
    first, second = race(db, db_url, first_commits=False)
    assert (first, second) == ("REQ-009", "REQ-009")
    assert keys_of(db, "REQ")[-1] == 9
    assert verify(db)["intact"] is True
