"""Every statement the read RPCs run is index-backed: on a generated multi-project dataset (analyzed), the plans
that auto_explain reports for each call (nested statements included, run as a viewer under RLS) contain no
sequential scan of items, item_links, test_results or change_history. The 100k-item check lives with the
benchmarks; this is the small, always-on version."""

from __future__ import annotations

import re

import psycopg
import pytest

from principals import ACME_ORG, PRINCIPALS, as_principal

BIG = "a0000000-0000-4000-8000-00000000b001"
LARGE_TABLES = {"items", "item_links", "test_results", "change_history", "link_suspicions"}

GENERATE = """
set session_replication_role = replica;
insert into public.projects (id, org_id, name)
select ('a0000000-0000-4000-8000-0000000c' || lpad(g::text, 4, '0'))::uuid, %(org)s, 'small ' || g
from generate_series(1, 19) as g;
insert into public.projects (id, org_id, name) values (%(big)s, %(org)s, 'Plan probe');
insert into public.items (org_id, project_id, key, item_type, title, summary, body, domains, level, created_at)
select
  %(org)s,
  case when g %% 20 = 0 then %(big)s::uuid
    else ('a0000000-0000-4000-8000-0000000c' || lpad((g %% 20)::text, 4, '0'))::uuid end,
  (array['REQ-', 'TC-', 'NOTE-'])[1 + g %% 3] || lpad(g::text, 5, '0'),
  (array['requirement', 'test-case', 'note'])[1 + g %% 3]::public.item_type,
  'item ' || g || ' ' || (array['brake', 'sensor', 'lamp', 'valve'])[1 + g %% 4],
  'summary ' || md5(g::text),
  'body ' || md5((g * 7)::text),
  array[(array['safety', 'hmi'])[1 + g %% 2]],
  (array['System', 'Subsystem', 'Component'])[1 + g %% 3]::public.item_level,
  '2026-01-01'::timestamptz + make_interval(secs => g)
from generate_series(1, 12000) as g;
insert into public.item_links (org_id, project_id, link_kind, source_item_id, target_item_id)
select
  a.org_id, a.project_id,
  case when a.item_type = 'test-case' then 'verification' else 'hierarchy' end::public.link_kind,
  a.id, b.id
from public.items as a
inner join public.items as b
  on b.project_id = a.project_id and b.item_type = 'requirement'
  and substring(b.key from '[0-9]+$')::int
  = substring(a.key from '[0-9]+$')::int + case when a.item_type = 'test-case' then 20 else 60 end
where a.item_type in ('requirement', 'test-case') and a.title like 'item %%';
insert into public.test_results (org_id, project_id, item_id, result)
select i.org_id, i.project_id, i.id, 'passed'
from public.items as i, generate_series(1, 2)
where i.item_type = 'test-case' and i.title like 'item %%';
insert into public.change_history (
  scope, scope_id, org_id, project_id, item_id, event_type, actor, hash_version, chain_seq, prev_hash, row_hash
)
select 'project', i.project_id, i.org_id, i.project_id, i.id, 'created', 'user', 1,
  1000 + row_number() over (partition by i.project_id order by i.id), repeat('0', 64), repeat('0', 64)
from public.items as i where i.title like 'item %%';
insert into public.change_history (
  scope, scope_id, org_id, project_id, item_id, event_type, actor, new_values, hash_version, chain_seq, prev_hash,
  row_hash
)
select 'project', l.project_id, l.org_id, l.project_id, l.source_item_id, 'linked', 'user',
  jsonb_build_object('link_kind', l.link_kind, 'source_item_id', l.source_item_id, 'target_item_id', l.target_item_id),
  1, 100000 + row_number() over (partition by l.project_id order by l.id), repeat('0', 64), repeat('0', 64)
from public.item_links as l;
update public.items set deleted_at = '2026-06-01', deleted_by = %(admin)s
where project_id = %(big)s and key = 'NOTE-00020';
insert into public.link_suspicions (org_id, project_id, link_id, cause_item_id, cause_fields, marked_at)
select l.org_id, l.project_id, l.id, l.target_item_id, array['title'], '2026-02-01'::timestamptz
from public.item_links as l
where l.link_kind = 'verification' and substring(l.id::text from 1 for 1) in ('0', '1', '2');
set session_replication_role = origin;
"""

