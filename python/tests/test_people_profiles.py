"""Profiles: kept from Supabase Auth by a trigger that never refuses a sign-up, readable only inside the
organisations a person belongs or belonged to, left as a tombstone when the account is deleted (memberships end,
records stay), and erasable by service_role afterwards."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from people import delete_account, member, new_member, profile, sign_up, visible_profiles
from principals import ACME_ORG, ACME_PROJECT, GLOBEX_ORG, PRINCIPALS, act_as, as_principal
from writepath import raises_sqlstate, rpc

ACME_PEOPLE = {PRINCIPALS[n].user_id for n in ("admin", "editor", "viewer")}
GLOBEX_PEOPLE = {
    "b0000000-0000-4000-8000-0000000000b1",
    "b0000000-0000-4000-8000-0000000000b2",
    "b0000000-0000-4000-8000-0000000000b3",
}
# What no stored name or email may contain: controls, separators, bidirectional formatting, invisible characters.
UNSHOWABLE = re.compile(
    "[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]"
)


# ---- sign-up ----


def test_sign_up_creates_the_profile_from_the_account(db: psycopg.Connection) -> None:
    user_id = sign_up(db, "new@example.test", {"full_name": "  Nora   New ", "name": "ignored"})
    assert profile(db, user_id) == {
        "email": "new@example.test",
        "display_name": "Nora New",
        "deleted": False,
        "redacted": False,
    }


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        pytest.param({"name": "Eve\u202eelbaT"}, "Eve elbaT", id="right-to-left override"),
        pytest.param({"name": "\u2066Mallory\u2069\u200f"}, "Mallory", id="isolates and marks"),
        pytest.param({"name": "Bob\x1b[31mRED\x07"}, "Bob [31mRED", id="terminal escape"),
        pytest.param({"name": "line\nbreak\r\nand\ttab\u2028sep"}, "line break and tab sep", id="line breaks"),
        pytest.param({"name": "zero\u200bwidth\ufeff"}, "zero width", id="zero width"),
        pytest.param({"name": "x" * 100_000}, "x" * 200, id="100k characters"),
        pytest.param({"name": "'); drop table public.profiles; --"}, "'); drop table public.profiles; --", id="sql"),
        pytest.param({"name": "<img src=x onerror=alert(1)>"}, "<img src=x onerror=alert(1)>", id="html"),
        pytest.param({"name": "\u0001\u0002\u200b"}, None, id="nothing left"),
        pytest.param({"name": {"first": "Ann"}}, None, id="object"),
        pytest.param({"name": 42, "full_name": ["a"]}, None, id="number and array"),
        pytest.param({"display_name": "", "full_name": " ", "name": "Kept"}, "Kept", id="blank fallbacks"),
        pytest.param(["not", "an", "object"], None, id="metadata array"),
        pytest.param("just a string", None, id="metadata string"),
        pytest.param(None, None, id="no metadata"),
        pytest.param({"name": "👩🏽‍🔬 Zoë Ångström 李小龍 محمد"}, "👩🏽‍🔬 Zoë Ångström 李小龍 محمد", id="unicode kept"),
    ],
)
def test_a_sign_up_with_a_hostile_name_still_succeeds(db: psycopg.Connection, metadata: Any, expected: str) -> None:
    user_id = sign_up(db, "hostile@example.test", metadata)
    stored = profile(db, user_id)
    assert stored is not None and stored["display_name"] == expected
    assert stored["email"] == "hostile@example.test"


def test_a_hostile_email_is_cleaned(db: psycopg.Connection) -> None:
    user_id = sign_up(db, "a\u202eb\x01@example.test" + "x" * 200, {"name": "A"})
    stored = profile(db, user_id)
    assert stored is not None
    assert not UNSHOWABLE.search(stored["email"]) and stored["email"].startswith("a b @example.test")


def test_a_phone_only_sign_up_has_no_email(db: psycopg.Connection) -> None:
    user_id = sign_up(db, None, {})
    assert profile(db, user_id) == {"email": None, "display_name": None, "deleted": False, "redacted": False}


def test_the_sign_up_succeeds_even_when_the_profile_cannot_be_written(db: psycopg.Connection) -> None:
    # A profile rule the account breaks (here, a stand-in constraint): the account is created all the same.
    db.execute("alter table public.profiles add constraint probe_check check (email not like '%@refused.test')")
    user_id = sign_up(db, "someone@refused.test", {"name": "Refused"})
    assert db.execute("select count(*) from auth.users where id = %s", (user_id,)).fetchone()[0] == 1
    assert profile(db, user_id) == {"email": None, "display_name": None, "deleted": False, "redacted": False}


def test_stored_names_never_hold_unshowable_characters(db: psycopg.Connection) -> None:
    every_code_point = "".join(chr(c) for c in range(1, 0x3000) if not 0xD800 <= c <= 0xDFFF)
    user_id = sign_up(db, "all@example.test", {"name": every_code_point})
    stored = profile(db, user_id)
    assert stored is not None and stored["display_name"] is not None
    assert not UNSHOWABLE.search(stored["display_name"]) and len(stored["display_name"]) <= 200


def test_profile_edits_follow_the_account_and_sign_ins_do_not_touch_it(db: psycopg.Connection) -> None:
    user_id = sign_up(db, "nora@example.test", {"name": "Nora"})
    stamp = "select updated_at from public.profiles where id = %s"
    before = db.execute(stamp, (user_id,)).fetchone()[0]
    db.execute("update auth.users set updated_at = now() where id = %s", (user_id,))
    assert db.execute(stamp, (user_id,)).fetchone()[0] == before
    db.execute('update auth.users set raw_user_meta_data = \'{"name": "Nora N."}\' where id = %s', (user_id,))
    assert profile(db, user_id) == {
        "email": "nora@example.test",
        "display_name": "Nora N.",
        "deleted": False,
        "redacted": False,
    }


# ---- who sees which profile ----


def test_members_see_their_organisations_people_and_nobody_elses(db: psycopg.Connection) -> None:
    for name in ("viewer", "editor", "admin"):
        assert visible_profiles(db, PRINCIPALS[name]) == ACME_PEOPLE
    assert visible_profiles(db, PRINCIPALS["other_org_admin"]) == GLOBEX_PEOPLE
    assert visible_profiles(db, PRINCIPALS["non_member"]) == {PRINCIPALS["non_member"].user_id}


def test_a_member_of_another_organisation_sees_no_profile_of_yours_even_by_id(db: psycopg.Connection) -> None:
    with as_principal(db, PRINCIPALS["other_org_admin"]) as conn:
        for user_id in ACME_PEOPLE:
            assert conn.execute("select * from public.profiles where id = %s", (user_id,)).fetchall() == []
        with raises_sqlstate(conn, "42501"):
            conn.execute("select * from private.organization_people")
        with raises_sqlstate(conn, "42501"):
            conn.execute("update public.profiles set display_name = 'x'")


def test_a_person_in_two_organisations_is_seen_by_both_and_their_other_colleagues_stay_hidden(
    db: psycopg.Connection,
) -> None:
    both = new_member(db, "both@example.test", "Bo Both", "viewer")
    member(db, both.user_id or "", "both@example.test", "viewer", GLOBEX_ORG)
    assert visible_profiles(db, PRINCIPALS["admin"]) == ACME_PEOPLE | {both.user_id}
    assert visible_profiles(db, PRINCIPALS["other_org_admin"]) == GLOBEX_PEOPLE | {both.user_id}
    assert visible_profiles(db, both) == ACME_PEOPLE | GLOBEX_PEOPLE | {both.user_id}


def test_a_non_member_who_appears_in_an_audit_record_is_seen_by_that_organisations_members(
    db: psycopg.Connection,
) -> None:
    outsider = PRINCIPALS["non_member"].user_id
    db.execute(
        "insert into public.mcp_audit_log (called_at, tool_name, status, error_code, duration_ms, user_id, org_id,"
        " project_id) values (now(), 'atoms_get_item', 'error', 'NOT_FOUND', 1, %s, %s, %s)",
        (outsider, ACME_ORG, "a0000000-0000-4000-8000-000000000101"),
    )
    assert outsider in visible_profiles(db, PRINCIPALS["viewer"])
    assert outsider not in visible_profiles(db, PRINCIPALS["other_org_admin"])


# ---- deleting an account ----


def test_deleting_an_account_leaves_a_tombstone_and_ends_its_memberships(db: psycopg.Connection) -> None:
    tess = new_member(db, "tess@acme.test", "Tess Tester", "editor")
    member(db, tess.user_id or "", "tess@acme.test", "viewer", GLOBEX_ORG)
    delete_account(db, tess.user_id or "")
    assert profile(db, tess.user_id or "") == {
        "email": "tess@acme.test",
        "display_name": "Tess Tester",
        "deleted": True,
        "redacted": False,
    }
    memberships = "select count(*) from public.organization_members where user_id = %s"
    assert db.execute(memberships, (tess.user_id,)).fetchone()[0] == 0
    assert tess.user_id in visible_profiles(db, PRINCIPALS["viewer"]), "former members stay readable by name"


def test_deleting_an_organisations_last_admin_succeeds_and_service_role_appoints_a_new_one(
    db: psycopg.Connection,
) -> None:
    db.execute("insert into public.organizations (id, name) values ('d0000000-0000-4000-8000-000000000001', 'Solo')")
    solo = "d0000000-0000-4000-8000-000000000001"
    boss = new_member(db, "boss@solo.test", "Bo Boss", "admin", solo)
    helper = new_member(db, "help@solo.test", "Hal Helper", "viewer", solo)

    delete_account(db, boss.user_id or "")

    admins = "select count(*) from public.organization_members where org_id = %s and role = 'admin'"
    assert db.execute(admins, (solo,)).fetchone()[0] == 0, "the organisation is left without an admin"
    with as_principal(db, PRINCIPALS["service_role"]) as conn:
        conn.execute(
            "update public.organization_members set role = 'admin' where org_id = %s and user_id = %s",
            (solo, helper.user_id),
        )
        assert conn.execute(admins, (solo,)).fetchone()[0] == 1, "service_role appoints the next admin"


KEEP_AN_ADMIN = """
create function pg_temp.keep_an_admin() returns trigger
language plpgsql as $$
begin
  if old.role = 'admin' and not private.is_deleted_user(old.user_id) and not exists (
    select 1 from public.organization_members as m
    where m.org_id = old.org_id and m.role = 'admin' and m.user_id <> old.user_id
  ) then
    raise exception 'an organisation keeps at least one admin' using errcode = 'PT409';
  end if;
  return old;
