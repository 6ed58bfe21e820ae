"""The team RPCs in SQL, as PostgREST would call them: organisations, invitations, members, projects and the
organisation's history chain; every refusal writes nothing."""

from __future__ import annotations

import hashlib
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Json

from principals import ACME_ORG, ACME_PROJECT, PRINCIPALS, Principal, act_as, as_principal
from writepath import raises_sqlstate

ADMIN = PRINCIPALS["admin"]
EDITOR = PRINCIPALS["editor"]
VIEWER = PRINCIPALS["viewer"]
OUTSIDER = PRINCIPALS["non_member"]
GLOBEX_ADMIN = PRINCIPALS["other_org_admin"]
SEED_INVITATION = "a0000000-0000-4000-8000-0000000001e1"
TEAM_TABLES = (
    "public.organizations",
    "public.organization_members",
    "public.organization_invitations",
    "public.projects",
    "public.change_history",
)


def rpc(conn: psycopg.Connection, function: str, /, **args: Any) -> Any:
    """``select public.<function>(arg => value, ...)``: the jsonb result (dict arguments as json, as the shim sends)."""
    query = sql.SQL("select public.{}({})").format(
        sql.Identifier(function), sql.SQL(", ").join(sql.SQL("{} => %s").format(sql.Identifier(k)) for k in args)
    )
    return conn.execute(query, [Json(v) if isinstance(v, dict) else v for v in args.values()]).fetchone()[0]


def add_user(db: psycopg.Connection, email: str, *, confirmed: bool = True, sso: bool = False) -> Principal:
    """A user in auth.users (as Supabase Auth would create it), and the principal acting as them."""
    user_id = str(uuid.uuid4())
    db.execute(
        "insert into auth.users (id, aud, role, email, email_confirmed_at, is_sso_user, raw_user_meta_data)"
        " values (%s, 'authenticated', 'authenticated', %s, case when %s then now() end, %s, '{}')",
        (user_id, email, confirmed, sso),
    )
    return Principal(email, "authenticated", user_id, email)


def team_counts(db: psycopg.Connection) -> dict[str, int]:
    return {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in TEAM_TABLES}  # noqa: S608


def call(db: psycopg.Connection, who: Principal, function: str, /, **args: Any) -> Any:
    """One RPC in its own committed transaction as ``who``."""
    with db.transaction():
        act_as(db, who)
        return rpc(db, function, **args)


def refused(db: psycopg.Connection, who: Principal, sqlstate: str, function: str, /, **args: Any) -> str:
    """The RPC is refused with ``sqlstate`` and leaves every team table as it was; returns the message."""
    before = team_counts(db)
    with db.transaction(force_rollback=True):
        act_as(db, who)
        with raises_sqlstate(db, sqlstate) as info:
            rpc(db, function, **args)
    assert team_counts(db) == before
    return str(info.value)


def org_events(db: psycopg.Connection, org: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "select event_type::text, changed_by::text, actor, old_values, new_values from public.change_history"
        " where scope = 'org' and scope_id = %s order by chain_seq",
        (org,),
    ).fetchall()
    return [dict(zip(("event", "by", "actor", "old", "new"), row, strict=True)) for row in rows]


def new_org(db: psycopg.Connection, founder: Principal, name: str = "PumpCo") -> str:
    return call(db, founder, "atoms_create_organization", name=name)["org_id"]


# ---- organisations ----


def test_any_signed_in_user_founds_an_organisation_as_its_first_admin(db: psycopg.Connection) -> None:
    created = call(db, OUTSIDER, "atoms_create_organization", name="  PumpCo QA  ")
    assert (created["name"], created["role"]) == ("PumpCo QA", "admin")
    role = db.execute(
        "select role::text from public.organization_members where org_id = %s and user_id = %s",
        (created["org_id"], OUTSIDER.user_id),
    ).fetchone()
    assert role == ("admin",)
    assert [(e["event"], e["by"], e["actor"]) for e in org_events(db, created["org_id"])] == [
        ("organization_created", OUTSIDER.user_id, "user"),
        ("member_added", OUTSIDER.user_id, "user"),
    ]


