"""Who may call the write RPCs: editors and admins write, a viewer is told which role it lacks, a project of
another organisation is "not found", callers without EXECUTE are refused by PostgreSQL itself, and the RPC
owner cannot reach another tenant's rows even when an RPC forgets its role check (defence in depth)."""

from __future__ import annotations

import json

import psycopg

from principals import ACME_PROJECT, GLOBEX_PROJECT, PRINCIPALS, Principal, act_as, as_principal
from writepath import counts, raises_sqlstate, rpc

P = ACME_PROJECT
WRITE_CALLS: dict[str, dict[str, object]] = {
    "atoms_create_item": {"project_id": P, "type": "requirement", "title": "rbac probe"},
    "atoms_update_item": {"project_id": P, "item_id": "REQ-001", "title": "renamed"},
    "atoms_delete_item": {"project_id": P, "item_id": "NOTE-001"},
    "atoms_link_items": {"project_id": P, "from_id": "TC-007", "to_id": "REQ-007", "type": "verifies", "action": "add"},
    "atoms_bulk_import": {"project_id": P, "items": [{"type": "note", "title": "bulk probe"}]},
    "atoms_record_test_result": {"project_id": P, "item_id": "TC-007", "result": "passed"},
}
EDITOR_OR_ADMIN = ("editor", "admin")


def test_editors_and_admins_can_call_every_write_tool(db: psycopg.Connection) -> None:
    for tool, args in WRITE_CALLS.items():
        for who in EDITOR_OR_ADMIN:
            with as_principal(db, PRINCIPALS[who]) as conn:
                assert isinstance(rpc(conn, tool, **args), dict), (tool, who)


def test_a_viewer_is_denied_every_write_with_both_roles_named(db: psycopg.Connection) -> None:
    before = counts(db)
    for tool, args in WRITE_CALLS.items():
        with as_principal(db, PRINCIPALS["viewer"]) as conn, raises_sqlstate(conn, "42501") as info:
            rpc(conn, tool, **args)
        message = str(info.value)
        assert "needs the editor role" in message and "you have viewer" in message, tool
    assert counts(db) == before


def test_a_project_the_caller_cannot_see_is_not_found(db: psycopg.Connection) -> None:
    for tool, args in WRITE_CALLS.items():
        for who in ("non_member", "other_org_admin"):
            with as_principal(db, PRINCIPALS[who]) as conn, raises_sqlstate(conn, "PT404") as info:
                rpc(conn, tool, **args)
            text = str(info.value).lower()
            assert "forbidden" not in text and "permission" not in text, (tool, who)


def test_roles_without_execute_are_refused_by_postgres(db: psycopg.Connection) -> None:
    calls = dict(WRITE_CALLS)
    calls["atoms_restore_item"] = {"project_id": P, "item_id": "REQ-001"}
    calls["atoms_verify_history"] = {"project_id": P}
    for tool, args in calls.items():
        for who in ("anon", "service_role", "gateway"):
            with as_principal(db, PRINCIPALS[who]) as conn, raises_sqlstate(conn, "42501") as info:
                rpc(conn, tool, **args)
            assert "permission denied for function" in str(info.value), (tool, who)


def test_a_signed_in_role_without_a_user_id_is_unauthenticated(db: psycopg.Connection) -> None:
    nobody = Principal("nobody", "authenticated")
    with as_principal(db, nobody) as conn, raises_sqlstate(conn, "28000"):
        rpc(conn, "atoms_create_item", **WRITE_CALLS["atoms_create_item"])


def test_an_admin_of_another_organisation_writes_in_its_own_project_only(db: psycopg.Connection) -> None:
    with as_principal(db, PRINCIPALS["other_org_admin"]) as conn:
        created = rpc(conn, "atoms_create_item", project_id=GLOBEX_PROJECT, type="note", title="globex note")
        assert created["project_id"] == GLOBEX_PROJECT
        with raises_sqlstate(conn, "PT404"):
            rpc(conn, "atoms_create_item", project_id=P, type="note", title="into acme")


