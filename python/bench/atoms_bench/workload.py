"""What the benchmarks call: a probe (user, project, items) picked from the generated data, and the read RPCs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import psycopg
from psycopg import sql

__all__ = ["READ_CALLS", "Probe", "ReadCall", "act_as", "available", "pick_probe", "read_statement"]


@dataclass(frozen=True, slots=True)
class Probe:
    """A viewer, an editor and a typical project of the generated data, with items worth reading."""

    viewer_id: str
    editor_id: str
    org_id: str
    project_id: str
    project_items: int
    requirement_key: str
    test_case_key: str
    search_query: str = "pressure sensor"


@dataclass(frozen=True, slots=True)
class ReadCall:
    """A read tool's RPC and its named arguments (built from a probe)."""

    name: str
    function: str
    args: tuple[tuple[str, str], ...]  # (parameter, probe attribute or literal "=value")

    def params(self, probe: Probe) -> dict[str, object]:
        out: dict[str, object] = {}
        for param, source in self.args:
            out[param] = _literal(source[1:]) if source.startswith("=") else getattr(probe, source)
        return out


def _literal(text: str) -> object:
    return int(text) if text.isdigit() else text


READ_CALLS: tuple[ReadCall, ...] = (
    ReadCall("list_projects", "atoms_list_projects", ()),
    ReadCall("list_items", "atoms_list_items", (("project_id", "project_id"),)),
    ReadCall("list_items_filtered", "atoms_list_items", (("project_id", "project_id"), ("type", "=requirement"))),
    ReadCall("get_item", "atoms_get_item", (("project_id", "project_id"), ("item_id", "requirement_key"))),
    ReadCall("get_test_case", "atoms_get_item", (("project_id", "project_id"), ("item_id", "test_case_key"))),
    ReadCall("search", "atoms_search", (("project_id", "project_id"), ("query", "search_query"))),
    ReadCall("coverage", "atoms_get_coverage", (("project_id", "project_id"),)),
    ReadCall("history", "atoms_get_history", (("project_id", "project_id"), ("item_id", "requirement_key"))),
    ReadCall(
        "trace",
        "atoms_trace",
        (("project_id", "project_id"), ("item_id", "requirement_key"), ("direction", "=both")),
    ),
    ReadCall("mermaid", "atoms_export_mermaid", (("project_id", "project_id"),)),
    ReadCall("project_summary", "atoms_project_summary", (("project_id", "project_id"),)),
    ReadCall("trace_matrix", "atoms_trace_matrix", (("project_id", "project_id"),)),
    ReadCall("suspect_links", "atoms_list_suspect_links", (("project_id", "project_id"),)),
)


def read_statement(call: ReadCall, probe: Probe, schema: str = "public") -> tuple[sql.Composed, dict[str, object]]:
    """``select <schema>.<function>(param => %(param)s, ...)`` and its parameters."""
    params = call.params(probe)
    named = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in params
    )
    return sql.SQL("select {}({})").format(sql.Identifier(schema, call.function), named), params


def available(conn: psycopg.Connection, function: str, schema: str = "public") -> bool:
    """Whether ``schema.function`` exists in the database measured."""
    row = conn.execute(
        "select exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname = %s and p.proname = %s)",
        (schema, function),
    ).fetchone()
    return bool(row and row[0])


def act_as(conn: psycopg.Connection, user_id: str, *, switch_role: bool = True) -> None:
    """Inside the current transaction, act as ``user_id`` exactly like PostgREST and the MCP server do."""
    claims = json.dumps({"sub": user_id, "role": "authenticated", "aud": "authenticated"})
    if switch_role:
        conn.execute(
            "select set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)", (claims,)
        )
    else:
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))


def pick_probe(conn: psycopg.Connection) -> Probe:
    """A generated organisation's viewer and editor, its project closest to the mean size, and rich items.

    Deterministic for a given dataset: ties break on ids.
    """
    row = conn.execute(
        """
        with sizes as (
          select i.project_id, count(*) as n
          from public.items as i
          join public.projects as p on p.id = i.project_id
          where p.name like 'Project %% of Bench org %%' and i.deleted_at is null
          group by i.project_id
        ), target as (select avg(n) as mean from sizes)
        select s.project_id, s.n, p.org_id
        from sizes as s cross join target as t join public.projects as p on p.id = s.project_id
        order by abs(s.n - t.mean), s.project_id
        limit 1
        """
    ).fetchone()
    if row is None:
        raise LookupError("no generated project found: load a dataset first (make bench-data)")
    project_id, n, org_id = row
    viewer, editor = (
        conn.execute(
            "select m.user_id from public.organization_members as m where m.org_id = %s and m.role = %s"
            " order by m.user_id limit 1",
            (org_id, role),
        ).fetchone()[0]
        for role in ("viewer", "editor")
    )
    # The live requirement with the most live links (children, parents and verifying tests): a rich trace root.
    req = conn.execute(
        """
        select i.key
        from public.items as i
        left join public.item_links as l
          on l.deleted_at is null and (l.source_item_id = i.id or l.target_item_id = i.id)
        where i.project_id = %s and i.item_type = 'requirement' and i.deleted_at is null
        group by i.id, i.key
        order by count(l.id) desc, i.key
        limit 1
        """,
        (project_id,),
    ).fetchone()[0]
    tc = conn.execute(
        """
        select i.key
        from public.items as i
        left join public.test_results as r on r.item_id = i.id
        where i.project_id = %s and i.item_type = 'test-case' and i.deleted_at is null
        group by i.id, i.key
        order by count(r.id) desc, i.key
        limit 1
        """,
        (project_id,),
    ).fetchone()[0]
    return Probe(str(viewer), str(editor), str(org_id), str(project_id), int(n), req, tc)
