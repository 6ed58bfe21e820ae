"""Every API function's catalog comment follows one template, and the role it names is the access contract's:
`atoms tool <name> (<minimum role, or "any signed-in user">; security <definer|invoker>): <what it does>. Returns ...`.
(pgTAP runs as a non-superuser on hosted-shaped clusters and cannot read policies/, so this check lives here.)"""

from __future__ import annotations

import re

import psycopg

from atoms_mcp.database.contract import Contract, load_contract
from conftest import REPO_ROOT

CONTRACT = load_contract(REPO_ROOT / "policies")
TEMPLATE = re.compile(
    r"^atoms tool (?P<name>atoms_[a-z_]+) \((?P<role>any signed-in user|viewer|editor|admin); "
    r"security (?P<security>definer|invoker)\): (?P<what>[^ ].*[^ ])\. Returns (?P<returns>.+)$",
    re.DOTALL,
)


def minimum_role(contract: Contract, function: str) -> str:
    """The least role the contract lets call a function: `any signed-in user` when a non-member may."""
    (rule,) = [r for r in contract.rpcs if r.function == function]
    if rule.expect["non_member"] == "ok":
        return "any signed-in user"
    return next(role for role in ("viewer", "editor", "admin") if rule.expect[role] == "ok")


def comment_problems(conn: psycopg.Connection, contract: Contract) -> list[str]:
    """Every public.atoms_* function whose comment does not follow the template or names the wrong role/security."""
    problems = []
    rows = conn.execute(
        "select p.proname, p.prosecdef, coalesce(obj_description(p.oid, 'pg_proc'), '') from pg_catalog.pg_proc as p"
        " where p.pronamespace = 'public'::regnamespace and p.proname like 'atoms\\_%' order by 1"
    ).fetchall()
    assert rows, "no API function found"
    for name, definer, comment in rows:
        match = TEMPLATE.match(comment)
        if match is None:
            problems.append(f"{name}: comment does not follow the template: {comment[:80]!r}")
            continue
        expected = {"name": name, "role": minimum_role(contract, f"public.{name}")}
        expected["security"] = "definer" if definer else "invoker"
        for part, value in expected.items():
            if match.group(part) != value:
                problems.append(f"{name}: comment says {part} {match.group(part)!r}, expected {value!r}")
    return problems


def test_every_api_function_comment_follows_the_template_and_names_the_contracts_role(
    module_db: psycopg.Connection,
) -> None:
    assert comment_problems(module_db, CONTRACT) == []


def test_a_comment_naming_the_wrong_role_or_security_is_reported(db: psycopg.Connection) -> None:
    db.execute(
        "comment on function public.atoms_restore_item(text, text) is"
        " 'atoms tool atoms_restore_item (editor; security definer): undoes a soft delete. Returns {id}.'"
    )
    db.execute(
        "comment on function public.atoms_get_item(text, text) is"
        " 'atoms tool atoms_get_item (viewer; security definer): one item. Returns the item.'"
    )
    db.execute(
        "comment on function public.atoms_trace(text, text, text, integer, text[], integer) is 'atoms: a trace.'"
    )
    assert comment_problems(db, CONTRACT) == [
        "atoms_get_item: comment says security 'definer', expected 'invoker'",
        "atoms_restore_item: comment says role 'editor', expected 'admin'",
        "atoms_trace: comment does not follow the template: 'atoms: a trace.'",
    ]
