"""Tenancy: a member of one organisation sees zero rows of another in every table, whatever filter or id it
supplies; anon and the bare gateway role read nothing at all. Tables are read from the catalog, so a table added
later is covered without editing this file."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from principals import ACME_ORG, GLOBEX_ORG, GLOBEX_VIEWER, PRINCIPALS, Principal, as_principal

MEMBERS = [
    pytest.param(PRINCIPALS["admin"], ACME_ORG, GLOBEX_ORG, id="acme-admin"),
    pytest.param(PRINCIPALS["viewer"], ACME_ORG, GLOBEX_ORG, id="acme-viewer"),
    pytest.param(PRINCIPALS["other_org_admin"], GLOBEX_ORG, ACME_ORG, id="globex-admin"),
    pytest.param(GLOBEX_VIEWER, GLOBEX_ORG, ACME_ORG, id="globex-viewer"),
]


def tenant_tables(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    """(schema, table, org column) of every public table that belongs to a tenant."""
    return conn.execute(
        """
        select n.nspname, c.relname, case when c.relname = 'organizations' then 'id' else 'org_id' end
        from pg_catalog.pg_class as c
        inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relispartition
          and exists (
            select 1 from pg_catalog.pg_attribute as a
            where a.attrelid = c.oid and a.attname = case when c.relname = 'organizations' then 'id' else 'org_id' end
          )
        order by 2
        """
    ).fetchall()


# People belong to several organisations: profiles are scoped by membership and appearance in records instead of
# an org_id (test_member_sees_no_profile_of_a_person_only_in_another_organisation, test_people_profiles.py).
PERSON_TABLES = {"profiles"}


def test_every_public_table_is_tenant_scoped(db: psycopg.Connection) -> None:
    all_tables = {r[0] for r in db.execute("select tablename from pg_tables where schemaname = 'public'")}
    assert {t for _, t, _ in tenant_tables(db)} == all_tables - PERSON_TABLES


@pytest.mark.parametrize(("member", "own_org", "other_org"), MEMBERS)
def test_member_sees_no_profile_of_a_person_only_in_another_organisation(
    db: psycopg.Connection, member: Principal, own_org: str, other_org: str
) -> None:
    only_there = {
        str(r[0])
        for r in db.execute(
            "select user_id from public.organization_members where org_id = %s"
            " except select user_id from public.organization_members where org_id = %s",
            (other_org, own_org),
        )
    }
    assert only_there, "the fixture must hold people of the other organisation only"
    with as_principal(db, member) as conn:
        seen = {str(r[0]) for r in conn.execute("select id from public.profiles")}
    assert seen and not seen & only_there


@pytest.mark.parametrize(("member", "own_org", "other_org"), MEMBERS)
def test_member_sees_no_row_of_another_organisation(
    db: psycopg.Connection, member: Principal, own_org: str, other_org: str
) -> None:
    tables = tenant_tables(db)
    other_rows = {}
    for schema, table, column in tables:
        query = sql.SQL("select count(*) from {}.{} where {} = %s").format(
            sql.Identifier(schema), sql.Identifier(table), sql.Identifier(column)
        )
        other_rows[table] = db.execute(query, (other_org,)).fetchone()[0]
    with as_principal(db, member) as conn:
        for schema, table, column in tables:
            ident = sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))
            col = sql.Identifier(column)
            by_org = conn.execute(sql.SQL("select count(*) from {} where {} = %s").format(ident, col), (other_org,))
            assert by_org.fetchone()[0] == 0, f"{member.name} sees {other_org} rows in {table}"
            foreign = conn.execute(sql.SQL("select count(*) from {} where {} <> %s").format(ident, col), (own_org,))
            assert foreign.fetchone()[0] == 0, f"{member.name} sees foreign rows in {table}"
    assert other_rows["items"] > 0, "the fixture must hold rows of the other organisation"


@pytest.mark.parametrize(("member", "own_org", "other_org"), MEMBERS)
def test_member_cannot_fetch_another_organisations_rows_by_id(
    db: psycopg.Connection, member: Principal, own_org: str, other_org: str
) -> None:
    foreign_ids = [r[0] for r in db.execute("select id from public.items where org_id = %s", (other_org,))]
    foreign_projects = [r[0] for r in db.execute("select id from public.projects where org_id = %s", (other_org,))]
    with as_principal(db, member) as conn:
        assert conn.execute("select count(*) from public.items where id = any(%s)", (foreign_ids,)).fetchone()[0] == 0
        for table in ("items", "item_links", "test_results", "change_history"):
            query = sql.SQL("select count(*) from public.{} where project_id = any(%s)").format(sql.Identifier(table))
            assert conn.execute(query, (foreign_projects,)).fetchone()[0] == 0
        assert conn.execute("select private.project_role(%s)", (foreign_projects[0],)).fetchone()[0] is None


@pytest.mark.parametrize("name", ["anon", "gateway"])
def test_anon_and_the_bare_gateway_read_nothing(db: psycopg.Connection, name: str) -> None:
    for schema, table, _ in tenant_tables(db):
        with as_principal(db, PRINCIPALS[name]) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("select 1 from {}.{} limit 1").format(sql.Identifier(schema), sql.Identifier(table)))


def test_forged_claims_without_the_role_switch_grant_nothing(db: psycopg.Connection) -> None:
    """Claims alone do not authorise: a session that sets request.jwt.claims but stays anon still reads nothing."""
    forged = Principal("forged", "anon", PRINCIPALS["admin"].user_id, "admin@acme.test")
    with as_principal(db, forged) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select count(*) from public.items")


def test_a_member_of_no_organisation_sees_nothing_but_invitations_to_their_own_email(db: psycopg.Connection) -> None:
    with as_principal(db, PRINCIPALS["non_member"]) as conn:
        for _, table, _ in tenant_tables(db):
            if table == "organization_invitations":
                emails = conn.execute("select distinct email from public.organization_invitations").fetchall()
                assert emails == [("outsider@example.test",)]
                continue
            query = sql.SQL("select count(*) from public.{}").format(sql.Identifier(table))
            assert conn.execute(query).fetchone()[0] == 0, table
