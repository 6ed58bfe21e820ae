"""Every read RPC is index-backed on a mid-size generated dataset (100k items): the plans it really runs,
captured with auto_explain as the viewer it serves, contain no sequential scan of a big table."""

from __future__ import annotations

import psycopg
import pytest

from atoms_bench.datagen import DatasetSpec, generate
from atoms_bench.plans import capture_plans, render_plan, seq_scans
from atoms_bench.verification import REQUIREMENTS, VERIFICATION_PROJECT, ensure_verification_project, verification_calls
from atoms_bench.workload import READ_CALLS, available, pick_probe

pytestmark = pytest.mark.slow

SPEC = DatasetSpec(items=100_000, orgs=100, projects_per_org=10, seed=7)


@pytest.fixture
def dataset(db: psycopg.Connection, db_url: str) -> psycopg.Connection:
    """The seeded clone plus 100k generated items (analyzed), loaded with the benchmark generator."""
    generate(db_url, SPEC, log=lambda _message: None)
    return db


def test_every_read_rpc_the_benchmark_calls_exists(db: psycopg.Connection) -> None:
    missing = sorted({c.function for c in READ_CALLS if not available(db, c.function)})
    assert missing == [], f"read RPCs the benchmark calls are missing: {missing}"


def test_read_rpcs_never_scan_a_big_table_sequentially(dataset: psycopg.Connection) -> None:
    probe = pick_probe(dataset)
    calls = [c for c in READ_CALLS if available(dataset, c.function)]
    results = capture_plans(dataset, calls, probe)

    errors = {r.call: r.error for r in results if r.error}
    assert errors == {}, f"read RPCs failed as a viewer on generated data: {errors}"
    silent = [r.call for r in results if not r.plans]
    assert silent == [], f"auto_explain captured no nested statement for {silent}"
    offenders = {r.call: seq_scans(r) for r in results if seq_scans(r)}
    if offenders:
        detail = "\n\n".join(
            f"{r.call}:\n" + "\n".join(render_plan(p) for p in r.plans) for r in results if r.call in offenders
        )
        pytest.fail(f"sequential scans of big tables: {offenders}\n\n{detail}")


def test_generated_history_chains_verify(db: psycopg.Connection, db_url: str) -> None:
    generate(db_url, DatasetSpec(items=10_000, orgs=10, projects_per_org=10, seed=11), log=lambda _message: None)
    dataset = db
    probe = pick_probe(dataset)
    with dataset.transaction(force_rollback=True):
        dataset.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
            (f'{{"sub": "{probe.viewer_id}", "role": "authenticated"}}',),
        )
        verdict = dataset.execute(
            "select public.atoms_verify_history(project_id => %s)", (probe.project_id,)
        ).fetchone()[0]
    assert verdict["intact"] is True, verdict
    assert verdict["checked_rows"] > probe.project_items
    broken = dataset.execute(
        "select count(*) from public.projects as p where p.name like 'Project %% of Bench org %%'"
        " and not private.history_chain_intact('project', p.id)"
    ).fetchone()[0]
    assert broken == 0


def test_verification_reads_on_a_1000_requirement_project_are_index_backed(db: psycopg.Connection, db_url: str) -> None:
    generate(db_url, DatasetSpec(items=10_000, orgs=10, projects_per_org=10, seed=13), log=lambda _message: None)
    probe = pick_probe(db)
    ensure_verification_project(db_url, probe)
    ensure_verification_project(db_url, probe)  # reused, not generated twice
    calls = list(verification_calls())
    results = capture_plans(db, calls, probe)
    assert {r.call: r.error for r in results if r.error} == {}
    # link_suspicions holds a few dozen rows here (a seq scan is the right plan); test_read_plans covers it large.
    offenders = {r.call: seq_scans(r) for r in results}
    assert {call: scans for call, scans in offenders.items() if scans} == {}

    with db.transaction(force_rollback=True):
        db.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
            (f'{{"sub": "{probe.viewer_id}", "role": "authenticated"}}',),
        )
        coverage = db.execute("select public.atoms_get_coverage(project_id => %s)", (VERIFICATION_PROJECT,)).fetchone()[
            0
        ]
    # Every status occurs in the generated project, and they partition its requirements.
    counts = {status: entry["count"] for status, entry in coverage["by_status"].items()}
    assert coverage["total"] == REQUIREMENTS == sum(counts.values())
    assert all(n > 0 for n in counts.values()), counts
    assert counts["uncovered"] == coverage["uncovered"] == REQUIREMENTS // 20
