"""Helpers of the read-path suites (test_read_*.py): call a read RPC as a principal, expect a SQLSTATE, and build
hand-made fixture projects directly as the superuser (so the read suites do not depend on the write RPCs)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from principals import ACME_ORG, Principal, as_principal

FIXTURE_PROJECT = "a0000000-0000-4000-8000-000000000201"
ADMIN_ID = "a0000000-0000-4000-8000-0000000000a1"
_TYPES = {"REQ": "requirement", "TC": "test-case", "NOTE": "note"}
_BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def _call_sql(function: str, args: dict[str, Any]) -> tuple[sql.Composed, dict[str, Any]]:
    params = {f"p{i}": value for i, value in enumerate(args.values())}
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(name), sql.Placeholder(f"p{i}")) for i, name in enumerate(args)
    )
    return sql.SQL("select public.{}({})").format(sql.Identifier(function), named), params


def rpc(conn: psycopg.Connection, principal: Principal, function: str, **args: Any) -> Any:
    """Call ``public.<function>`` with named arguments as ``principal`` (rolled back); return the decoded jsonb."""
    statement, params = _call_sql(function, args)
    with as_principal(conn, principal):
        return conn.execute(statement, params).fetchone()[0]


def rpc_error(conn: psycopg.Connection, principal: Principal, function: str, **args: Any) -> str:
    """Call as ``rpc`` does and return the SQLSTATE it raised (the call must fail)."""
    statement, params = _call_sql(function, args)
    try:
        with as_principal(conn, principal):
            conn.execute(statement, params)
    except psycopg.Error as error:
        return error.sqlstate or "?????"
    raise AssertionError(f"{function}({args}) succeeded for {principal.name}; expected an error")


class Project:
    """A fresh project (default: an empty second Acme project) filled row by row as the superuser."""

    def __init__(
        self,
        db: psycopg.Connection,
        project_id: str = FIXTURE_PROJECT,
        org_id: str = ACME_ORG,
        name: str = "Fixture project",
        *,
        create: bool = True,
    ) -> None:
        self.db = db
        self.id = project_id
        self.org_id = org_id
        self._clock = itertools.count(1)
        self._chain = itertools.count(1)
        if create:
            db.execute(
                "insert into public.projects (id, org_id, name, description) values (%s, %s, %s, 'fixture')",
                (project_id, org_id, name),
            )

    def item(
        self,
        key: str,
        title: str | None = None,
        *,
        summary: str = "",
        body: str = "",
        domains: tuple[str, ...] = (),
        level: str | None = None,
    ) -> str:
        """Insert a live item; created_at advances one second per item, so list order is the call order."""
        created = _BASE_TIME + timedelta(seconds=next(self._clock))
        row = self.db.execute(
            "insert into public.items (org_id, project_id, key, item_type, title, summary, body, domains, level,"
            " created_by, updated_by, created_at, updated_at)"
            " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) returning id::text",
            (
                self.org_id,
                self.id,
                key,
                _TYPES[key.split("-")[0]],
                title or f"Title of {key}",
                summary,
                body,
                list(domains),
                level,
                ADMIN_ID,
                ADMIN_ID,
                created,
                created,
            ),
        ).fetchone()
        return row[0]

    def id_of(self, key: str) -> str:
        return self.db.execute(
            "select id::text from public.items where project_id = %s and key = %s", (self.id, key)
        ).fetchone()[0]

    def link(self, kind: str, source_key: str, target_key: str) -> None:
        """Insert a canonical link (related pairs are stored with the smaller id first)."""
        source, target = self.id_of(source_key), self.id_of(target_key)
        if kind == "related" and target < source:
            source, target = target, source
        self.db.execute(
            "insert into public.item_links (org_id, project_id, link_kind, source_item_id, target_item_id, created_by)"
            " values (%s, %s, %s, %s, %s, %s)",
            (self.org_id, self.id, kind, source, target, ADMIN_ID),
        )

    def delete_item(self, key: str) -> None:
        self.db.execute(
            "update public.items set deleted_at = now(), deleted_by = %s where project_id = %s and key = %s",
            (ADMIN_ID, self.id, key),
        )

    def delete_link(self, kind: str, source_key: str, target_key: str) -> None:
        self.db.execute(
            "update public.item_links set deleted_at = now(), deleted_by = %s"
            " where project_id = %s and link_kind = %s and deleted_at is null"
            " and ((source_item_id = %s and target_item_id = %s) or (source_item_id = %s and target_item_id = %s))",
            (ADMIN_ID, self.id, kind, *(self.id_of(k) for k in (source_key, target_key, target_key, source_key))),
        )

    def result(self, key: str, result: str, note: str = "", *, hours_ago: int = 0) -> None:
        self.db.execute(
            "insert into public.test_results (org_id, project_id, item_id, result, note, recorded_by, recorded_at)"
            " values (%s, %s, %s, %s, %s, %s, now() - make_interval(hours => %s))",
            (self.org_id, self.id, self.id_of(key), result, note, ADMIN_ID, hours_ago),
        )

    def history(self, key: str | None, event_type: str, *, at: datetime, fields: tuple[str, ...] = ()) -> None:
        """Append a history row directly, bypassing the chain head: only as a test's last write (edge-case data)."""
        seq = self.db.execute(
            "select coalesce(max(chain_seq), 0) + 1 from public.change_history where project_id = %s", (self.id,)
        ).fetchone()[0]
        self.db.execute(
            "insert into public.change_history (scope, scope_id, org_id, project_id, item_id, event_type, changed_by,"
            " changed_at, actor, session_id, fields_changed, old_values, new_values, hash_version, chain_seq,"
            " prev_hash, row_hash)"
            " values ('project', %s, %s, %s, %s, %s, %s, %s, 'mcp_claude', 'session-1', %s, %s, %s, 1, %s, %s, %s)",
            (
                self.id,
                self.org_id,
                self.id,
                self.id_of(key) if key else None,
                event_type,
                ADMIN_ID,
                at,
                list(fields),
                json.dumps({f: "old" for f in fields}),
                json.dumps({f: "new" for f in fields}),
                seq,
                "0" * 64,
                f"{seq:064d}",
            ),
        )