@pytest.mark.parametrize("name", ["", "   ", "x" * 201, "Pump\x01Co", "Pump\u202eCo", None])
def test_a_bad_organisation_name_is_refused_and_writes_nothing(db: psycopg.Connection, name: str | None) -> None:
    refused(db, OUTSIDER, "22023", "atoms_create_organization", name=name)


def test_anon_can_call_no_team_function(db: psycopg.Connection) -> None:
    for name, args in {
        "atoms_create_organization": {"name": "x"},
        "atoms_list_my_invitations": {},
        "atoms_accept_invitation": {"invitation_id": SEED_INVITATION},
        "atoms_invite_member": {"org_id": ACME_ORG, "email": "a@b.test", "role": "viewer"},
        "atoms_get_org_history": {"org_id": ACME_ORG},
    }.items():
        refused(db, PRINCIPALS["anon"], "42501", name, **args)


# ---- invitations ----


def test_the_inviter_gets_the_same_answer_whether_or_not_the_email_has_an_account(db: psycopg.Connection) -> None:
    with_account = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="Editor@Globex.test", role="editor")
    without = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="nobody@pumpco.test", role="editor")

    def shape(answer: dict[str, Any]) -> dict[str, Any]:
        drop = {"invitation_id", "email", "expires_at"}
        return {
            k: v.replace(answer["email"], "EMAIL") if k == "message" else v for k, v in answer.items() if k not in drop
        }

    assert with_account["email"] == "editor@globex.test"
    assert shape(with_account) == shape(without)
    assert without["status"] == "pending" and without["changed"] is True
    # Nobody joined: every invitation is pending until accepted.
    assert (
        db.execute("select count(*) from public.organization_members where org_id = %s", (ACME_ORG,)).fetchone()[0] == 3
    )


def test_invitee_emails_enter_the_history_chain_only_as_a_salted_digest(db: psycopg.Connection) -> None:
    answer = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="ghost@pumpco.test", role="viewer")
    history_text = db.execute("select string_agg(to_jsonb(h)::text, ' ') from public.change_history as h").fetchone()[0]
    assert "ghost@pumpco.test" not in history_text
    salt, email = db.execute(
        "select email_salt, email from public.organization_invitations where id = %s", (answer["invitation_id"],)
    ).fetchone()
    assert email == "ghost@pumpco.test"
    event = org_events(db, ACME_ORG)[-1]
    assert event["event"] == "invitation_created"
    assert event["new"]["email_digest"] == hashlib.sha256((salt + email).encode()).hexdigest()


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plain",
        "@pumpco.test",
        "a@",
        "a@b",
        "a b@pumpco.test",
        "a@@pumpco.test",
        "a@pumpco..test",
        "a\x01@pumpco.test",
        "x" * 65 + "@pumpco.test",
        "a@" + "b" * 250 + ".test",
        "a@pumpco.test'; drop table x;--",
        None,
    ],
)
def test_a_malformed_or_overlong_email_is_refused(db: psycopg.Connection, email: str | None) -> None:
    refused(db, ADMIN, "22023", "atoms_invite_member", org_id=ACME_ORG, email=email, role="viewer")


def test_a_bad_role_is_refused(db: psycopg.Connection) -> None:
    refused(db, ADMIN, "22023", "atoms_invite_member", org_id=ACME_ORG, email="a@pumpco.test", role="owner")


def test_inviting_an_existing_member_changes_nothing_and_says_so(db: psycopg.Connection) -> None:
    before = team_counts(db)
    answer = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="VIEWER@acme.test", role="admin")
    assert (answer["status"], answer["changed"], answer["role"]) == ("member", False, "viewer")
    assert "already a member" in answer["message"]
    assert team_counts(db) == before


