"""The access contract, cell by cell, against the real database (`make test-policies`).

Every table x action and every function in policies/*.toml is run as each principal in its own rolled-back
transaction; the outcome (rows / none / ok / SQLSTATE) must equal the cell. Completeness: every table in the
public and private schemas, every policy in pg_policies and every function in public must be in the contract.
"""

from __future__ import annotations

import psycopg
import pytest

from atoms_mcp.database.contract import (
    PRINCIPALS,
    TABLE_ACTIONS,
    Contract,
    RpcRule,
    TableRule,
    live_policies,
    load_contract,
    render_markdown,
)
from conftest import REPO_ROOT
from principals import PRINCIPALS as ACTORS
from principals import act_as

pytestmark = pytest.mark.policies

CONTRACT = load_contract(REPO_ROOT / "policies")

TABLE_CELLS = [
    pytest.param(table, action, principal, id=f"{table.name}-{action}-{principal}")
    for table in CONTRACT.tables
    for action in TABLE_ACTIONS
    for principal in PRINCIPALS
]
RPC_CELLS = [
    pytest.param(rpc, principal, id=f"{rpc.function}-{principal}") for rpc in CONTRACT.rpcs for principal in PRINCIPALS
]


def table_statement(table: TableRule, action: str) -> str:
    return {
        "select": f"select count(*) from {table.name} where {table.scope}",
        "insert": table.insert,
        "update": f"update {table.name} set {table.update} where {table.scope}",
        "delete": f"delete from {table.name} where {table.scope}",
    }[action]


def outcome_of(conn: psycopg.Connection, principal: str, statement: str, *, count_rows: bool) -> str:
    """Run ``statement`` as ``principal`` in a rolled-back transaction; return rows/none/ok or the SQLSTATE."""
    with conn.transaction(force_rollback=True):
        act_as(conn, ACTORS[principal])
        try:
            with conn.transaction():
                cursor = conn.execute(statement)
                if not count_rows:
                    return "ok"
                affected = cursor.fetchone()[0] if statement.lstrip().lower().startswith("select") else cursor.rowcount
        except psycopg.Error as error:
            return error.sqlstate or "?????"
    return "rows" if affected > 0 else "none"


@pytest.mark.parametrize(("table", "action", "principal"), TABLE_CELLS)
def test_table_cell(module_db: psycopg.Connection, table: TableRule, action: str, principal: str) -> None:
    got = outcome_of(module_db, principal, table_statement(table, action), count_rows=True)
    assert got == table.cells[action][principal], f"{principal} {action} on {table.name} ({table.source})"


@pytest.mark.parametrize(("rpc", "principal"), RPC_CELLS)
def test_function_cell(module_db: psycopg.Connection, rpc: RpcRule, principal: str) -> None:
    got = outcome_of(module_db, principal, rpc.call, count_rows=False)
    assert got == rpc.expect[principal], f"{principal} calling {rpc.function} ({rpc.source})"


def uncovered(conn: psycopg.Connection, contract: Contract) -> list[str]:
    """Tables, policies and public functions that exist in the database but not in the contract."""
    problems = []
    tables = {t.name: t for t in contract.tables}
    for (name,) in conn.execute(
        """
        select format('%s.%s', n.nspname, c.relname)
        from pg_catalog.pg_class as c
        inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        where n.nspname in ('public', 'private') and c.relkind in ('r', 'p')
          and not exists (select 1 from pg_catalog.pg_depend as d where d.objid = c.oid and d.deptype = 'e')
          and not c.relispartition
        """
    ):
        if name not in tables:
            problems.append(f"table {name} has no [[table]] entry in policies/")
    for table_name, policy in conn.execute(
        "select format('%s.%s', schemaname, tablename), policyname from pg_catalog.pg_policies "
        "where schemaname in ('public', 'private')"
    ):
        if table_name not in tables or policy not in tables[table_name].policies:
            problems.append(f"policy {policy!r} on {table_name} is not listed in policies/")
    functions = {r.function for r in contract.rpcs}
    for (name,) in conn.execute(
        """
        select distinct format('public.%s', p.proname)
        from pg_catalog.pg_proc as p
        where p.pronamespace = 'public'::regnamespace
          and not exists (select 1 from pg_catalog.pg_depend as d where d.objid = p.oid and d.deptype = 'e')
        """
    ):
        if name not in functions:
            problems.append(f"function {name} has no [[rpc]] entry in policies/")
    return problems


def test_contract_covers_every_table_policy_and_public_function(module_db: psycopg.Connection) -> None:
    assert uncovered(module_db, CONTRACT) == []


def test_contract_covers_no_object_that_does_not_exist(db: psycopg.Connection) -> None:
    for table in CONTRACT.tables:
        assert db.execute("select to_regclass(%s)", (table.name,)).fetchone()[0] is not None, table.name
        for policy in table.policies:
            schema, name = table.name.split(".")
            found = db.execute(
                "select 1 from pg_catalog.pg_policies where schemaname = %s and tablename = %s and policyname = %s",
                (schema, name, policy),
            ).fetchone()
            assert found, f"{table.name}: policy {policy!r} is in the contract but not in the database"
    for rpc in CONTRACT.rpcs:
        schema, name = rpc.function.split(".")
        count = db.execute(
            "select count(*) from pg_catalog.pg_proc where pronamespace = to_regnamespace(%s) and proname = %s",
            (schema, name),
        ).fetchone()[0]
        assert count == 1, f"{rpc.function}: expected exactly one function of that name, found {count}"


def test_completeness_check_fails_on_a_new_table_policy_or_function(db: psycopg.Connection) -> None:
    db.execute("create table public.throwaway_probe (id int primary key)")
    db.execute("alter table public.throwaway_probe enable row level security")
    db.execute(
        'create policy "Anyone reads the probe" on public.throwaway_probe for select to authenticated using (true)'
    )
    db.execute('create policy "A second items policy" on public.items for select to authenticated using (false)')
    db.execute("create function public.throwaway_probe_fn() returns int language sql as 'select 1'")
    problems = uncovered(db, CONTRACT)
    assert "table public.throwaway_probe has no [[table]] entry in policies/" in problems
    assert "policy 'Anyone reads the probe' on public.throwaway_probe is not listed in policies/" in problems
    assert "policy 'A second items policy' on public.items is not listed in policies/" in problems
    assert "function public.throwaway_probe_fn has no [[rpc]] entry in policies/" in problems
    assert len(problems) == 4


def test_policies_readme_is_rendered_from_the_contract_and_the_live_policies(module_db: psycopg.Connection) -> None:
    rendered = render_markdown(CONTRACT, live_policies(module_db))
    assert (REPO_ROOT / "policies" / "README.md").read_text(encoding="utf-8") == rendered, "run `make policies-doc`"


def test_the_rendered_contract_shows_every_policy_predicate_from_pg_policies(db: psycopg.Connection) -> None:
    db.execute(
        'create policy "Probe: editors read notes" on public.items for select to authenticated'
        " using (item_type = 'note' and title <> 'a|b')"
    )
    rendered = render_markdown(CONTRACT, live_policies(db))
    section = rendered.split("### `public.items`", 1)[1].split("###", 1)[0]
    assert (
        "| Probe: editors read notes | SELECT | authenticated | "
        "`((item_type = 'note'::public.item_type) AND (title <> 'a\\|b'::text))` | — |"
    ) in section
    for (name,) in db.execute(
        "select policyname from pg_catalog.pg_policies where schemaname in ('public', 'private')"
    ):
        assert f"| {name} |" in rendered
