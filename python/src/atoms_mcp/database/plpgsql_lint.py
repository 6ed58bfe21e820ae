"""PL/pgSQL linted like code: plpgsql_check over every PL/pgSQL function the migrations create (`make lint`).

Every function is checked with the session's search path set to `pg_catalog, pg_temp` (the path each function pins),
so a name that is not schema-qualified fails to resolve and is reported. A trigger function is checked once per table
it is attached to (its `relid`), so NEW and OLD have that table's columns. Errors always fail; warnings (including
extra, performance and security warnings) fail unless waived, with a reason, in the one reviewed waiver list
(`supabase/plpgsql_check_waivers.toml`); a waiver that matches nothing fails too, so the list cannot go stale.

Run `python -m atoms_mcp.database.plpgsql_lint --database-url URL [--waivers FILE]` on a migrated database; the
extension is created in schema `extensions` when missing (an existing one is used where it is).
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

__all__ = ["Finding", "Waiver", "check_functions", "load_waivers", "unwaived", "unused_waivers"]

DEFAULT_WAIVERS = Path("supabase/plpgsql_check_waivers.toml")

# The functions the migrations create: every schema but the system's, Supabase's (auth) and the extensions'; no
# function that belongs to an extension; no session-local (pg_temp) function.
_CHECK = sql.SQL("""
select
  p.oid::regprocedure::text as function,
  coalesce(t.relid::regclass::text, '') as relation,
  c.level,
  c.message,
  c.lineno,
  c.sqlstate
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
inner join pg_catalog.pg_language as l on l.oid = p.prolang
left join lateral (
  select distinct tg.tgrelid as relid
  from pg_catalog.pg_trigger as tg
  where tg.tgfoid = p.oid and not tg.tgisinternal
) as t on true
cross join lateral {schema}.plpgsql_check_function_tb(
  p.oid, coalesce(t.relid, 0::oid),
  fatal_errors => false, other_warnings => true, performance_warnings => true, extra_warnings => true,
  security_warnings => true
) as c
where l.lanname = 'plpgsql'
  and n.nspname not in ('pg_catalog', 'information_schema', 'auth', 'extensions')
  and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  and not exists (
    select 1 from pg_catalog.pg_depend as d
    where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
  )
  and (p.prorettype <> 'pg_catalog.trigger'::regtype or t.relid is not null)
order by 1, 2, c.lineno nulls first, c.message
""")

_UNATTACHED_TRIGGER_FUNCTIONS = """
select p.oid::regprocedure::text
from pg_catalog.pg_proc as p
inner join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
where p.prorettype = 'pg_catalog.trigger'::regtype
  and n.nspname not in ('pg_catalog', 'information_schema', 'auth', 'extensions')
  and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
  and not exists (select 1 from pg_catalog.pg_trigger as tg where tg.tgfoid = p.oid and not tg.tgisinternal)
  and not exists (
    select 1 from pg_catalog.pg_depend as d
    where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
  )
order by 1
"""


@dataclass(frozen=True, slots=True)
class Finding:
    """One message of plpgsql_check about one function (on one table, for a trigger function)."""

    function: str
    relation: str
    level: str
    message: str
    lineno: int | None
    sqlstate: str | None

    @property
    def is_error(self) -> bool:
        return self.level == "error"

    def describe(self) -> str:
        where = f" on {self.relation}" if self.relation else ""
        line = f" line {self.lineno}" if self.lineno is not None else ""
        return f"{self.level}: {self.function}{where}{line}: {self.message}"


@dataclass(frozen=True, slots=True)
class Waiver:
    """A reviewed warning: the function (regprocedure text), the level and message it waives, and why."""

    function: str
    level: str
    message: str
    reason: str

    def covers(self, finding: Finding) -> bool:
        return (finding.function, finding.level, finding.message) == (self.function, self.level, self.message)


def check_functions(conn: psycopg.Connection[Any]) -> list[Finding]:
    """plpgsql_check's findings for every PL/pgSQL function, resolved under `pg_catalog, pg_temp`.

    A trigger function attached to no table cannot be checked; it is reported as an error finding.
    """
    conn.execute("create extension if not exists plpgsql_check with schema extensions")
    found = conn.execute(
        "select n.nspname from pg_catalog.pg_extension as e"
        " inner join pg_catalog.pg_namespace as n on n.oid = e.extnamespace where e.extname = 'plpgsql_check'"
    ).fetchone()
    assert found is not None
    query = _CHECK.format(schema=sql.Identifier(found[0]))
    with conn.transaction():
        conn.execute("set local search_path = pg_catalog, pg_temp")
        rows = conn.execute(query).fetchall()
        unattached = conn.execute(_UNATTACHED_TRIGGER_FUNCTIONS).fetchall()
    findings = [Finding(*row) for row in rows]
    findings += [
        Finding(name, "", "error", "trigger function attached to no table: it cannot be checked", None, None)
        for (name,) in unattached
    ]
    return findings


def load_waivers(path: Path = DEFAULT_WAIVERS) -> list[Waiver]:
    """The waiver list; every entry needs function, level, message and a non-empty reason.

    Raises:
        ValueError: an entry lacks a field or waives an error (errors are never waived).
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    waivers: list[Waiver] = []
    for entry in data.get("waiver", []):
        fields = {key: entry.get(key) for key in ("function", "level", "message", "reason")}
        missing = [key for key, value in fields.items() if not isinstance(value, str) or not value.strip()]
        if missing:
            raise ValueError(f"{path.name}: a waiver lacks {', '.join(missing)}: {entry}")
        if fields["level"] == "error":
            raise ValueError(f"{path.name}: errors cannot be waived: {entry}")
        waivers.append(Waiver(**{key: str(value) for key, value in fields.items()}))
    return waivers


def unwaived(findings: Sequence[Finding], waivers: Sequence[Waiver]) -> list[Finding]:
    """Errors, and warnings no waiver covers."""
    return [f for f in findings if f.is_error or not any(w.covers(f) for w in waivers)]


def unused_waivers(findings: Sequence[Finding], waivers: Sequence[Waiver]) -> list[Waiver]:
    """Waivers that cover no finding (the warning was fixed: remove the waiver)."""
    return [w for w in waivers if not any(w.covers(f) for f in findings)]


def main(argv: Sequence[str] | None = None) -> int:
    """Lint the database's PL/pgSQL functions; print what fails; 0 when clean."""
    parser = argparse.ArgumentParser(prog="python -m atoms_mcp.database.plpgsql_lint", description=__doc__)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--waivers", type=Path, default=DEFAULT_WAIVERS)
    args = parser.parse_args(argv)
    waivers = load_waivers(args.waivers)
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        findings = check_functions(conn)
    failing = unwaived(findings, waivers)
    stale = unused_waivers(findings, waivers)
    for finding in failing:
        print(finding.describe())
    for waiver in stale:
        print(f"unused waiver in {args.waivers}: {waiver.function}: {waiver.level}: {waiver.message}")
    waived = len(findings) - len(failing)
    print(
        f"plpgsql_check: {len(findings)} findings, {waived} waived, {len(failing)} failing, {len(stale)} unused waivers"
    )
    return 1 if failing or stale else 0


if __name__ == "__main__":
    sys.exit(main())
