"""Verification status at an auditor's scale: one project of 1,000 requirements in the probe's organisation, each with
its verifying test case (some uncovered, some with two tests), three runs per test with every kind of latest result,
some never run, some requirements changed after their runs and some links suspect. The matrix, the suspect list and
coverage with statuses are measured as a viewer (RLS on) against the same function bodies with RLS off (rls_cost):
p50 and the ratio.

The project is generated once per dataset (a fixed id; reused when present), with triggers off like the dataset
itself (no history rows; the suspect flags are inserted directly).
"""

from __future__ import annotations

import psycopg

from atoms_bench.workload import Probe, ReadCall

__all__ = ["REQUIREMENTS", "VERIFICATION_PROJECT", "ensure_verification_project", "verification_calls"]

VERIFICATION_PROJECT = "d0000000-0000-4000-8000-000000001000"
REQUIREMENTS = 1000

GENERATE = """
set session_replication_role = replica;
insert into public.projects (id, org_id, name)
values (%(project)s, %(org)s, 'Verification status (1,000 requirements)');
insert into public.items (org_id, project_id, key, item_type, title, domains, level, created_at, content_changed_at)
select
  %(org)s, %(project)s, 'REQ-' || lpad(g::text, 4, '0'), 'requirement', 'Requirement ' || g,
  array[(array['safety', 'hmi', 'power'])[1 + g %% 3]], (array['System', 'Subsystem'])[1 + g %% 2]::public.item_level,
  now() - interval '60 days' + make_interval(secs => g),
  case when g %% 10 = 0 then now() - interval '1 day' end
from generate_series(1, %(n)s) as g;
insert into public.items (org_id, project_id, key, item_type, title, created_at)
select %(org)s, %(project)s, 'TC-' || lpad(g::text, 4, '0'), 'test-case', 'Test ' || g,
  now() - interval '60 days' + make_interval(secs => g)
from generate_series(1, %(n)s) as g;
insert into public.item_links (org_id, project_id, link_kind, source_item_id, target_item_id)
select %(org)s, %(project)s, 'verification', t.id, r.id
from generate_series(1, %(n)s) as g
cross join lateral (values (g), (case when g %% 5 = 0 and g < %(n)s then g + 1 end)) as v (target)
inner join public.items as t on t.project_id = %(project)s and t.key = 'TC-' || lpad(g::text, 4, '0')
inner join public.items as r on r.project_id = %(project)s and r.key = 'REQ-' || lpad(v.target::text, 4, '0')
where v.target is not null and v.target %% 20 <> 0;
insert into public.test_results (org_id, project_id, item_id, result, run_at, build, executed_by)
select
  %(org)s, %(project)s, t.id,
  case when k < 3 then 'passed'
    else (array['passed', 'passed', 'passed', 'failed', 'blocked', 'not-run', 'passed'])[1 + g %% 7]
  end::public.test_result,
  now() - make_interval(days => 40 - 10 * k), '1.' || k || '.0', 'bench runner'
from generate_series(1, %(n)s) as g
cross join generate_series(1, 3) as k
inner join public.items as t on t.project_id = %(project)s and t.key = 'TC-' || lpad(g::text, 4, '0')
where g %% 13 <> 0;
insert into public.link_suspicions (org_id, project_id, link_id, cause_item_id, cause_fields)
select l.org_id, l.project_id, l.id, l.target_item_id, array['body']
from public.item_links as l
inner join public.items as t on l.source_item_id = t.id
where l.project_id = %(project)s and substring(t.key from 4)::int %% 17 = 0;
set session_replication_role = origin;
analyze public.items;
analyze public.item_links;
analyze public.test_results;
analyze public.link_suspicions
"""


def ensure_verification_project(url: str, probe: Probe) -> None:
    """Generate the 1,000-requirement project in the probe's organisation unless the dataset already has it."""
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("select 1 from public.projects where id = %s", (VERIFICATION_PROJECT,)).fetchone()
        if exists is not None:
            return
        with conn.transaction():
            for statement in GENERATE.split(";\n"):
                if statement.strip():
                    conn.execute(statement, {"project": VERIFICATION_PROJECT, "org": probe.org_id, "n": REQUIREMENTS})


def verification_calls() -> tuple[ReadCall, ...]:
    """The verification reads on the 1,000-requirement project."""
    project = ("project_id", f"={VERIFICATION_PROJECT}")
    return (
        ReadCall("matrix_1k_requirements", "atoms_trace_matrix", (project,)),
        ReadCall("matrix_1k_failing", "atoms_trace_matrix", (project, ("status", "=failing"))),
        ReadCall("suspect_links_1k_requirements", "atoms_list_suspect_links", (project,)),
        ReadCall("coverage_status_1k_requirements", "atoms_get_coverage", (project,)),
    )
