"""Helpers for the write-path suites: call an RPC with PostgREST-style named arguments, expect a SQLSTATE,
count what a call left behind."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Json, Jsonb

from principals import ACME_PROJECT

WRITE_TABLES = ("public.items", "public.item_links", "public.test_results", "public.change_history")


def rpc(conn: psycopg.Connection, name: str, **args: Any) -> Any:
    """``select public.<name>(arg => value, ...)`` and return the jsonb result (bulk items as json, dicts as jsonb)."""
    params = [
        Json(v) if name == "atoms_bulk_import" and k == "items" else Jsonb(v) if isinstance(v, dict) else v
        for k, v in args.items()
    ]
    query = sql.SQL("select public.{}({})").format(
        sql.Identifier(name),
        sql.SQL(", ").join(sql.SQL("{} => %s").format(sql.Identifier(k)) for k in args),
    )
    return conn.execute(query, params).fetchone()[0]


@contextmanager
def raises_sqlstate(conn: psycopg.Connection, sqlstate: str) -> Iterator[pytest.ExceptionInfo[psycopg.Error]]:
    """Expect the body to raise ``sqlstate``; a savepoint keeps the surrounding transaction usable."""
    with pytest.raises(psycopg.Error) as info, conn.transaction():
        yield info
    assert info.value.sqlstate == sqlstate, f"expected {sqlstate}, got {info.value.sqlstate}: {info.value}"


def counts(conn: psycopg.Connection) -> dict[str, int]:
    """Row counts of the written tables (run as the superuser, outside any principal)."""
    return {t: conn.execute(sql.SQL("select count(*) from {}").format(sql.SQL(t))).fetchone()[0] for t in WRITE_TABLES}


@contextmanager
def superuser(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """Inside a principal's transaction, read as the session user (RLS off) and then switch back."""
    previous = conn.execute("select current_setting('role')").fetchone()[0]
    conn.execute("select set_config('role', 'none', true)")
    try:
        yield conn
    finally:
        conn.execute("select set_config('role', %s, true)", (previous,))


def item(conn: psycopg.Connection, key: str, project: str = ACME_PROJECT) -> dict[str, Any]:
    """One item row as a dict (superuser read, deleted rows included)."""
    with superuser(conn):
        cur = conn.execute("select * from public.items where project_id = %s and key = %s", (project, key))
        row = cur.fetchone()
    assert row is not None, f"{key} not found"
    return _as_dict(cur, row)


def last_history(conn: psycopg.Connection, n: int = 1, project: str = ACME_PROJECT) -> list[dict[str, Any]]:
    """The newest ``n`` change_history rows of a project, newest first."""
    with superuser(conn):
        cur = conn.execute(
            "select * from public.change_history where project_id = %s order by chain_seq desc limit %s", (project, n)
        )
        return [_as_dict(cur, row) for row in cur.fetchall()]


def _as_dict(cur: psycopg.Cursor[Any], row: tuple[Any, ...]) -> dict[str, Any]:
    """A row as a dict; UUIDs as strings so they compare with the principals' ids."""
    return {c.name: str(v) if isinstance(v, UUID) else v for c, v in zip(cur.description or (), row, strict=True)}
