"""The principals of the access contract and how to act as one, exactly as PostgREST does per request:
set_config('role', ..., true) and set_config('request.jwt.claims', ..., true) inside one transaction."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

ACME_ORG = "a0000000-0000-4000-8000-000000000001"
ACME_PROJECT = "a0000000-0000-4000-8000-000000000101"
GLOBEX_ORG = "b0000000-0000-4000-8000-000000000001"
GLOBEX_PROJECT = "b0000000-0000-4000-8000-000000000101"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who acts: a database role and, for signed-in users, the user id and email in the JWT claims."""

    name: str
    db_role: str
    user_id: str | None = None
    email: str | None = None

    @property
    def claims(self) -> dict[str, object]:
        if self.user_id is None:
            return {"role": self.db_role}
        return {"sub": self.user_id, "role": "authenticated", "email": self.email, "aud": "authenticated"}


# The target of every contract cell is the Acme organisation's data.
PRINCIPALS: dict[str, Principal] = {
    p.name: p
    for p in (
        Principal("anon", "anon"),
        Principal("non_member", "authenticated", "c0000000-0000-4000-8000-0000000000c1", "outsider@example.test"),
        Principal("viewer", "authenticated", "a0000000-0000-4000-8000-0000000000a3", "viewer@acme.test"),
        Principal("editor", "authenticated", "a0000000-0000-4000-8000-0000000000a2", "editor@acme.test"),
        Principal("admin", "authenticated", "a0000000-0000-4000-8000-0000000000a1", "admin@acme.test"),
        Principal("other_org_admin", "authenticated", "b0000000-0000-4000-8000-0000000000b1", "admin@globex.test"),
        Principal("service_role", "service_role"),
        # The MCP server's login before it takes on `authenticated` (NOINHERIT: no privileges of its own).
        Principal("gateway", "atoms_mcp_gateway"),
    )
}

GLOBEX_EDITOR = Principal(
    "globex_editor", "authenticated", "b0000000-0000-4000-8000-0000000000b2", "editor@globex.test"
)
GLOBEX_VIEWER = Principal(
    "globex_viewer", "authenticated", "b0000000-0000-4000-8000-0000000000b3", "viewer@globex.test"
)


def act_as(conn: psycopg.Connection, principal: Principal) -> None:
    """Switch the current transaction to ``principal`` (transaction-local, like PostgREST)."""
    conn.execute(
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true)",
        (principal.db_role, json.dumps(principal.claims)),
    )


@contextmanager
def as_principal(conn: psycopg.Connection, principal: Principal) -> Iterator[psycopg.Connection]:
    """Run the body in one transaction as ``principal``; everything is rolled back afterwards."""
    with conn.transaction(force_rollback=True):
        act_as(conn, principal)
        yield conn