def test_only_admins_restore(db: psycopg.Connection) -> None:
    with as_principal(db, PRINCIPALS["editor"]) as conn:
        rpc(conn, "atoms_delete_item", project_id=P, item_id="NOTE-002")
        with raises_sqlstate(conn, "42501") as info:
            rpc(conn, "atoms_restore_item", project_id=P, item_id="NOTE-002")
        assert "needs the admin role" in str(info.value) and "you have editor" in str(info.value)
    for who in ("viewer", "non_member", "other_org_admin"):
        with as_principal(db, PRINCIPALS[who]) as conn, raises_sqlstate(conn, "42501" if who == "viewer" else "PT404"):
            rpc(conn, "atoms_restore_item", project_id=P, item_id="NOTE-002")
    with as_principal(db, PRINCIPALS["admin"]) as conn:
        rpc(conn, "atoms_delete_item", project_id=P, item_id="NOTE-002")
        assert rpc(conn, "atoms_restore_item", project_id=P, item_id="NOTE-002")["restored"] is True


def test_every_member_can_verify_history_but_outsiders_cannot(db: psycopg.Connection) -> None:
    for who in ("viewer", "editor", "admin"):
        with as_principal(db, PRINCIPALS[who]) as conn:
            assert rpc(conn, "atoms_verify_history", project_id=P)["intact"] is True
    for outsider in ("non_member", "other_org_admin"):
        with as_principal(db, PRINCIPALS[outsider]) as conn, raises_sqlstate(conn, "PT404"):
            rpc(conn, "atoms_verify_history", project_id=P)


def test_write_rpcs_are_pinned_definers_owned_by_the_rpc_owner(db: psycopg.Connection) -> None:
    rows = db.execute(
        """
        select p.proname, p.prosecdef, pg_get_userbyid(p.proowner), p.proconfig,
          has_function_privilege('anon', p.oid, 'execute'), has_function_privilege('authenticated', p.oid, 'execute')
        from pg_proc as p where p.pronamespace = 'public'::regnamespace and p.proname like 'atoms\\_%%'
        """
    ).fetchall()
    mine = {r[0]: r for r in rows if r[0] in set(WRITE_CALLS) | {"atoms_restore_item", "atoms_verify_history"}}
    assert len(mine) == 8
    for name, definer, owner, config, anon_exec, auth_exec in mine.values():
        assert definer and owner == "atoms_rpc_owner" and config == ["search_path=pg_catalog, pg_temp"], name
        assert not anon_exec and auth_exec, name
    owner = db.execute("select rolcanlogin, rolbypassrls, rolsuper from pg_roles where rolname = 'atoms_rpc_owner'")
    assert owner.fetchone() == (False, False, False)


def test_a_faulty_rpc_owned_by_the_rpc_owner_still_cannot_write_into_another_tenant(db: psycopg.Connection) -> None:
    """A test-only definer function owned by atoms_rpc_owner that omits the role check: RLS refuses it."""
    editor = PRINCIPALS["editor"]  # Acme editor, attacking the Globex project
    with db.transaction(force_rollback=True):
        db.execute(
            """
            create function public.test_only_faulty_create(target_project uuid, target_org uuid) returns uuid
            language sql volatile security definer set search_path = ''
            as $$
              insert into public.items (org_id, project_id, key, item_type, title)
              values (target_org, target_project, 'REQ-900', 'requirement', 'smuggled')
              returning id
            $$
            """
        )
        db.execute("alter function public.test_only_faulty_create(uuid, uuid) owner to atoms_rpc_owner")
        db.execute("grant execute on function public.test_only_faulty_create(uuid, uuid) to authenticated")
        act_as(db, editor)
        globex_org = "b0000000-0000-4000-8000-000000000001"
        with raises_sqlstate(db, "42501") as info:
            db.execute("select public.test_only_faulty_create(%s, %s)", (GLOBEX_PROJECT, globex_org))
        assert "row-level security" in str(info.value)
        # The same faulty function in the caller's own project goes through: RLS is what stopped it above.
        acme_org = "a0000000-0000-4000-8000-000000000001"
        assert db.execute("select public.test_only_faulty_create(%s, %s)", (P, acme_org)).fetchone()[0]
        # And the owner cannot read another tenant's rows either.
        db.execute("select set_config('role', 'atoms_rpc_owner', true)")
        db.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(editor.claims),))
        seen = db.execute("select count(*) from public.items where project_id = %s", (GLOBEX_PROJECT,)).fetchone()[0]
        assert seen == 0
    assert db.execute("select count(*) from public.items where key = 'REQ-900'").fetchone()[0] == 0
