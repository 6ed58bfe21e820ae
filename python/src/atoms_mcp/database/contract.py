"""The access contract (policies/*.toml): load it, check its shape, and render it as a readable table.

The contract says, for every table x action and every function, which principal may do what. The test suite
(`make test-policies`) checks every cell against the real database; this module reads and renders it, and under
the matrix renders the policies that enforce it as the database holds them (pg_policies: command, roles, the
USING and WITH CHECK predicates), so the page an auditor reads comes from the database itself.
Run `python -m atoms_mcp.database.contract [DIR] --database-url URL` to print the rendered contract of DIR (default
./policies) with the live policies of the migrated database at URL.
"""

from __future__ import annotations

import argparse
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import psycopg

__all__ = [
    "PRINCIPALS",
    "TABLE_ACTIONS",
    "Contract",
    "LivePolicy",
    "RpcRule",
    "TableRule",
    "live_policies",
    "load_contract",
    "render_markdown",
]

PRINCIPALS = ("anon", "non_member", "viewer", "editor", "admin", "other_org_admin", "service_role", "gateway")
TABLE_ACTIONS = ("select", "insert", "update", "delete")
_SQLSTATE = re.compile(r"^[0-9A-Z]{5}$")
_TABLE_OUTCOMES = {"rows", "none"}
_RPC_OUTCOMES = {"ok"}


@dataclass(frozen=True, slots=True)
class TableRule:
    """Who may select/insert/update/delete the rows of one table (the Acme rows named by ``scope``)."""

    name: str
    policies: tuple[str, ...]
    scope: str
    insert: str
    update: str
    cells: dict[str, dict[str, str]]
    source: str


@dataclass(frozen=True, slots=True)
class RpcRule:
    """Who may call one function, with the call used to probe it."""

    function: str
    call: str
    expect: dict[str, str]
    source: str


@dataclass(frozen=True, slots=True)
class Contract:
    tables: tuple[TableRule, ...]
    rpcs: tuple[RpcRule, ...]


@dataclass(frozen=True, slots=True)
class LivePolicy:
    """One row of pg_policies: a policy as the database enforces it."""

    table: str
    name: str
    command: str
    permissive: str
    roles: tuple[str, ...]
    using: str | None
    with_check: str | None


def live_policies(conn: psycopg.Connection[Any]) -> list[LivePolicy]:
    """Every policy of the public and private schemas, by table, command and name, from pg_policies.

    The predicates are deparsed with only pg_catalog on the search path, so every other name prints qualified.
    """
    with conn.transaction():
        conn.execute("set local search_path = pg_catalog")
        rows = conn.execute(
            """
        select format('%s.%s', schemaname, tablename), policyname, cmd, permissive, roles::text[], qual, with_check
        from pg_catalog.pg_policies
        where schemaname in ('public', 'private')
        order by schemaname, tablename,
          array_position(array['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'ALL'], cmd), policyname
        """
        ).fetchall()
    return [
        LivePolicy(
            table=table, name=name, command=cmd, permissive=permissive, roles=tuple(roles), using=qual, with_check=check
        )
        for table, name, cmd, permissive, roles, qual, check in rows
    ]