def test_inviting_a_pending_email_again_changes_nothing(db: psycopg.Connection) -> None:
    first = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="new@pumpco.test", role="viewer")
    before = team_counts(db)
    again = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="NEW@pumpco.test", role="editor")
    assert (again["invitation_id"], again["changed"]) == (first["invitation_id"], False)
    assert team_counts(db) == before


def test_only_admins_of_the_organisation_invite(db: psycopg.Connection) -> None:
    args = {"org_id": ACME_ORG, "email": "x@pumpco.test", "role": "viewer"}
    assert "needs the admin role" in refused(db, VIEWER, "42501", "atoms_invite_member", **args)
    refused(db, EDITOR, "42501", "atoms_invite_member", **args)
    # Another organisation is not found, never forbidden; so is one that does not exist.
    message = refused(db, GLOBEX_ADMIN, "PT404", "atoms_invite_member", **args)
    assert "not found" in message
    refused(db, GLOBEX_ADMIN, "PT404", "atoms_invite_member", **{**args, "org_id": str(uuid.uuid4())})
    refused(db, OUTSIDER, "PT404", "atoms_invite_member", **args)


def test_the_invitee_lists_accepts_and_joins_with_the_invited_role(db: psycopg.Connection) -> None:
    listed = call(db, OUTSIDER, "atoms_list_my_invitations")
    assert [(i["invitation_id"], i["org_name"], i["role"]) for i in listed["data"]] == [
        (SEED_INVITATION, "Acme Automotive", "viewer")
    ]
    assert listed["data"][0]["invited_by_email"] == "admin@acme.test"
    accepted = call(db, OUTSIDER, "atoms_accept_invitation", invitation_id=SEED_INVITATION)
    assert (accepted["status"], accepted["role"], accepted["changed"]) == ("accepted", "viewer", True)
    with as_principal(db, OUTSIDER):
        projects = rpc(db, "atoms_list_projects")["data"]
    assert [(p["id"], p["role"]) for p in projects] == [(ACME_PROJECT, "viewer")]
    assert [e["event"] for e in org_events(db, ACME_ORG)[-2:]] == ["member_added", "invitation_accepted"]
    # Answered: accepting or declining again is a conflict, and the list is empty.
    refused(db, OUTSIDER, "PT409", "atoms_accept_invitation", invitation_id=SEED_INVITATION)
    refused(db, OUTSIDER, "PT409", "atoms_decline_invitation", invitation_id=SEED_INVITATION)
    assert call(db, OUTSIDER, "atoms_list_my_invitations")["data"] == []


def test_someone_elses_invitation_is_not_found(db: psycopg.Connection) -> None:
    for who in (VIEWER, ADMIN, GLOBEX_ADMIN):
        refused(db, who, "PT404", "atoms_accept_invitation", invitation_id=SEED_INVITATION)
        refused(db, who, "PT404", "atoms_decline_invitation", invitation_id=SEED_INVITATION)
    refused(db, OUTSIDER, "PT404", "atoms_accept_invitation", invitation_id=str(uuid.uuid4()))
    refused(db, OUTSIDER, "22023", "atoms_accept_invitation", invitation_id="not-a-uuid")


def test_a_declined_invitation_cannot_be_accepted(db: psycopg.Connection) -> None:
    declined = call(db, OUTSIDER, "atoms_decline_invitation", invitation_id=SEED_INVITATION)
    assert declined["status"] == "declined"
    assert "already declined" in refused(
        db, OUTSIDER, "PT409", "atoms_accept_invitation", invitation_id=SEED_INVITATION
    )
    assert org_events(db, ACME_ORG)[-1]["event"] == "invitation_declined"


