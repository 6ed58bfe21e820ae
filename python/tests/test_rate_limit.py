"""The rate limiter: exact under real concurrency, an honest retry-after, one bucket per user, bounded state.

Timing-sensitive behaviour is tested through private.check_rate_limit with an explicit clock (superuser only);
callers reach the limiter only through public.atoms_check_rate_limit, which always reads the wall clock.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from principals import PRINCIPALS, Principal, act_as, as_principal

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ADMIN = PRINCIPALS["admin"]
EDITOR = PRINCIPALS["editor"]


def as_user(conn: psycopg.Connection, user_id: str) -> None:
    """Make auth.uid() return ``user_id`` for the rest of the session (the private function is called as superuser)."""
    conn.execute("select set_config('request.jwt.claims', %s, false)", (json.dumps({"sub": user_id}),))


def check(conn: psycopg.Connection, limit: int, window: int, at: datetime) -> tuple[bool, int, int, int]:
    """One request at the controlled time ``at`` (private implementation, superuser)."""
    return conn.execute(
        'select allowed, "limit", remaining, retry_after_seconds from private.check_rate_limit(%s, %s, %s)',
        (limit, window, at),
    ).fetchone()


def public_check(conn: psycopg.Connection, principal: Principal, limit: int, window: int) -> tuple:
    """One request through the public wrapper, in its own committed transaction, as ``principal``."""
    with conn.transaction():
        act_as(conn, principal)
        return conn.execute(
            'select allowed, "limit", remaining, retry_after_seconds '
            'from public.atoms_check_rate_limit("limit" => %s, window_seconds => %s)',
            (limit, window),
        ).fetchone()


def stored_hits(conn: psycopg.Connection, user_id: str) -> list[int]:
    return [
        row[0]
        for row in conn.execute(
            "select cardinality(hits) from private.rate_limit_buckets where user_id = %s order by max_requests",
            (user_id,),
        )
    ]


def test_32_connections_hammering_one_user_get_exactly_the_limit(db: psycopg.Connection, db_url: str) -> None:
    workers, calls_each, limit = 32, 4, 60
    barrier = threading.Barrier(workers)
    results: list[tuple] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def hammer() -> None:
        try:
            with psycopg.connect(db_url, autocommit=True) as conn:
                barrier.wait(timeout=30)
                for _ in range(calls_each):
                    # A one-hour window: every call of this test is inside it, whatever the machine's speed.
                    row = public_check(conn, EDITOR, limit, 3600)
                    with lock:
                        results.append(row)
        except BaseException as error:  # collected and re-raised in the main thread
            with lock:
                errors.append(error)

    threads = [threading.Thread(target=hammer) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert len(results) == workers * calls_each
    allowed = [r for r in results if r[0]]
    refused = [r for r in results if not r[0]]
    assert len(allowed) == limit
    # Every slot was handed out exactly once: remaining counts down 59..0 without repeats.
    assert sorted(r[2] for r in allowed) == list(range(limit))
    assert all(r[2] == 0 and 1 <= r[3] <= 3600 for r in refused)
    assert stored_hits(db, EDITOR.user_id) == [limit]


def test_retry_after_is_the_ceiling_of_the_time_until_the_oldest_hit_leaves_the_window(db: psycopg.Connection) -> None:
    as_user(db, EDITOR.user_id)
    assert check(db, 3, 10, T0) == (True, 3, 2, 0)
    assert check(db, 3, 10, T0 + timedelta(seconds=1)) == (True, 3, 1, 0)
    assert check(db, 3, 10, T0 + timedelta(seconds=2.5)) == (True, 3, 0, 0)
    # Full: the slot of the hit at T0 frees at T0 + 10 s.
    assert check(db, 3, 10, T0 + timedelta(seconds=3)) == (False, 3, 0, 7)
    assert check(db, 3, 10, T0 + timedelta(seconds=3.5)) == (False, 3, 0, 7)
    assert check(db, 3, 10, T0 + timedelta(seconds=9)) == (False, 3, 0, 1)
    assert check(db, 3, 10, T0 + timedelta(seconds=9, microseconds=999_999)) == (False, 3, 0, 1)
    # Exactly when it leaves the window the request is allowed, and the next slot frees at T0 + 11 s.
    assert check(db, 3, 10, T0 + timedelta(seconds=10)) == (True, 3, 0, 0)
    assert check(db, 3, 10, T0 + timedelta(seconds=10)) == (False, 3, 0, 1)
    assert check(db, 3, 10, T0 + timedelta(seconds=10.2)) == (False, 3, 0, 1)
    assert check(db, 3, 10, T0 + timedelta(seconds=11)) == (True, 3, 0, 0)
    # Refused requests are not recorded: they never push the next free slot further away.
    assert check(db, 3, 10, T0 + timedelta(seconds=11.5)) == (False, 3, 0, 1)
    assert check(db, 3, 10, T0 + timedelta(seconds=12.5)) == (True, 3, 0, 0)


def test_a_sliding_window_has_no_fixed_window_boundary_burst(db: psycopg.Connection) -> None:
    as_user(db, EDITOR.user_id)
    # 5 requests at the end of one minute ...
    for i in range(5):
        assert check(db, 5, 60, T0 + timedelta(seconds=55 + i))[0]
    # ... leave no fresh budget at the start of the next one (a fixed window would allow 5 more here).
    assert check(db, 5, 60, T0 + timedelta(seconds=61)) == (False, 5, 0, 54)
    assert check(db, 5, 60, T0 + timedelta(seconds=115)) == (True, 5, 0, 0)


def test_users_never_share_a_bucket(db: psycopg.Connection) -> None:
    as_user(db, EDITOR.user_id)
    for _ in range(2):
        assert check(db, 2, 60, T0)[0]
    assert check(db, 2, 60, T0)[0] is False
    as_user(db, ADMIN.user_id)
    assert check(db, 2, 60, T0) == (True, 2, 1, 0)
    assert check(db, 2, 60, T0) == (True, 2, 0, 0)
    assert stored_hits(db, EDITOR.user_id) == [2]
    assert stored_hits(db, ADMIN.user_id) == [2]


def test_concurrent_users_are_counted_independently(db: psycopg.Connection, db_url: str) -> None:
    users = [PRINCIPALS[name] for name in ("viewer", "editor", "admin", "other_org_admin")]
    counts = dict.fromkeys((u.user_id for u in users), 0)
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def hammer(user: Principal) -> None:
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait(timeout=30)
            for _ in range(8):
                if public_check(conn, user, 5, 3600)[0]:
                    with lock:
                        counts[user.user_id] += 1

    threads = [threading.Thread(target=hammer, args=(u,)) for u in users for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert counts == dict.fromkeys(counts, 5)


def test_state_stays_bounded_over_many_calls_and_windows(db: psycopg.Connection) -> None:
    as_user(db, EDITOR.user_id)
    limit, window = 4, 10
    allowed = 0
    for step in range(600):  # one request every 0.7 s for 420 s: 42 windows
        allowed += check(db, limit, window, T0 + timedelta(seconds=0.7 * step))[0]
        assert stored_hits(db, EDITOR.user_id)[0] <= limit
    # At most `limit` per window: 420 s / 10 s * 4 plus the first window's burst.
    assert 160 <= allowed <= 172
    # Only hits still inside the window stay stored.
    last = T0 + timedelta(seconds=0.7 * 599)
    newest = db.execute(
        "select min(h), max(h) from private.rate_limit_buckets, unnest(hits) as h where user_id = %s",
        (EDITOR.user_id,),
    ).fetchone()
    assert newest[0] > last - timedelta(seconds=window)
    assert newest[1] <= last


def test_idle_buckets_are_pruned_when_a_user_opens_another_and_by_the_job(db: psycopg.Connection) -> None:
    as_user(db, EDITOR.user_id)
    check(db, 10, 60, T0)
    check(db, 20, 60, T0)
    assert stored_hits(db, EDITOR.user_id) == [1, 1]
    # Two minutes later both are idle: opening a new policy removes them in the same call.
    check(db, 30, 60, T0 + timedelta(minutes=2))
    assert db.execute(
        "select array_agg(max_requests order by max_requests) from private.rate_limit_buckets where user_id = %s",
        (EDITOR.user_id,),
    ).fetchone()[0] == [30]
    # The job removes buckets of users who stopped calling (their newest hit left the window).
    as_user(db, ADMIN.user_id)
    check(db, 60, 60, datetime.now(UTC))
    assert db.execute("select private.prune_rate_limit_buckets()").fetchone()[0] == 1
    assert db.execute("select user_id::text from private.rate_limit_buckets").fetchall() == [(ADMIN.user_id,)]


def test_a_user_holds_at_most_eight_live_policies(db: psycopg.Connection) -> None:
    as_user(db, EDITOR.user_id)
    for limit in range(1, 9):
        assert check(db, limit, 60, T0)[0]
    with pytest.raises(psycopg.Error) as refused:
        check(db, 9, 60, T0)
    assert refused.value.sqlstate == "PT429"
    # Existing policies keep working, and a new one opens once an old one went idle.
    assert check(db, 8, 60, T0)[0]
    assert check(db, 9, 60, T0 + timedelta(seconds=61))[0]


def test_other_parameters_never_reset_the_bucket_the_server_enforces(db: psycopg.Connection) -> None:
    for _ in range(3):
        assert public_check(db, EDITOR, 3, 60)[0]
    assert public_check(db, EDITOR, 3, 60)[0] is False
    # Through PostgREST a user may call the limiter with any limit or window: each opens its own bucket ...
    assert public_check(db, EDITOR, 1, 1)[0]
    assert public_check(db, EDITOR, 10000, 86400)[0]
    # ... and the 3-per-minute bucket is still full.
    allowed, _, remaining, retry_after = public_check(db, EDITOR, 3, 60)
    assert (allowed, remaining) == (False, 0)
    assert 1 <= retry_after <= 60


def test_the_public_wrapper_has_defaults_and_takes_no_user_and_no_clock(db: psycopg.Connection) -> None:
    assert public_check(db, EDITOR, 60, 60) == (True, 60, 59, 0)
    with db.transaction():
        act_as(db, EDITOR)
        assert db.execute("select * from public.atoms_check_rate_limit()").fetchone() == (True, 60, 58, 0)
    signature = "select pg_get_function_identity_arguments('public.atoms_check_rate_limit'::regproc)"
    assert db.execute(signature).fetchone()[0] == (
        'OUT allowed boolean, INOUT "limit" integer, window_seconds integer, '
        "OUT remaining integer, OUT retry_after_seconds integer"
    )


@pytest.mark.parametrize(("limit", "window"), [(0, 60), (10001, 60), (None, 60), (60, 0), (60, 86401), (60, None)])
def test_limit_and_window_are_validated(module_db: psycopg.Connection, limit: int | None, window: int | None) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    with as_principal(db, EDITOR), pytest.raises(psycopg.Error) as error:
        db.execute('select * from public.atoms_check_rate_limit("limit" => %s, window_seconds => %s)', (limit, window))
    assert error.value.sqlstate == "22023"


def test_callers_without_a_user_are_refused(module_db: psycopg.Connection) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    # Signed in as authenticated but without a subject: 28000.
    with db.transaction(force_rollback=True), pytest.raises(psycopg.Error) as error:
        db.execute("select set_config('role', 'authenticated', true), set_config('request.jwt.claims', '{}', true)")
        db.execute("select * from public.atoms_check_rate_limit()")
    assert error.value.sqlstate == "28000"
    for name in ("anon", "service_role", "gateway"):
        with as_principal(db, PRINCIPALS[name]), pytest.raises(psycopg.Error) as error:
            db.execute("select * from public.atoms_check_rate_limit()")
        assert error.value.sqlstate == "42501", name


def test_callers_cannot_reach_the_controllable_clock_or_the_state(module_db: psycopg.Connection) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    for name in ("editor", "admin", "service_role", "gateway", "anon"):
        with as_principal(db, PRINCIPALS[name]), pytest.raises(psycopg.Error) as error:
            db.execute("select * from private.check_rate_limit(60, 60, now() - interval '1 day')")
        assert error.value.sqlstate == "42501", name
        with as_principal(db, PRINCIPALS[name]), pytest.raises(psycopg.Error) as error:
            db.execute("delete from private.rate_limit_buckets")
        assert error.value.sqlstate == "42501", name


def test_a_check_committed_before_a_failing_tool_call_still_counts(db: psycopg.Connection) -> None:
    assert public_check(db, EDITOR, 1, 60)[0]
    # The tool call runs in its own transaction afterwards and fails; the committed check stays counted.
    with pytest.raises(psycopg.Error), db.transaction():
        act_as(db, EDITOR)
        db.execute("select 1 / 0")
    assert public_check(db, EDITOR, 1, 60)[0] is False


@pytest.mark.slow
def test_the_benchmark_module_runs_in_smoke_mode_and_is_exact(db_url: str) -> None:
    from atoms_bench import rate_limit_audit

    result = rate_limit_audit.run(db_url, smoke=True)
    assert result["exact"] is True
    assert result["hot_user"]["allowed"] == 60
    assert result["distinct_users"]["allowed"] == result["distinct_users"]["checks"]
    assert result["audit"]["rows"] == 5 * 200
    assert {"checks_per_s", "hot_user_checks_per_s", "audit_rows_per_s"} <= result.keys()
