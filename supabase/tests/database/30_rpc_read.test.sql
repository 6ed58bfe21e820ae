-- Read path: the read RPCs' structure (stable, grants, owners, search index) and their answers on the seed for
-- the Acme viewer (a3), the Globex admin (b1) and anon. pg_temp.call_as (supabase/tests/helpers.psql)
-- switches to an API role for one call, as PostgREST does.
begin;
select plan(16);

\ir ../helpers.psql

create function pg_temp.as_viewer(call text) returns jsonb
language sql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
  select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a3', call)
$$;

-- ---- structure ----
select is(
  (
    select count(*)::integer from pg_catalog.pg_proc as p
    where
      p.pronamespace = 'public'::regnamespace
      and p.proname in (
        'atoms_list_projects', 'atoms_list_items', 'atoms_get_item', 'atoms_search', 'atoms_get_coverage',
        'atoms_get_history', 'atoms_export_mermaid', 'atoms_trace', 'atoms_project_summary', 'atoms_browse'
      )
      and p.provolatile = 's'
      and has_function_privilege('authenticated', p.oid, 'execute')
      and not has_function_privilege('anon', p.oid, 'execute')
      and not has_function_privilege('service_role', p.oid, 'execute')
  ), 10,
  'all ten read RPCs exist, are STABLE and are executable by authenticated only'
);

select is_empty(
  $$
    select p.oid::regprocedure::text
    from pg_catalog.pg_proc as p
    where p.pronamespace = 'public'::regnamespace
      and p.proname in ('atoms_search', 'atoms_get_history', 'atoms_project_summary')
      and not (p.prosecdef and p.proowner = 'atoms_rpc_owner'::regrole)
  $$,
  'the definer read RPCs (search, history, summary) are owned by the RPC owner'
);

select is(
  has_function_privilege('authenticated', 'private.search_item_matches(uuid, tsquery, public.item_type)', 'execute'),
  false,
  'users cannot call the owner-privileged search helper directly'
);

select has_index('public', 'items', 'items_search_vector_idx', 'live items have a GIN full-text index');

-- ---- as the Acme viewer ----
select is(
  pg_temp.as_viewer($c$ select public.atoms_list_items(project_id => 'a0000000-0000-4000-8000-000000000101') $c$) -> 'meta',
  '{"total_count": 20, "limit": 50, "offset": 0, "has_more": false}'::jsonb,
  'a viewer lists the 20 seeded items with paging meta'
);

select is(
  pg_temp.as_viewer($c$ select public.atoms_search(project_id => 'a0000000-0000-4000-8000-000000000101', query => 'req-006') $c$)
  #>> '{data,0,id}',
  'REQ-006',
  'a search for an item key puts that item first, whatever the case'
);

select is(
  pg_temp.as_viewer($c$ select public.atoms_search(project_id => 'a0000000-0000-4000-8000-000000000101', query => 'CAN') $c$)
  #>> '{data,0,id}',
  'REQ-005',
  'technical words such as CAN are not dropped as stop words'
);

select is(
  pg_temp.as_viewer($c$ select public.atoms_get_coverage(project_id => 'a0000000-0000-4000-8000-000000000101') $c$)
  - 'uncovered_items' - 'verified_count' - 'verified_percent' - 'by_status',
  '{"covered": 6, "uncovered": 2, "total": 8, "coverage_percent": 75.0}'::jsonb,
  'six of the eight seeded requirements are verified by a live test case'
);

select is(
  pg_temp.as_viewer(
    $c$ select public.atoms_get_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001') $c$
  ) -> 'relationships',
  '{"parents": [], "children": ["REQ-002", "REQ-003"], "related": [], "verifies": [], "verified_by": ["TC-001", "TC-006"]}'::jsonb,
  'an item lists the keys of its live relationships'
);

select is(
  pg_temp.as_viewer(
    $c$ select public.atoms_trace(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-007', direction => 'upstream') $c$
  ) -> 'items',
  '[{"id": "REQ-002", "title": "Anti-lock braking", "type": "requirement", "relationship": "parent",
     "link_kind": "hierarchy", "via": "REQ-007", "depth": 1, "suspect": false},
    {"id": "REQ-001", "title": "Brake on pedal press", "type": "requirement", "relationship": "parent",
     "link_kind": "hierarchy", "via": "REQ-002", "depth": 2, "suspect": false}]'::jsonb,
  'an upstream trace climbs the hierarchy one depth at a time, each item naming the item it was reached from'
);

select matches(
  pg_temp.as_viewer(
    $c$ select public.atoms_export_mermaid(project_id => 'a0000000-0000-4000-8000-000000000101', root_item_id => 'REQ-001', depth => 1) $c$
  ) ->> 'mermaid',
  '^graph TD\n    REQ_001\["Brake on pedal press"\]\n',
  'a Mermaid export starts with graph TD and the root node'
);

select is(
  pg_temp.as_viewer($c$ select public.atoms_project_summary(project_id => 'a0000000-0000-4000-8000-000000000101') $c$)
  -> 'tests',
  '{"passed": 3, "failed": 1, "blocked": 1, "not-run": 1, "never_run": 2}'::jsonb,
  'the summary counts test cases by their latest result'
);

-- ---- as the viewer, after a soft delete ----
update public.items set deleted_at = now(), deleted_by = 'a0000000-0000-4000-8000-0000000000a1'
where project_id = 'a0000000-0000-4000-8000-000000000101' and key = 'TC-007';

select throws_ok(
  $$ select pg_temp.as_viewer($c$ select public.atoms_get_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'TC-007') $c$) $$,
  'PT404', null,
  'a soft-deleted item is not found by get_item'
);

select is(
  pg_temp.as_viewer(
    $c$ select public.atoms_get_history(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'TC-007', "limit" => 1) $c$
  ) #>> '{data,0,event_type}',
  'deleted',
  'its history is still readable, newest event first'
);

-- ---- as another organisation's admin and as anon ----
select throws_ok(
  $$ select pg_temp.call_as('authenticated', 'b0000000-0000-4000-8000-0000000000b1',
    $c$ select public.atoms_get_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001') $c$) $$,
  'PT404', null,
  'an admin of another organisation is told the project is not found'
);

select throws_ok(
  $$ select pg_temp.call_as('anon', null, $c$ select public.atoms_list_projects() $c$) $$,
  '42501', null,
  'anon has no EXECUTE on the read RPCs'
);

select * from finish();
rollback;