def test_an_expired_invitation_cannot_be_accepted(db: psycopg.Connection) -> None:
    db.execute(
        "update public.organization_invitations set created_at = now() - interval '15 days',"
        " expires_at = now() - interval '1 day' where id = %s",
        (SEED_INVITATION,),
    )
    assert "expired" in refused(db, OUTSIDER, "PT409", "atoms_accept_invitation", invitation_id=SEED_INVITATION)
    assert call(db, OUTSIDER, "atoms_list_my_invitations")["data"] == []
    # A new invitation to the same email closes the stale one and is acceptable.
    again = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="outsider@example.test", role="editor")
    assert again["changed"] is True
    status = db.execute("select status from public.organization_invitations where id = %s", (SEED_INVITATION,))
    assert status.fetchone() == ("expired",)
    assert call(db, OUTSIDER, "atoms_accept_invitation", invitation_id=again["invitation_id"])["role"] == "editor"


def test_invitations_expire_after_fourteen_days_by_default(db: psycopg.Connection) -> None:
    days = db.execute(
        "select extract(epoch from expires_at - created_at) / 86400 from public.organization_invitations where id = %s",
        (SEED_INVITATION,),
    ).fetchone()[0]
    assert days == 14


def test_an_unconfirmed_email_cannot_accept(db: psycopg.Connection) -> None:
    unconfirmed = add_user(db, "late@pumpco.test", confirmed=False)
    answer = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="late@pumpco.test", role="viewer")
    assert call(db, unconfirmed, "atoms_list_my_invitations")["data"] == []
    message = refused(db, unconfirmed, "42501", "atoms_accept_invitation", invitation_id=answer["invitation_id"])
    assert "not confirmed" in message
    # The same message whether or not the invitation exists: nothing to probe.
    assert "not confirmed" in refused(
        db, unconfirmed, "42501", "atoms_accept_invitation", invitation_id=str(uuid.uuid4())
    )


def test_an_sso_user_and_a_password_user_with_the_same_confirmed_email_are_both_the_invitee(
    db: psycopg.Connection,
) -> None:
    password_user = add_user(db, "dana@pumpco.test")
    sso_user = add_user(db, "Dana@PumpCo.test", sso=True)
    first = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="dana@pumpco.test", role="viewer")
    assert [i["invitation_id"] for i in call(db, password_user, "atoms_list_my_invitations")["data"]] == [
        first["invitation_id"]
    ]
    assert call(db, sso_user, "atoms_accept_invitation", invitation_id=first["invitation_id"])["changed"] is True
    assert call(db, sso_user, "atoms_list_projects")["meta"]["total_count"] == 1


# ---- members ----


def test_admins_list_members_with_emails_and_pending_invitations(db: psycopg.Connection) -> None:
    listed = call(db, ADMIN, "atoms_list_members", org_id=ACME_ORG)
    assert [(m["email"], m["role"]) for m in listed["members"]] == [
        ("admin@acme.test", "admin"),
        ("editor@acme.test", "editor"),
        ("viewer@acme.test", "viewer"),
    ]
    assert [(i["email"], i["role"]) for i in listed["invitations"]] == [("outsider@example.test", "viewer")]
    assert listed["meta"] == {"total_count": 3, "limit": 100, "offset": 0, "has_more": False}


def test_who_made_bob_an_editor_is_one_call_of_the_org_history(db: psycopg.Connection) -> None:
    changed = call(db, ADMIN, "atoms_set_member_role", org_id=ACME_ORG, user_id=VIEWER.user_id, role="editor")
    assert (changed["old_role"], changed["role"], changed["changed"]) == ("viewer", "editor", True)
    newest = call(db, ADMIN, "atoms_get_org_history", org_id=ACME_ORG, limit=1)
    (event,) = newest["data"]
    assert event["event_type"] == "member_role_changed"
    assert (event["changed_by_email"], event["subject_email"], event["actor"]) == (
        "admin@acme.test",
        "viewer@acme.test",
        "user",
    )
    assert (event["old_values"]["role"], event["new_values"]["role"]) == ("viewer", "editor")
    assert newest["meta"]["has_more"] is True
    assert call(db, ADMIN, "atoms_verify_history", org_id=ACME_ORG)["intact"] is True


