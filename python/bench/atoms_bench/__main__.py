"""`python -m atoms_bench --smoke|--full`: run every scenario, write BENCHMARKS.md, the chart and results.json.

--smoke: generates small datasets of its own (dropped afterwards), few iterations, output in bench/out/ (not
committed); a few minutes, so CI keeps the harness working. --full: the dataset of `make bench-data` (>= 1M items)
plus 10k and 100k datasets for the scaling curve; writes BENCHMARKS.md and docs/benchmarks.png in the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from atoms_bench import report, scenarios, verification
from atoms_bench.cli_call import cli_call
from atoms_bench.datagen import DatasetSpec, generate
from atoms_bench.harness import Figure, Samples
from atoms_bench.pipeline_attack import attack_ratio, metering
from atoms_bench.plans import CallPlans, capture_plans
from atoms_bench.profile import FunctionCost
from atoms_bench.workload import pick_probe
from atoms_mcp.database import migrations
from atoms_mcp.settings import Settings

REPO_ROOT = Path.cwd()  # `make bench` runs in the repository: BENCHMARKS.md, docs/ and bench/out/ are written there

PROJECT_SIZE = 100  # mean items per project in every generated dataset, so scaling compares like with like


def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _with_db(url: str, dbname: str) -> str:
    info = conninfo_to_dict(url)
    info["dbname"] = dbname
    return make_conninfo(**info)


def _item_count(url: str) -> int | None:
    if not migrations.database_exists(url):
        return None
    with psycopg.connect(url, autocommit=True) as conn:
        if not conn.execute("select to_regclass('public.items') is not null").fetchone()[0]:
            return None
        return int(conn.execute("select count(*) from public.items").fetchone()[0])


def ensure_dataset(url: str, items: int, settings: Settings, *, force: bool = False) -> None:
    """(Re)create ``url`` with a generated dataset of ``items`` items unless it already holds that many."""
    if not force and _item_count(url) == items:
        with psycopg.connect(url, autocommit=True) as conn:
            migrations.check_history(conn, settings.supabase_dir)
        _log(f"reusing {conninfo_to_dict(url)['dbname']} ({items:,} items)")
        return
    _log(f"generating {items:,} items into {conninfo_to_dict(url)['dbname']}")
    migrations.reset_database(url, settings.supabase_dir, with_seed=False)
    orgs = max(1, items // (PROJECT_SIZE * 10))
    generate(url, DatasetSpec(items=items, orgs=orgs, projects_per_org=10), log=lambda _m: None)


def drop_database(url: str) -> None:
    info = conninfo_to_dict(url)
    dbname = str(info["dbname"])
    info["dbname"] = "postgres"
    with psycopg.connect(make_conninfo(**info), autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(dbname)))


def dataset_facts(url: str) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        facts: dict[str, Any] = {"database": conn.info.dbname}
        for table in (
            "public.organizations",
            "public.projects",
            "public.items",
            "public.item_links",
            "public.test_results",
            "public.change_history",
        ):
            facts[f"{table.split('.')[1]} rows"] = f"{conn.execute(f'select count(*) from {table}').fetchone()[0]:,}"
        facts["users"] = f"{conn.execute('select count(*) from auth.users').fetchone()[0]:,}"
        comment = conn.execute(
            "select shobj_description(oid, 'pg_database') from pg_database where datname = current_database()"
        ).fetchone()[0]
        if comment and comment.startswith("{"):
            load = json.loads(comment)
            facts["generated"] = (
                f"seed {load.get('seed')}, {load.get('items'):,} items requested; load phases (s): "
                + ", ".join(f"{k} {v}" for k, v in load.get("seconds", {}).items())
            )
    return facts


async def run_all(ctx: scenarios.BenchContext, step: Callable[[str], None], *, throughput_seconds: float) -> None:
    calls = scenarios.read_calls_available(ctx.url)
    step("RLS cost")
    await scenarios.rls_cost(ctx, calls)
    step("verification status on a 1,000-requirement project")
    verification.ensure_verification_project(ctx.url, ctx.probe)
    await scenarios.rls_cost(ctx, verification.verification_calls())
    step("server overhead")
    await scenarios.server_overhead(ctx)
    step("atoms call vs floor script")
    await cli_call(ctx)
    step("audit on/off")
    await scenarios.audit_cost(ctx)
    step("write cost")
    await scenarios.write_cost(ctx)
    step("slot + RPC: savepoint vs pipelined")
    await metering(ctx)
    step("a call during the 20,000-keys attack")
    await attack_ratio(ctx)
    step("throughput")
    await scenarios.throughput(ctx, round_seconds=throughput_seconds, rounds=2)


def vars_of(cost: FunctionCost) -> dict[str, Any]:
    return dataclasses.asdict(cost)


def render(run: dict[str, Any], md_path: Path, chart_path: Path, chart_ref: str) -> None:
    """BENCHMARKS.md and the chart from one run's results (fresh, or loaded from the results file)."""
    figures = []
    for f in run["figures"]:
        samples = {name: Samples(name, list(secs)) for name, secs in f["seconds"].items()}
        fig = Figure(f["scenario"], f["label"], samples, f.get("numerator"), f.get("denominator"), f["goal"])
        fig.goal_text, fig.note = f.get("goal_text", ""), f.get("note", "")
        figures.append(fig)
    scaling = {
        name: (row if name.startswith("_") else {int(k): v for k, v in row.items()})
        for name, row in (run.get("scaling") or {}).items()
    }
    plans = [CallPlans(p["call"], p["plans"], p["error"]) for p in run["plans"]]
    profiles = {k: (wall, [FunctionCost(**c) for c in costs]) for k, (wall, costs) in run["profiles"].items()}
    findings_path = REPO_ROOT / "docs" / "benchmark-findings.md"
    findings = findings_path.read_text(encoding="utf-8") if findings_path.exists() and run["mode"] == "full" else None
    report.write_chart(chart_path, figures, scaling)
    report.write_markdown(
        md_path,
        mode=run["mode"],
        env=run["environment"],
        dataset=run["dataset"],
        figures=figures,
        metrics=run["metrics"],
        scaling=scaling,
        plans=plans,
        profiles=profiles,
        chart=chart_ref,
        findings=findings,
    )


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m atoms_bench", description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--smoke", action="store_true", help="small data, few iterations, output in bench/out/")
    mode.add_argument("--full", action="store_true", help="the make bench-data dataset; writes BENCHMARKS.md")
    parser.add_argument("--database-url", default=settings.bench_database_url, help="full: the 1M-item dataset")
    parser.add_argument("--iterations", type=int, default=None)
    parser.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "out")
    parser.add_argument("--keep", action="store_true", help="smoke: keep the generated databases")
    parser.add_argument(
        "--render", action="store_true", help="only re-render BENCHMARKS.md and the chart from the last results file"
    )
    args = parser.parse_args(argv)
    out_dir: Path = args.out_dir
    out_dir.mkdir(parents=True, exist_ok=True)

    if args.smoke:
        md_path, chart_path, chart_ref = out_dir / "BENCHMARKS.md", out_dir / "benchmarks.png", "benchmarks.png"
    else:
        md_path, chart_path = REPO_ROOT / "BENCHMARKS.md", REPO_ROOT / "docs" / "benchmarks.png"
        chart_ref = "docs/benchmarks.png"
    results_path = out_dir / f"results-{'smoke' if args.smoke else 'full'}.json"
    if args.render:
        render(json.loads(results_path.read_text(encoding="utf-8")), md_path, chart_path, chart_ref)
        _log(f"re-rendered {md_path} and {chart_path} from {results_path}")
        return 0

    base = str(conninfo_to_dict(args.database_url)["dbname"])
    if args.smoke:
        sizes = {2_000: _with_db(args.database_url, f"{base}_smoke_2k"),
                 10_000: _with_db(args.database_url, f"{base}_smoke_10k")}  # fmt: skip
        for n, url in sizes.items():
            ensure_dataset(url, n, settings, force=True)
        main_url = sizes[10_000]
        iterations = args.iterations or 30
        throughput_seconds = 3.0
    else:
        main_url = args.database_url
        total = _item_count(main_url)
        if not total:
            _log(f"no dataset in {base}: run `make bench-data` first")
            return 2
        sizes = {10_000: _with_db(main_url, f"{base}_10k"), 100_000: _with_db(main_url, f"{base}_100k")}
        for n, url in sizes.items():
            ensure_dataset(url, n, settings)
        sizes[total] = main_url
        iterations = args.iterations or 200
        throughput_seconds = 10.0

    with psycopg.connect(main_url, autocommit=True) as conn:
        probe = pick_probe(conn)
    _log(f"probe: project {probe.project_id} ({probe.project_items} items), viewer {probe.viewer_id}")
    with tempfile.TemporaryDirectory(prefix="atoms-bench-") as state_dir:
        ctx = scenarios.BenchContext(
            url=main_url, smoke=args.smoke, iterations=iterations, state_dir=Path(state_dir), probe=probe
        )
        started = time.perf_counter()
        _log("plan report")
        with psycopg.connect(main_url, autocommit=True) as conn:
            plans = capture_plans(conn, scenarios.read_calls_available(main_url), probe)
        _log("scaling")
        scaling = anyio.run(scenarios.scaling, dict(sorted(sizes.items())), iterations)
        anyio.run(lambda: run_all(ctx, _log, throughput_seconds=throughput_seconds))
        _log("rate limiter")
        scenarios.rate_limiter(ctx)
        scenarios.rate_limiter_pgbench(ctx, seconds=3 if args.smoke else 10)
        _log("function profiles")
        profiles = scenarios.profiles(ctx)
        elapsed = time.perf_counter() - started

    facts = dataset_facts(main_url)
    facts["probe project"] = f"{probe.project_items} live items; trace/get root {probe.requirement_key}"
    facts["iterations per variant"] = str(iterations)
    facts["run time"] = f"{elapsed:.0f} s"
    run = {
        "mode": "smoke" if args.smoke else "full",
        "environment": report.environment(main_url),
        "dataset": facts,
        "figures": [dict(f.as_dict(), seconds={k: v.seconds for k, v in f.samples.items()}) for f in ctx.figures],
        "metrics": ctx.metrics,
        "scaling": scaling,
        "plans": [{"call": cp.call, "plans": cp.plans, "error": cp.error} for cp in plans],
        "profiles": {k: [wall, [vars_of(c) for c in costs]] for k, (wall, costs) in profiles.items()},
    }
    results_path.write_text(json.dumps(run, default=str), encoding="utf-8")
    render(run, md_path, chart_path, chart_ref)
    _log(f"wrote {md_path}, {chart_path}, {results_path}")
    if args.smoke and not args.keep:
        for url in sizes.values():
            drop_database(url)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