def load_contract(directory: Path = Path("policies")) -> Contract:
    """Read every policies/*.toml file; raise ValueError on any malformed or incomplete cell."""
    tables: list[TableRule] = []
    rpcs: list[RpcRule] = []
    for path in sorted(directory.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        for entry in data.get("table", []):
            cells = {
                action: _cells(entry.get(action), f"{path.name}: {entry.get('name')}.{action}", _TABLE_OUTCOMES)
                for action in TABLE_ACTIONS
            }
            tables.append(
                TableRule(
                    name=_required(entry, "name", path),
                    policies=tuple(entry.get("policies", [])),
                    scope=_required(entry, "scope", path),
                    insert=_required(entry, "insert_sql", path),
                    update=_required(entry, "update_set", path),
                    cells=cells,
                    source=path.name,
                )
            )
        for entry in data.get("rpc", []):
            name = _required(entry, "function", path)
            rpcs.append(
                RpcRule(
                    function=name,
                    call=_required(entry, "call", path),
                    expect=_cells(entry.get("expect"), f"{path.name}: {name}", _RPC_OUTCOMES),
                    source=path.name,
                )
            )
    _no_duplicates([t.name for t in tables], "table")
    _no_duplicates([r.function for r in rpcs], "rpc")
    return Contract(tables=tuple(tables), rpcs=tuple(rpcs))


def render_markdown(contract: Contract, policies: Sequence[LivePolicy]) -> str:
    """The contract as Markdown tables, then the live policies (generated: edit the TOML files or the migrations,
    then `make policies-doc`)."""
    lines = [
        "# Access contract",
        "",
        "Generated from `policies/*.toml` and the migrated database's `pg_policies` by `make policies-doc`; do not",
        "edit by hand. Every cell is checked against the real database by `make test-policies`. Target rows belong to",
        "the Acme organisation.",
        "",
        "Legend: **rows** = allowed and affects/sees the target rows; **none** = runs but sees/affects nothing;",
        "**ok** = the call succeeds; a code = refused with that SQLSTATE (42501 permission, PT404 not found,",
        "28000 not authenticated, 22023 invalid argument, P0001 refused by a trigger).",
        "",
        "Principals: anon; non_member (signed in, no organisation); viewer, editor, admin (of Acme);",
        "other_org_admin (admin of Globex); service_role (BYPASSRLS key); gateway (the MCP server's login before it",
        "takes on `authenticated`).",
        "",
        "## Tables",
        "",
        "| table | action | " + " | ".join(PRINCIPALS) + " |",
        "|---|---|" + "---|" * len(PRINCIPALS),
    ]
    for table in sorted(contract.tables, key=lambda t: t.name):
        for action in TABLE_ACTIONS:
            row = " | ".join(table.cells[action][p] for p in PRINCIPALS)
            lines.append(f"| `{table.name}` | {action} | {row} |")
    lines += [
        "",
        "## Functions",
        "",
        "| function | " + " | ".join(PRINCIPALS) + " |",
        "|---|" + "---|" * len(PRINCIPALS),
    ]
    for rpc in sorted(contract.rpcs, key=lambda r: r.function):
        lines.append(f"| `{rpc.function}` | " + " | ".join(rpc.expect[p] for p in PRINCIPALS) + " |")
    lines += [
        "",
        "## Policies",
        "",
        "The row level security policies that enforce the matrix, as `pg_policies` shows them: the command, the roles",
        "they apply to, the `USING` predicate (which existing rows the command sees) and the `WITH CHECK` predicate",
        "(which new rows it may write). A role with no policy for a command gets no row.",
    ]
    current = None
    for policy in policies:
        if policy.table != current:
            current = policy.table
            lines += [
                "",
                f"### `{policy.table}`",
                "",
                "| policy | command | roles | using | with check |",
                "|---|---|---|---|---|",
            ]
        kind = "" if policy.permissive == "PERMISSIVE" else f" ({policy.permissive.lower()})"
        lines.append(
            f"| {_cell(policy.name)}{kind} | {policy.command} | {', '.join(policy.roles)} | {_code(policy.using)} "
            f"| {_code(policy.with_check)} |"
        )
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(expression: str | None) -> str:
    if expression is None:
        return "—"
    return "`" + _cell(" ".join(expression.split())) + "`"


def _cells(raw: object, where: str, words: set[str]) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: missing its cells")
    raw = cast(dict[str, object], raw)
    missing = [p for p in PRINCIPALS if p not in raw]
    extra = [p for p in raw if p not in PRINCIPALS]
    if missing or extra:
        raise ValueError(f"{where}: principals missing {missing} or unknown {extra}")
    for principal, outcome in raw.items():
        if not isinstance(outcome, str) or not (outcome in words or _SQLSTATE.match(outcome)):
            raise ValueError(f"{where}.{principal}: {outcome!r} is neither {sorted(words)} nor a SQLSTATE")
    return {principal: str(outcome) for principal, outcome in raw.items()}


def _required(entry: dict[str, object], key: str, path: Path) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{path.name}: an entry lacks {key!r}")
    return value


def _no_duplicates(names: list[str], kind: str) -> None:
    seen = {n for n in names if names.count(n) > 1}
    if seen:
        raise ValueError(f"{kind} listed twice in the contract: {sorted(seen)}")


def main(argv: Sequence[str] | None = None) -> None:
    """Print the rendered contract of a policies directory with a migrated database's live policies."""
    parser = argparse.ArgumentParser(prog="python -m atoms_mcp.database.contract", description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=Path("policies"))
    parser.add_argument("--database-url", required=True, help="a database with the migrations applied")
    args = parser.parse_args(argv)
    with psycopg.connect(args.database_url) as conn:
        policies = live_policies(conn)
    print(render_markdown(load_contract(args.directory), policies), end="")


if __name__ == "__main__":
    main()