def test_setting_the_same_role_changes_nothing(db: psycopg.Connection) -> None:
    before = team_counts(db)
    same = call(db, ADMIN, "atoms_set_member_role", org_id=ACME_ORG, user_id=EDITOR.user_id, role="editor")
    assert same["changed"] is False
    assert team_counts(db) == before


def test_the_last_admin_can_neither_be_demoted_nor_removed_not_even_by_themself(db: psycopg.Connection) -> None:
    message = refused(
        db, ADMIN, "PT409", "atoms_set_member_role", org_id=ACME_ORG, user_id=ADMIN.user_id, role="editor"
    )
    assert "last admin" in message
    refused(db, ADMIN, "PT409", "atoms_remove_member", org_id=ACME_ORG, user_id=ADMIN.user_id)
    # With a second admin, the first may step down.
    call(db, ADMIN, "atoms_set_member_role", org_id=ACME_ORG, user_id=EDITOR.user_id, role="admin")
    assert call(db, ADMIN, "atoms_remove_member", org_id=ACME_ORG, user_id=ADMIN.user_id)["removed"] is True
    refused(db, EDITOR, "PT409", "atoms_remove_member", org_id=ACME_ORG, user_id=EDITOR.user_id)


def test_acting_on_a_non_member_or_another_organisations_member_is_not_found(db: psycopg.Connection) -> None:
    refused(db, ADMIN, "PT404", "atoms_set_member_role", org_id=ACME_ORG, user_id=GLOBEX_ADMIN.user_id, role="viewer")
    refused(db, ADMIN, "PT404", "atoms_remove_member", org_id=ACME_ORG, user_id=str(uuid.uuid4()))
    refused(db, GLOBEX_ADMIN, "PT404", "atoms_remove_member", org_id=ACME_ORG, user_id=VIEWER.user_id)
    refused(db, GLOBEX_ADMIN, "PT404", "atoms_list_members", org_id=ACME_ORG)
    refused(db, GLOBEX_ADMIN, "PT404", "atoms_get_org_history", org_id=ACME_ORG)


def test_a_removed_member_is_refused_at_their_next_call(db: psycopg.Connection) -> None:
    call(db, ADMIN, "atoms_remove_member", org_id=ACME_ORG, user_id=EDITOR.user_id)
    refused(db, EDITOR, "PT404", "atoms_create_item", project_id=ACME_PROJECT, type="note", title="still here?")
    with as_principal(db, EDITOR):
        assert rpc(db, "atoms_list_projects")["data"] == []
    assert org_events(db, ACME_ORG)[-1]["event"] == "member_removed"


@pytest.mark.parametrize("who", ["viewer", "editor"])
def test_viewers_and_editors_are_refused_every_admin_tool(db: psycopg.Connection, who: str) -> None:
    principal = PRINCIPALS[who]
    calls: dict[str, dict[str, Any]] = {
        "atoms_invite_member": {"org_id": ACME_ORG, "email": "a@pumpco.test", "role": "viewer"},
        "atoms_list_members": {"org_id": ACME_ORG},
        "atoms_set_member_role": {"org_id": ACME_ORG, "user_id": principal.user_id, "role": "admin"},
        "atoms_remove_member": {"org_id": ACME_ORG, "user_id": ADMIN.user_id},
        "atoms_create_project": {"org_id": ACME_ORG, "name": "Rogue"},
        "atoms_update_project": {"project_id": ACME_PROJECT, "name": "Rogue"},
        "atoms_archive_project": {"project_id": ACME_PROJECT, "archived": True},
        "atoms_get_org_history": {"org_id": ACME_ORG},
        "atoms_get_audit_log": {"org_id": ACME_ORG},
        "atoms_verify_history": {"org_id": ACME_ORG},
    }
    for name, args in calls.items():
        refused(db, principal, "42501", name, **args)


# ---- projects ----


