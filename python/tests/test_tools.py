"""The registry agrees with the database and the access contract: every tool's RPC exists with exactly the
tool's parameter names and the SQL types the server casts to, every public atoms_* function is a tool (or the
rate-limit check the server itself calls), and every RPC has a row in policies/."""

from __future__ import annotations

import tomllib
from typing import Any

import psycopg
import pytest

from atoms_mcp.core.registry import TOOLS, TOOLS_BY_NAME
from atoms_mcp.core.result_budget import RESULT_ARGUMENTS
from conftest import REPO_ROOT

DOCUMENTED_TOOLS = {
    "atoms_status", "atoms_list_projects", "atoms_list_items", "atoms_get_item", "atoms_search",
    "atoms_get_coverage", "atoms_get_history", "atoms_export_mermaid", "atoms_trace", "atoms_project_summary",
    "atoms_browse", "atoms_create_item", "atoms_update_item", "atoms_delete_item", "atoms_link_items",
    "atoms_bulk_import", "atoms_record_test_result", "atoms_restore_item", "atoms_get_audit_log",
    "atoms_verify_history",
    "atoms_list_suspect_links", "atoms_clear_suspect", "atoms_trace_matrix",
    "atoms_create_organization", "atoms_list_my_invitations", "atoms_accept_invitation",
    "atoms_decline_invitation", "atoms_invite_member", "atoms_list_members", "atoms_set_member_role",
    "atoms_remove_member", "atoms_create_project", "atoms_update_project", "atoms_archive_project",
    "atoms_get_org_history",
}  # fmt: skip
SERVER_ONLY_RPCS = {"atoms_check_rate_limit", "atoms_take_rate_limit_slot"}  # the server meters every call with them
JSON_TO_SQL = {"string": "text", "integer": "integer", "boolean": "boolean"}


def expected_sql_type(schema: dict[str, Any]) -> str:
    """The cast the server applies for a field (db.sql_argument), from the field's JSON Schema."""
    if schema.get("type") == "array":
        return "text[]" if schema.get("items", {}).get("type") == "string" else "json"
    if "enum" in schema or "pattern" in schema or "format" in schema:
        return "text"
    if schema.get("type") == "object":
        return "json"
    return JSON_TO_SQL[schema["type"]]


@pytest.fixture(scope="module")
def rpc_signatures(module_db: psycopg.Connection) -> dict[str, dict[str, str]]:
    db = module_db
    rows = db.execute(
        "select p.proname, a.name, pg_catalog.format_type(a.type, null) from pg_catalog.pg_proc p"
        " join pg_catalog.pg_namespace n on n.oid = p.pronamespace"
        " cross join lateral unnest(p.proargnames[1:p.pronargs], p.proargtypes::oid[]) as a (name, type)"
        " where n.nspname = 'public' and p.proname like 'atoms\\_%'"
    ).fetchall()
    names = db.execute(
        "select p.proname from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = 'public' and p.proname like 'atoms\\_%'"
    ).fetchall()
    signatures: dict[str, dict[str, str]] = {name: {} for (name,) in names}
    for proname, arg, sql_type in rows:
        signatures[proname][arg] = sql_type
    return signatures


def test_the_registry_holds_exactly_the_documented_tools() -> None:
    assert set(TOOLS_BY_NAME) == DOCUMENTED_TOOLS
    assert len(TOOLS) == len(DOCUMENTED_TOOLS)
    for spec in TOOLS:
        assert (spec.rpc is None) == (spec.kind == "status")
        assert spec.rpc is None or spec.rpc == spec.name


def test_every_rpc_exists_with_the_tools_parameters(rpc_signatures: dict[str, dict[str, str]]) -> None:
    problems = []
    for spec in TOOLS:
        if spec.rpc is None:
            continue
        if spec.rpc not in rpc_signatures:
            problems.append(f"{spec.rpc}: no such function in public")
            continue
        properties = spec.input_model.model_json_schema()["properties"]
        # Result arguments (the body window) shape the result in the server and never reach the RPC.
        expected = {
            name: expected_sql_type(schema) for name, schema in properties.items() if name not in RESULT_ARGUMENTS
        }
        if expected != rpc_signatures[spec.rpc]:
            problems.append(f"{spec.rpc}: tool {expected} != function {rpc_signatures[spec.rpc]}")
    assert not problems, "\n".join(problems)


def test_every_public_atoms_function_is_a_tool(rpc_signatures: dict[str, dict[str, str]]) -> None:
    tools = {spec.rpc for spec in TOOLS if spec.rpc}
    assert set(rpc_signatures) - SERVER_ONLY_RPCS == tools


def test_every_rpc_has_a_row_in_the_access_contract() -> None:
    contracted = set()
    for path in sorted((REPO_ROOT / "policies").glob("*.toml")):
        for row in tomllib.loads(path.read_text(encoding="utf-8")).get("rpc", []):
            contracted.add(row["function"])
    missing = sorted(f"public.{spec.rpc}" for spec in TOOLS if spec.rpc and f"public.{spec.rpc}" not in contracted)
    assert not missing, f"RPCs without a policies/ row: {missing}"