end;
$$;
create trigger organization_members_keep_an_admin before delete on public.organization_members
for each row execute function pg_temp.keep_an_admin();
"""


def test_a_membership_rule_can_tell_an_account_deletion_from_a_removal(db: psycopg.Connection) -> None:
    """A last-admin rule that yields to private.is_deleted_user: a removal is refused, an account deletion is not
    (the tombstone is written before the memberships go)."""
    db.execute("insert into public.organizations (id, name) values ('d0000000-0000-4000-8000-000000000002', 'Duo')")
    duo = "d0000000-0000-4000-8000-000000000002"
    boss = new_member(db, "boss@duo.test", "Bo Boss", "admin", duo)
    db.execute(KEEP_AN_ADMIN)
    with raises_sqlstate(db, "PT409"):
        db.execute("delete from public.organization_members where user_id = %s", (boss.user_id,))
    delete_account(db, boss.user_id or "")
    assert db.execute("select count(*) from public.organization_members where org_id = %s", (duo,)).fetchone()[0] == 0


def test_no_foreign_key_from_auth_users_reaches_a_record(db: psycopg.Connection) -> None:
    """Every table an account deletion can reach by foreign key (cascade, set null, set default) keeps no record:
    none of them refuses deletes or updates, so deleting an account can neither fail on them nor rewrite history."""
    reached = db.execute(
        """
        with recursive reach (table_oid) as (
          select c.conrelid from pg_catalog.pg_constraint as c
          where c.contype = 'f' and c.confrelid = 'auth.users'::regclass and c.confdeltype in ('c', 'n', 'd')
          union
          select c.conrelid from pg_catalog.pg_constraint as c
          inner join reach as r on c.confrelid = r.table_oid
          where c.contype = 'f' and c.confdeltype in ('c', 'n', 'd')
        )
        select (select n.nspname || '.' || c.relname from pg_catalog.pg_class as c
                inner join pg_catalog.pg_namespace as n on c.relnamespace = n.oid where c.oid = r.table_oid),
          exists (
          select 1 from pg_catalog.pg_trigger as t
          where t.tgrelid = r.table_oid
            and t.tgfoid in ('private.refuse_physical_delete'::regproc, 'private.refuse_update'::regproc)
        )
        from reach as r order by 1
        """
    ).fetchall()
    assert ("public.organization_members", False) in reached
    assert [table for table, guarded in reached if guarded] == []
    restricting = db.execute(
        "select conrelid from pg_catalog.pg_constraint"
        " where contype = 'f' and confrelid = 'auth.users'::regclass and confdeltype in ('a', 'r')"
    ).fetchall()
    assert restricting == [], "no foreign key may make an account deletion fail"


def test_deleting_an_account_that_wrote_everything_succeeds(db: psycopg.Connection) -> None:
    """The seeded Acme admin created the organisation, its projects, items, links and results."""
    admin = PRINCIPALS["admin"].user_id
    delete_account(db, admin or "")
    assert profile(db, admin or "") == {
        "email": "admin@acme.test",
        "display_name": "Ada Admin",
        "deleted": True,
        "redacted": False,
    }
    with as_principal(db, PRINCIPALS["viewer"]) as conn:
        kept = conn.execute(
            "select count(*), count(*) filter (where changed_by_name = 'Ada Admin') from public.change_history"
            " where changed_by = %s",
            (admin,),
        ).fetchone()
    assert kept[0] > 0 and kept[0] == kept[1]


def test_an_auth_soft_delete_keeps_the_last_known_email(db: psycopg.Connection) -> None:
    tess = new_member(db, "tess@acme.test", "Tess Tester", "editor")
    # Supabase Auth's soft delete scrambles the email and empties the metadata.
    db.execute(
        "update auth.users set deleted_at = now(), email = 'deleted-4f2a@example.invalid', raw_user_meta_data = '{}'"
        " where id = %s",
        (tess.user_id,),
    )
    assert profile(db, tess.user_id or "") == {
        "email": "tess@acme.test",
        "display_name": "Tess Tester",
        "deleted": True,
        "redacted": False,
    }
    members = "select count(*) from public.organization_members where user_id = %s"
    assert db.execute(members, (tess.user_id,)).fetchone()[0] == 0


# ---- erasure ----


def redact(conn: psycopg.Connection, user_id: str) -> dict[str, Any]:
    """Redact as service_role does through PostgREST (committed)."""
    with conn.transaction():
        act_as(conn, PRINCIPALS["service_role"])
        return conn.execute("select public.service_role_redact_profile(user_id => %s)", (user_id,)).fetchone()[0]


def test_service_role_redacts_a_deleted_accounts_tombstone_and_records_keep_their_copy(db: psycopg.Connection) -> None:
    admin = PRINCIPALS["admin"].user_id or ""
    delete_account(db, admin)
    answer = redact(db, admin)
    assert answer["user_id"] == admin and answer["redacted_at"] is not None
    assert answer["kept"]["history_rows"] > 0
    assert profile(db, admin) == {"email": None, "display_name": None, "deleted": True, "redacted": True}
    named = "select count(*) from public.change_history where changed_by = %s and changed_by_email = 'admin@acme.test'"
    assert db.execute(named, (admin,)).fetchone()[0] == answer["kept"]["history_rows"]
    assert redact(db, admin)["redacted_at"] == answer["redacted_at"], "redacting twice changes nothing"
    with as_principal(db, PRINCIPALS["viewer"]) as conn:
        assert conn.execute("select display_name, email from public.profiles where id = %s", (admin,)).fetchone() == (
            None,
            None,
        )
        assert rpc(conn, "atoms_verify_history", project_id=ACME_PROJECT)["intact"] is True


def test_a_live_account_or_an_unknown_id_cannot_be_redacted(db: psycopg.Connection) -> None:
    with as_principal(db, PRINCIPALS["service_role"]) as conn:
        with raises_sqlstate(conn, "PT409"):
            conn.execute("select public.service_role_redact_profile(%s)", (PRINCIPALS["editor"].user_id,))
        with raises_sqlstate(conn, "PT404"):
            conn.execute("select public.service_role_redact_profile('00000000-0000-4000-8000-000000000000')")
    assert profile(db, PRINCIPALS["editor"].user_id or "") == {
        "email": "editor@acme.test",
        "display_name": "Eddie Editor",
        "deleted": False,
        "redacted": False,
    }


@pytest.mark.parametrize("name", ["admin", "editor", "other_org_admin", "non_member"])
def test_no_user_can_redact_a_profile(db: psycopg.Connection, name: str) -> None:
    delete_account(db, PRINCIPALS["viewer"].user_id or "")
    with as_principal(db, PRINCIPALS[name]) as conn, raises_sqlstate(conn, "42501"):
        conn.execute("select public.service_role_redact_profile(%s)", (PRINCIPALS["viewer"].user_id,))
    assert (profile(db, PRINCIPALS["viewer"].user_id or "") or {})["redacted"] is False
