"""Apply the compat layer, the migrations and the seed to a database, recording them as the Supabase CLI does.

`supabase_migrations.schema_migrations(version, statements, name)` gets one row per applied file, so a
later `npx supabase db push --db-url ...` finds the database up to date. Each file runs in one
transaction, statement by statement, like the CLI's batch.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, LiteralString, cast

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from atoms_mcp.database.sqlsplit import split_statements

__all__ = [
    "Migration",
    "MigrationHistoryMismatch",
    "apply_compat_if_needed",
    "apply_pending",
    "applied_versions",
    "check_history",
    "create_database",
    "database_exists",
    "load_migrations",
    "migrate",
    "reset_database",
    "seed",
]

_MIGRATION_NAME = re.compile(r"^([0-9]+)_(.*)\.sql$")
_PROTECTED_DATABASES = {"postgres", "template0", "template1"}

_HISTORY_DDL = (
    "create schema if not exists supabase_migrations",
    "create table if not exists supabase_migrations.schema_migrations (version text not null primary key)",
    "alter table supabase_migrations.schema_migrations add column if not exists statements text[]",
    "alter table supabase_migrations.schema_migrations add column if not exists name text",
    "create table if not exists supabase_migrations.seed_files (path text not null primary key, hash text not null)",
)


class MigrationHistoryMismatch(RuntimeError):
    """The database recorded migration versions that ``supabase/migrations`` does not have.

    A database built before the migrations were re-cut for the first release records the old versions; migrations
    are append-only since, so such a database is rebuilt rather than migrated.
    """

    def __init__(self, unknown: list[str]) -> None:
        shown = ", ".join(unknown[:5]) + (f", ... ({len(unknown)} in all)" if len(unknown) > 5 else "")
        super().__init__(
            f"this database recorded migrations that supabase/migrations does not have ({shown}): it was built "
            "from migrations older than the first release. Rebuild it with `atoms db reset` (the benchmark "
            "database: `make bench-data`)."
        )
        self.unknown = unknown


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file: its version (timestamp), name and statements."""

    version: str
    name: str
    path: Path

    @property
    def statements(self) -> list[str]:
        return split_statements(self.path.read_text(encoding="utf-8"))


def load_migrations(supabase_dir: Path) -> list[Migration]:
    """The migration files of ``supabase_dir/migrations`` in version order (the CLI's file pattern)."""
    found: list[Migration] = []
    for path in sorted((supabase_dir / "migrations").glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match:
            found.append(Migration(version=match.group(1), name=match.group(2), path=path))
    return sorted(found, key=lambda m: m.version)


def database_exists(url: str) -> bool:
    """Whether the database named in ``url`` exists on its server."""
    dbname = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        return conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone() is not None


def create_database(url: str) -> None:
    """Create the database named in ``url``."""
    dbname = str(conninfo_to_dict(url)["dbname"])
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))


def reset_database(url: str, supabase_dir: Path, *, with_seed: bool) -> list[str]:
    """Drop and recreate the database of ``url``, then apply compat, every migration and optionally the seed."""
    dbname = str(conninfo_to_dict(url)["dbname"])
    if dbname in _PROTECTED_DATABASES:
        raise ValueError(f"refusing to reset the {dbname!r} database; name a database of its own in the URL")
    with psycopg.connect(_maintenance_url(url), autocommit=True) as conn:
        conn.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity where datname = %s and pid <> pg_backend_pid()",
            (dbname,),
        )
        conn.execute(sql.SQL("drop database if exists {}").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(dbname)))
    return migrate(url, supabase_dir, with_seed=with_seed)


def migrate(url: str, supabase_dir: Path, *, with_seed: bool) -> list[str]:
    """Apply compat (when needed) and every pending migration; seed once when asked. Returns applied versions."""
    with psycopg.connect(url, autocommit=True) as conn:
        apply_compat_if_needed(conn, supabase_dir)
        applied = apply_pending(conn, supabase_dir)
        if with_seed:
            seed(conn, supabase_dir)
    return applied


def apply_compat_if_needed(conn: psycopg.Connection, supabase_dir: Path) -> bool:
    """Run supabase/compat/*.sql when the database has no `auth` schema (vanilla PostgreSQL). Returns whether it ran."""
    if _scalar(conn, "select to_regnamespace('auth') is not null"):
        return False
    for path in sorted((supabase_dir / "compat").glob("*.sql")):
        with conn.transaction():
            for statement in split_statements(path.read_text(encoding="utf-8")):
                conn.execute(_trusted(statement))
    return True


def applied_versions(conn: psycopg.Connection) -> set[str]:
    """Versions recorded in supabase_migrations.schema_migrations (empty when the table does not exist)."""
    if not _scalar(conn, "select to_regclass('supabase_migrations.schema_migrations') is not null"):
        return set()
    return {row[0] for row in conn.execute("select version from supabase_migrations.schema_migrations")}


def check_history(conn: psycopg.Connection, supabase_dir: Path) -> list[Migration]:
    """The local migrations, after checking that every version the database recorded is one of them.

    Raises:
        MigrationHistoryMismatch: the database recorded versions that are not among the local files.
    """
    local = load_migrations(supabase_dir)
    unknown = sorted(applied_versions(conn) - {m.version for m in local})
    if unknown:
        raise MigrationHistoryMismatch(unknown)
    return local


def apply_pending(conn: psycopg.Connection, supabase_dir: Path) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction together with its history row.

    Raises:
        MigrationHistoryMismatch: the database recorded versions that are not among the local files.
    """
    with conn.transaction():
        for statement in _HISTORY_DDL:
            conn.execute(statement)
    done = applied_versions(conn)
    applied: list[str] = []
    for migration in check_history(conn, supabase_dir):
        if migration.version in done:
            continue
        statements = migration.statements
        with conn.transaction():
            for statement in statements:
                conn.execute(_trusted(statement))
            conn.execute(
                "insert into supabase_migrations.schema_migrations (version, name, statements) values (%s, %s, %s)",
                (migration.version, migration.name, statements),
            )
        applied.append(migration.version)
    return applied


def seed(conn: psycopg.Connection, supabase_dir: Path) -> bool:
    """Run supabase/seed.sql once (recorded in supabase_migrations.seed_files like the CLI). Returns whether it ran."""
    path = supabase_dir / "seed.sql"
    text = path.read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    if conn.execute("select 1 from supabase_migrations.seed_files where path = 'supabase/seed.sql'").fetchone():
        return False
    with conn.transaction():
        for statement in split_statements(text):
            conn.execute(_trusted(statement))
        conn.execute(
            "insert into supabase_migrations.seed_files (path, hash) values ('supabase/seed.sql', %s)", (digest,)
        )
    return True


def _maintenance_url(url: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = "postgres"
    return make_conninfo("", **params)


def _trusted(statement: str) -> LiteralString:
    """A statement of the repository's own SQL files (migrations, compat, seed): trusted text, run as written."""
    return cast(LiteralString, statement)


def _scalar(conn: psycopg.Connection[Any], query: LiteralString) -> Any:
    row = conn.execute(query).fetchone()
    return row[0] if row is not None else None