P = f"project_id => '{BIG}'"
CALLS = {
    "atoms_list_projects": "select public.atoms_list_projects()",
    "atoms_list_items": f"select public.atoms_list_items({P}, type => 'requirement', domain => 'hmi')",
    "atoms_browse": f'select public.atoms_browse({P}, "offset" => 100)',
    "atoms_get_item": f"select public.atoms_get_item({P}, item_id => 'TC-00040')",
    "atoms_search": f"select public.atoms_search({P}, query => 'brake OR req-00060')",
    "atoms_get_coverage": f"select public.atoms_get_coverage({P})",
    "atoms_get_history": f"select public.atoms_get_history({P}, item_id => 'REQ-00060')",
    "atoms_export_mermaid": f"select public.atoms_export_mermaid({P})",
    "atoms_export_mermaid (root)": f"select public.atoms_export_mermaid({P}, root_item_id => 'REQ-00060')",
    "atoms_trace": f"select public.atoms_trace({P}, item_id => 'TC-00040', direction => 'both')",
    "atoms_trace (both, requirement)": (
        f"select public.atoms_trace({P}, item_id => 'REQ-00060', direction => 'both', related_depth => 2)"
    ),
    "atoms_get_history (page 2)": f"select public.atoms_get_history({P}, item_id => 'REQ-00060', \"offset\" => 20)",
    "atoms_get_item (deleted)": f"select public.atoms_get_item({P}, item_id => 'NOTE-00020')",
    "atoms_project_summary": f"select public.atoms_project_summary({P})",
    "atoms_list_suspect_links": f"select public.atoms_list_suspect_links({P})",
    "atoms_list_suspect_links (item)": f"select public.atoms_list_suspect_links({P}, item_id => 'REQ-00060')",
    "atoms_trace_matrix": f'select public.atoms_trace_matrix({P}, "offset" => 50)',
    "atoms_trace_matrix (status)": f"select public.atoms_trace_matrix({P}, status => 'verified', domain => 'hmi')",
}


def call_label(call: str) -> str:
    """The CALLS key of a call."""
    return next(label for label, text in CALLS.items() if text == call)


@pytest.fixture(scope="module")
def planned_db(module_db: psycopg.Connection) -> psycopg.Connection:
    for statement in GENERATE.split(";\n"):
        if statement.strip():
            module_db.execute(statement, {"org": ACME_ORG, "big": BIG, "admin": PRINCIPALS["admin"].user_id})
    module_db.execute("vacuum analyze")
    return module_db


@pytest.mark.parametrize("call", CALLS.values(), ids=CALLS.keys())
def test_read_rpc_plans_use_indexes_on_the_large_tables(planned_db: psycopg.Connection, call: str) -> None:
    plans: list[str] = []

    def collect(diagnostic: psycopg.errors.Diagnostic) -> None:
        plans.append(diagnostic.message_primary or "")

    planned_db.add_notice_handler(collect)
    try:
        planned_db.execute("load 'auto_explain'")
        for setting in (
            "auto_explain.log_min_duration = 0",
            "auto_explain.log_nested_statements = on",
            "client_min_messages = log",
        ):
            planned_db.execute(f"set {setting}")
        with as_principal(planned_db, PRINCIPALS["viewer"]) as conn:
            try:
                conn.execute(call).fetchone()
            except psycopg.Error as error:
                # A deleted item is NOT_FOUND (with its details): the plans of the statements that led there count.
                assert error.sqlstate == "PT404" and "deleted" in call_label(call), error
    finally:
        planned_db.execute("reset client_min_messages")
        planned_db.execute("reset auto_explain.log_min_duration")
        planned_db.remove_notice_handler(collect)
    text = "\n".join(plans)
    assert "Query Text" in text, "auto_explain reported no plan"
    scanned = set(re.findall(r"Seq Scan on (\w+)", text)) & LARGE_TABLES
    assert scanned == set(), f"{call}: sequential scan of {sorted(scanned)}\n{text}"
