"""Cross-tenant isolation of every read RPC: a member of Acme naming Globex's project (or its item keys) gets
PT404 and never a Globex row, and a Globex user sees nothing of Acme."""

from __future__ import annotations

import json

import psycopg
import pytest

from principals import ACME_PROJECT, GLOBEX_PROJECT, GLOBEX_VIEWER, PRINCIPALS, Principal, as_principal
from read_fixtures import rpc, rpc_error

ACME_MEMBERS = [PRINCIPALS[name] for name in ("viewer", "editor", "admin")]
GLOBEX_USERS = [PRINCIPALS["other_org_admin"], GLOBEX_VIEWER]


def project_calls(project_id: str) -> list[tuple[str, dict[str, object]]]:
    """One call of every project-scoped read RPC, naming items that exist in both seeded projects."""
    return [
        ("atoms_list_items", {"project_id": project_id}),
        ("atoms_browse", {"project_id": project_id, "type": "requirement"}),
        ("atoms_get_item", {"project_id": project_id, "item_id": "REQ-001"}),
        ("atoms_search", {"project_id": project_id, "query": "REQ-001 OR alarm OR brake"}),
        ("atoms_get_coverage", {"project_id": project_id}),
        ("atoms_get_history", {"project_id": project_id, "item_id": "REQ-001"}),
        ("atoms_export_mermaid", {"project_id": project_id, "root_item_id": "REQ-001"}),
        ("atoms_trace", {"project_id": project_id, "item_id": "TC-001", "direction": "both"}),
        ("atoms_project_summary", {"project_id": project_id}),
    ]


@pytest.mark.parametrize(("function", "args"), project_calls(GLOBEX_PROJECT))
@pytest.mark.parametrize("member", ACME_MEMBERS, ids=lambda p: p.name)
def test_an_acme_member_naming_a_globex_project_gets_not_found(
    module_db: psycopg.Connection, member: Principal, function: str, args: dict[str, object]
) -> None:
    assert rpc_error(module_db, member, function, **args) == "PT404"


@pytest.mark.parametrize(("function", "args"), project_calls(ACME_PROJECT))
@pytest.mark.parametrize("user", GLOBEX_USERS, ids=lambda p: p.name)
def test_a_globex_user_naming_an_acme_project_gets_not_found(
    module_db: psycopg.Connection, user: Principal, function: str, args: dict[str, object]
) -> None:
    assert rpc_error(module_db, user, function, **args) == "PT404"


@pytest.mark.parametrize(("function", "args"), project_calls(ACME_PROJECT))
def test_acme_reads_never_contain_a_globex_row(
    module_db: psycopg.Connection, function: str, args: dict[str, object]
) -> None:
    globex_texts = [
        row[0]
        for row in module_db.execute(
            "select title from public.items where project_id = %s union all select id::text from public.items"
            " where project_id = %s union all select name from public.projects where id = %s",
            (GLOBEX_PROJECT, GLOBEX_PROJECT, GLOBEX_PROJECT),
        )
    ]
    dumped = json.dumps(rpc(module_db, PRINCIPALS["viewer"], function, **args), ensure_ascii=False)
    leaked = [text for text in globex_texts if text in dumped]
    assert leaked == [], f"{function} returned Globex data"


def test_list_projects_shows_each_user_only_their_organisation(module_db: psycopg.Connection) -> None:
    acme = rpc(module_db, PRINCIPALS["viewer"], "atoms_list_projects")
    globex = rpc(module_db, GLOBEX_VIEWER, "atoms_list_projects")
    assert [p["id"] for p in acme["data"]] == [ACME_PROJECT]
    assert [p["id"] for p in globex["data"]] == [GLOBEX_PROJECT]
    assert globex["data"][0]["org_name"] == "Globex Medical"


def test_a_search_for_a_globex_word_in_acme_finds_nothing(module_db: psycopg.Connection) -> None:
    in_acme = rpc(module_db, PRINCIPALS["viewer"], "atoms_search", project_id=ACME_PROJECT, query="occlusion")
    in_globex = rpc(module_db, GLOBEX_VIEWER, "atoms_search", project_id=GLOBEX_PROJECT, query="occlusion")
    assert in_acme["meta"]["total_count"] == 0
    assert [i["id"] for i in in_globex["data"]] == ["REQ-001", "TC-001"]


def test_the_search_helper_is_closed_to_users_and_empty_for_a_foreign_project(module_db: psycopg.Connection) -> None:
    """private.search_item_matches runs as the table owner, so it checks the caller's project role itself."""
    call = "select count(*) from private.search_item_matches(%s, to_tsquery('private.atoms_text', 'occlusion'))"
    with pytest.raises(psycopg.errors.InsufficientPrivilege), as_principal(module_db, PRINCIPALS["viewer"]) as conn:
        conn.execute(call, (GLOBEX_PROJECT,))
    with as_principal(module_db, PRINCIPALS["viewer"]) as conn:
        conn.execute("set local role atoms_rpc_owner")
        assert conn.execute(call, (GLOBEX_PROJECT,)).fetchone()[0] == 0
    with as_principal(module_db, GLOBEX_VIEWER) as conn:
        conn.execute("set local role atoms_rpc_owner")
        assert conn.execute(call, (GLOBEX_PROJECT,)).fetchone()[0] == 2


@pytest.mark.parametrize("principal", ["anon", "service_role", "gateway"])
def test_roles_without_a_user_cannot_call_any_read_rpc(module_db: psycopg.Connection, principal: str) -> None:
    for function, args in [*project_calls(ACME_PROJECT), ("atoms_list_projects", {})]:
        assert rpc_error(module_db, PRINCIPALS[principal], function, **args) == "42501", function
