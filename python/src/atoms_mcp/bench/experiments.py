"""A/B experiments behind the findings of BENCHMARKS.md: a proposed change applied to one of two clones of the
same dataset, the RPCs called on both, interleaved (same harness as the benchmarks).

    python -m atoms_mcp.bench.experiments rls-helpers --database-url postgresql://postgres@127.0.0.1/atoms_bench_100k

``rls-helpers``: the RBAC helpers behind every policy (private.visible_project_ids, private.project_ids_with_role)
rewritten in plpgsql, whose statement plans are cached per session, instead of SQL functions that (being security
definer, so never inlined) are parsed and planned on every call, once per table reference of every statement.
The clones are dropped afterwards; the source database is never changed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import anyio
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.types.json import Jsonb

from atoms_mcp.bench.harness import interleave
from atoms_mcp.bench.scenarios import _as_user, gateway_url
from atoms_mcp.bench.workload import READ_CALLS, pick_probe, read_statement

__all__ = ["PLPGSQL_RLS_HELPERS", "ab_test"]

PLPGSQL_RLS_HELPERS = (
    """
    create or replace function private.project_ids_with_role(min_role public.member_role) returns setof uuid
    language plpgsql stable security definer set search_path = ''
    as $$
    begin
      return query
      select p.id
      from public.organization_members as m
      inner join public.projects as p on p.org_id = m.org_id
      where m.user_id = (select auth.uid()) and m.role >= project_ids_with_role.min_role;
    end;
    $$
    """,
    """
    create or replace function private.visible_project_ids() returns setof uuid
    language plpgsql stable security definer set search_path = ''
    as $$
    begin
      return query
      select p.id
      from public.organization_members as m
      inner join public.projects as p on p.org_id = m.org_id
      where m.user_id = (select auth.uid());
    end;
    $$
    """,
)


def _db(url: str, name: str) -> str:
    info = conninfo_to_dict(url)
    info["dbname"] = name
    return make_conninfo(**info)


def ab_test(url: str, patch: Sequence[str], *, iterations: int = 200) -> list[tuple[str, float, float, float, float]]:
    """(call, current p50, current p95, patched p50, patched p95) in ms, on two clones of ``url``'s database."""
    source = str(conninfo_to_dict(url)["dbname"])
    clones = (f"{source}_ab_current", f"{source}_ab_patched")
    maintenance = _db(url, "postgres")
    with psycopg.connect(maintenance, autocommit=True) as conn:
        for name in clones:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("create database {} template {}").format(sql.Identifier(name), sql.Identifier(source)))
    try:
        with psycopg.connect(_db(url, clones[1]), autocommit=True) as conn:
            for statement in patch:
                conn.execute(statement)
        with psycopg.connect(_db(url, clones[0]), autocommit=True) as conn:
            probe = pick_probe(conn)
            write_project = str(
                conn.execute(
                    "select id from public.projects where org_id = %s and id <> %s order by id limit 1",
                    (probe.org_id, probe.project_id),
                ).fetchone()[0]
            )
        jobs: list[tuple[str, str, sql.Composable, object, int]] = []
        for name in ("get_item", "trace", "coverage", "list_items"):
            call = next(c for c in READ_CALLS if c.name == name)
            stmt, params = read_statement(call, probe)
            jobs.append((name, probe.viewer_id, stmt, params, iterations))
        create = sql.SQL("select public.atoms_create_item(project_id => %s, type => 'note', title => 'A/B note')")
        jobs.append(("create_item", probe.editor_id, create, (write_project,), iterations))
        items = Jsonb([{"type": "requirement", "title": f"A/B {i}", "body": "b" * 200} for i in range(100)])
        bulk = sql.SQL("select public.atoms_bulk_import(project_id => %s, items => %s)")
        jobs.append(("bulk_import_100", probe.editor_id, bulk, (write_project, items), max(5, iterations // 10)))

        async def run() -> list[tuple[str, float, float, float, float]]:
            out = []
            async with (
                await psycopg.AsyncConnection.connect(gateway_url(_db(url, clones[0])), autocommit=True) as a,
                await psycopg.AsyncConnection.connect(gateway_url(_db(url, clones[1])), autocommit=True) as b,
            ):
                for name, user, stmt, params, n in jobs:
                    s = await interleave(
                        {
                            "current": lambda u=user, q=stmt, p=params: _as_user(a, u, q, p),
                            "patched": lambda u=user, q=stmt, p=params: _as_user(b, u, q, p),
                        },
                        iterations=n,
                    )
                    cur, new = s["current"], s["patched"]
                    out.append((name, cur.p50_ms, cur.p95_ms, new.p50_ms, new.p95_ms))
            return out

        return anyio.run(run)
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            for name in clones:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m atoms_mcp.bench.experiments", description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=["rls-helpers"])
    parser.add_argument("--database-url", required=True, help="a generated dataset (it is cloned, never changed)")
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args(argv)
    rows = ab_test(args.database_url, PLPGSQL_RLS_HELPERS, iterations=args.iterations)
    print("| call | current p50 ms | current p95 ms | plpgsql helpers p50 ms | p95 ms | p50 ratio |")
    print("|---|---|---|---|---|---|")
    for name, c50, c95, p50, p95 in rows:
        print(f"| {name} | {c50:.3f} | {c95:.3f} | {p50:.3f} | {p95:.3f} | {p50 / c50:.2f}x |")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