def test_admins_create_projects_members_see_them(db: psycopg.Connection) -> None:
    created = call(db, ADMIN, "atoms_create_project", org_id=ACME_ORG, name="Infusion pump", description="IEC 62304")
    assert created["settings"] == {"require_change_reason": False}
    with as_principal(db, VIEWER):
        names = [p["name"] for p in rpc(db, "atoms_list_projects")["data"]]
    assert "Infusion pump" in names
    assert org_events(db, ACME_ORG)[-1]["event"] == "project_created"


def test_archived_projects_are_read_only_and_listed_only_on_request(db: psycopg.Connection) -> None:
    archived = call(db, ADMIN, "atoms_archive_project", project_id=ACME_PROJECT, archived=True)
    assert (archived["archived"], archived["changed"]) == (True, True)
    refused(db, EDITOR, "PT409", "atoms_create_item", project_id=ACME_PROJECT, type="note", title="late note")
    refused(db, ADMIN, "PT409", "atoms_update_project", project_id=ACME_PROJECT, name="Renamed")
    with as_principal(db, VIEWER):
        assert rpc(db, "atoms_list_projects")["data"] == []
        listed = rpc(db, "atoms_list_projects", include_archived=True)["data"]
        assert [(p["id"], p["archived"]) for p in listed] == [(ACME_PROJECT, True)]
        assert rpc(db, "atoms_get_item", project_id=ACME_PROJECT, item_id="REQ-001")["id"] == "REQ-001"
    again = call(db, ADMIN, "atoms_archive_project", project_id=ACME_PROJECT, archived=True)
    assert again["changed"] is False
    call(db, ADMIN, "atoms_archive_project", project_id=ACME_PROJECT, archived=False)
    assert call(db, EDITOR, "atoms_create_item", project_id=ACME_PROJECT, type="note", title="back")["id"]
    assert [e["event"] for e in org_events(db, ACME_ORG)[-2:]] == ["project_archived", "project_unarchived"]


@pytest.mark.parametrize(
    "settings",
    [
        {"require_change_reason": "yes"},
        {"require_change_reason": 1},
        {"colour": "red"},
        {"require_change_reason": None},
    ],
)
def test_project_settings_are_validated_by_one_function(db: psycopg.Connection, settings: dict[str, Any]) -> None:
    refused(db, ADMIN, "22023", "atoms_update_project", project_id=ACME_PROJECT, settings=settings)


def test_a_settings_change_is_recorded_and_read_with_defaults(db: psycopg.Connection) -> None:
    updated = call(db, ADMIN, "atoms_update_project", project_id=ACME_PROJECT, settings={"require_change_reason": True})
    assert (updated["settings"], updated["updated_fields"]) == ({"require_change_reason": True}, ["settings"])
    event = org_events(db, ACME_ORG)[-1]
    assert (event["event"], event["new"]["settings"]) == ("settings_changed", {"require_change_reason": True})
    with as_principal(db, VIEWER):
        assert db.execute("select private.project_settings(%s)", (ACME_PROJECT,)).fetchone()[0] == {
            "require_change_reason": True
        }
    refused(db, ADMIN, "22023", "atoms_update_project", project_id=ACME_PROJECT)


def test_item_writes_leave_no_project_event(db: psycopg.Connection) -> None:
    before = len(org_events(db, ACME_ORG))
    call(db, EDITOR, "atoms_create_item", project_id=ACME_PROJECT, type="note", title="n")
    assert len(org_events(db, ACME_ORG)) == before


def test_the_org_chain_verifies_and_a_tampered_row_is_found(db: psycopg.Connection) -> None:
    call(db, ADMIN, "atoms_set_member_role", org_id=ACME_ORG, user_id=VIEWER.user_id, role="editor")
    assert call(db, ADMIN, "atoms_verify_history", org_id=ACME_ORG)["intact"] is True
    db.execute("set session_replication_role = replica")
    db.execute(
        "update public.change_history set new_values = jsonb_set(new_values, '{role}', '\"admin\"')"
        " where scope = 'org' and scope_id = %s and event_type = 'member_role_changed'",
        (ACME_ORG,),
    )
    db.execute("set session_replication_role = origin")
    verdict = call(db, ADMIN, "atoms_verify_history", org_id=ACME_ORG)
    assert verdict["intact"] is False
    assert "row_hash" in verdict["first_broken"]["reason"]
    refused(db, ADMIN, "22023", "atoms_verify_history", org_id=ACME_ORG, project_id=ACME_PROJECT)


