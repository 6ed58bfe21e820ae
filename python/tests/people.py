"""Helpers for the people suites: sign a user up the way Supabase Auth does, rename, delete, join an organisation,
read profiles as a principal, write audit records as the MCP server does."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from principals import ACME_ORG, ACME_PROJECT, PRINCIPALS, Principal, act_as, as_principal
from writepath import rpc

# The columns Supabase Auth (GoTrue) fills when it signs a user up with email and password.
SIGN_UP = (
    "insert into auth.users (instance_id, id, aud, role, email, encrypted_password, email_confirmed_at,"
    " raw_app_meta_data, raw_user_meta_data, is_super_admin, created_at, updated_at, is_sso_user, is_anonymous)"
    " values ('00000000-0000-0000-0000-000000000000', %s, 'authenticated', 'authenticated', %s,"
    ' \'$2a$10$abcdefghijklmnopqrstuv\', now(), \'{"provider": "email", "providers": ["email"]}\', %s, null,'
    " now(), now(), false, false)"
)


def sign_up(conn: psycopg.Connection, email: str | None, metadata: Any) -> str:
    """Insert an auth.users row as Supabase Auth's sign-up does (its own transaction); return the new user id."""
    user_id = str(uuid.uuid4())
    with conn.transaction():
        conn.execute(SIGN_UP, (user_id, email, None if metadata is None else Jsonb(metadata)))
    return user_id


def member(conn: psycopg.Connection, user_id: str, email: str, role: str, org: str = ACME_ORG) -> Principal:
    """Add the user to an organisation (as service_role would) and return a principal acting as them."""
    conn.execute(
        "insert into public.organization_members (org_id, user_id, role) values (%s, %s, %s)", (org, user_id, role)
    )
    return Principal(f"{role}:{email}", "authenticated", user_id, email)


def new_member(conn: psycopg.Connection, email: str, name: str, role: str, org: str = ACME_ORG) -> Principal:
    """Sign a user up with a display name and make them a member."""
    return member(conn, sign_up(conn, email, {"name": name}), email, role, org)


def rename(conn: psycopg.Connection, user_id: str, *, name: str, email: str) -> None:
    """The user edits their name and changes their email (Supabase Auth updates the account row)."""
    conn.execute(
        "update auth.users set raw_user_meta_data = %s, email = %s, updated_at = now() where id = %s",
        (Jsonb({"name": name}), email, user_id),
    )


def delete_account(conn: psycopg.Connection, user_id: str) -> None:
    """Delete the account the way Supabase Auth's admin API does (a hard delete of the auth.users row)."""
    assert conn.execute("delete from auth.users where id = %s", (user_id,)).rowcount == 1


def profile(conn: psycopg.Connection, user_id: str) -> dict[str, Any] | None:
    """The stored profile row (superuser read), or None."""
    row = conn.execute(
        "select email, display_name, deleted_at is not null, redacted_at is not null"
        " from public.profiles where id = %s",
        (user_id,),
    ).fetchone()
    if row is None:
        return None
    return dict(zip(("email", "display_name", "deleted", "redacted"), row, strict=True))


def visible_profiles(conn: psycopg.Connection, principal: Principal) -> set[str]:
    """Ids of the profiles ``principal`` can read through the API (RLS applies)."""
    with as_principal(conn, principal):
        return {str(r[0]) for r in conn.execute("select id from public.profiles")}


def create_item(conn: psycopg.Connection, principal: Principal, title: str, item_type: str = "requirement") -> str:
    """Create an item in the Acme project as ``principal`` (committed) and return its key."""
    with conn.transaction():
        act_as(conn, principal)
        return rpc(conn, "atoms_create_item", project_id=ACME_PROJECT, type=item_type, title=title)["id"]


def record_result(conn: psycopg.Connection, principal: Principal, key: str, result: str) -> None:
    """Record a test result on ``key`` as ``principal`` (committed)."""
    with conn.transaction():
        act_as(conn, principal)
        rpc(conn, "atoms_record_test_result", project_id=ACME_PROJECT, item_id=key, result=result)


def write_audit(conn: psycopg.Connection, user_id: str, tool_name: str) -> None:
    """Write one audit record as the MCP server does (its gateway login, its own transaction)."""
    record = {"tool_name": tool_name, "status": "success", "duration_ms": 3, "user_id": user_id}
    with conn.transaction():
        act_as(conn, PRINCIPALS["gateway"])
        conn.execute("select private.write_mcp_audit_batch(%s)", (Jsonb([record | {"project_id": ACME_PROJECT}]),))
