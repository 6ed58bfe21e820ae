"""The released migration history: a database that recorded versions the migrations folder no longer has (one built
before the first release was cut) is refused with the command that rebuilds it, never half-migrated."""

from __future__ import annotations

import psycopg
import pytest
from typer.testing import CliRunner

from atoms_mcp.cli.app import app
from atoms_mcp.database import migrations
from conftest import SUPABASE_DIR

PRE_RELEASE_VERSION = "20261130000100"


def _record_pre_release_version(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "insert into supabase_migrations.schema_migrations (version, name) values (%s, 'roles_and_schemas')",
            (PRE_RELEASE_VERSION,),
        )


def test_the_migrations_folder_holds_no_pre_release_version() -> None:
    versions = [m.version for m in migrations.load_migrations(SUPABASE_DIR)]
    assert versions, "there are migrations"
    assert min(versions) > "20261130999999", "released versions sort after every pre-release version"


def test_a_database_with_pre_release_versions_is_refused_with_the_rebuild_command(db_url: str) -> None:
    _record_pre_release_version(db_url)
    with pytest.raises(migrations.MigrationHistoryMismatch) as refused:
        migrations.migrate(db_url, SUPABASE_DIR, with_seed=False)
    assert refused.value.unknown == [PRE_RELEASE_VERSION]
    assert "atoms db reset" in str(refused.value) and "make bench-data" in str(refused.value)


@pytest.mark.parametrize("command", ["up", "push"])
def test_atoms_db_up_and_push_say_to_reset_a_pre_release_database(db_url: str, command: str) -> None:
    _record_pre_release_version(db_url)
    result = CliRunner().invoke(app, ["db", command, "--database-url", db_url])
    assert result.exit_code == 1
    assert "MigrationHistoryMismatch" in result.output and "atoms db reset" in result.output


def test_a_reset_rebuilds_a_pre_release_database(db_url: str) -> None:
    _record_pre_release_version(db_url)
    applied = migrations.reset_database(db_url, SUPABASE_DIR, with_seed=False)
    assert applied == [m.version for m in migrations.load_migrations(SUPABASE_DIR)]
    with psycopg.connect(db_url) as conn:
        assert PRE_RELEASE_VERSION not in migrations.applied_versions(conn)