def test_two_admins_demoting_each_other_at_once_leave_one_admin(db: psycopg.Connection, db_url: str) -> None:
    call(db, ADMIN, "atoms_set_member_role", org_id=ACME_ORG, user_id=EDITOR.user_id, role="admin")
    barrier = threading.Barrier(2)

    def demote(who: Principal, other: Principal) -> str:
        with psycopg.connect(db_url, autocommit=True) as conn:
            barrier.wait(timeout=30)
            try:
                with conn.transaction():
                    act_as(conn, who)
                    rpc(conn, "atoms_set_member_role", org_id=ACME_ORG, user_id=other.user_id, role="viewer")
            except psycopg.Error as error:
                return error.sqlstate or "?"
            return "ok"

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = sorted(pool.map(lambda pair: demote(*pair), [(ADMIN, EDITOR), (EDITOR, ADMIN)]))
    # The second to take the organisation's lock is no longer admin (42501), or is the last one (PT409).
    assert outcomes[0] in ("42501", "PT409") and outcomes[1] == "ok", outcomes
    admins = db.execute(
        "select count(*) from public.organization_members where org_id = %s and role = 'admin'", (ACME_ORG,)
    ).fetchone()[0]
    assert admins == 1


def test_every_team_rpc_answers_in_the_shape_of_its_result_model(db: psycopg.Connection) -> None:
    from atoms_mcp.core import team_models as tm

    created = call(db, OUTSIDER, "atoms_create_organization", name="Shapes")
    tm.CreateOrganizationResult.model_validate(created)
    for invitation in call(db, OUTSIDER, "atoms_list_my_invitations")["data"]:
        tm.MyInvitation.model_validate(invitation)
    tm.InviteMemberResult.model_validate(
        call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="shape@pumpco.test", role="viewer")
    )
    tm.InviteMemberResult.model_validate(
        call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email="viewer@acme.test", role="viewer")
    )
    tm.ListMembersResult.model_validate(call(db, ADMIN, "atoms_list_members", org_id=ACME_ORG))
    tm.MemberChangeResult.model_validate(
        call(db, ADMIN, "atoms_set_member_role", org_id=ACME_ORG, user_id=VIEWER.user_id, role="editor")
    )
    tm.MemberChangeResult.model_validate(
        call(db, ADMIN, "atoms_remove_member", org_id=ACME_ORG, user_id=VIEWER.user_id)
    )
    tm.ProjectResult.model_validate(call(db, ADMIN, "atoms_create_project", org_id=ACME_ORG, name="Shapes"))
    tm.ProjectResult.model_validate(call(db, ADMIN, "atoms_update_project", project_id=ACME_PROJECT, name="Shapes"))
    tm.ProjectResult.model_validate(call(db, ADMIN, "atoms_archive_project", project_id=ACME_PROJECT, archived=True))
    for event in call(db, ADMIN, "atoms_get_org_history", org_id=ACME_ORG, limit=200)["data"]:
        tm.OrgHistoryEvent.model_validate(event)
    tm.AcceptInvitationResult.model_validate(
        call(db, OUTSIDER, "atoms_accept_invitation", invitation_id=SEED_INVITATION)
    )
    other = add_user(db, "shape.decliner@pumpco.test")
    invited = call(db, ADMIN, "atoms_invite_member", org_id=ACME_ORG, email=other.email, role="viewer")
    tm.DeclineInvitationResult.model_validate(
        call(db, other, "atoms_decline_invitation", invitation_id=invited["invitation_id"])
    )
