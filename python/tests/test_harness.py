"""The harness itself: the template is the seeded schema, and acting as a principal changes who the database sees."""

from __future__ import annotations

import psycopg

from principals import ACME_PROJECT, PRINCIPALS, as_principal


def test_template_has_every_migration_and_the_seed(db: psycopg.Connection) -> None:
    versions = db.execute("select count(*) from supabase_migrations.schema_migrations").fetchone()[0]
    files = len(list((__import__("conftest").SUPABASE_DIR / "migrations").glob("*.sql")))
    assert versions == files
    assert db.execute("select count(*) from public.items where project_id = %s", (ACME_PROJECT,)).fetchone()[0] == 20


def test_acting_as_a_user_sets_role_and_uid_for_one_transaction_only(db: psycopg.Connection) -> None:
    viewer = PRINCIPALS["viewer"]
    with as_principal(db, viewer) as conn:
        row = conn.execute("select current_user, auth.uid()::text, auth.role()").fetchone()
        assert row == ("authenticated", viewer.user_id, "authenticated")
    assert db.execute("select current_user, auth.uid()").fetchone() == ("postgres", None)
