-- Suspect links and verification status on the seed project, as PostgREST callers see them: a change of a
-- requirement's title makes its child links and verification links suspect, the viewer lists them and reads the
-- status, the editor clears one with a reason, and the flags table is read-only for every API role.
-- Run with `make test-pgtap`.
begin;
\ir ../helpers.psql
select plan(11);

-- ---- structure and grants ----
select has_table('public', 'link_suspicions', 'suspect flags have their own table');
select ok(
  (
    select c.relrowsecurity from pg_catalog.pg_class as c
    where c.oid = 'public.link_suspicions'::regclass
  ),
  'row level security is on for the suspect flags'
);
select table_privs_are(
  'public', 'link_suspicions', 'authenticated', array['SELECT'], 'users may only select suspect flags'
);
select triggers_are(
  'public', 'link_suspicions',
  array[
    'link_suspicions_guard_clear', 'link_suspicions_refuse_delete', 'link_suspicions_refuse_truncate',
    'link_suspicions_record_change'
  ],
  'suspect flags carry their guard, append-only and history triggers'
);

-- ---- a changed requirement ----
select pg_temp.call_as(
  'authenticated', 'a0000000-0000-4000-8000-0000000000a2',
  $$select public.atoms_update_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001',
    title => 'Brake on pedal press within 120 ms')$$
);
select set_config(
  'test.suspects',
  pg_temp.call_as(
    'authenticated', 'a0000000-0000-4000-8000-0000000000a3',
    $$select public.atoms_list_suspect_links(project_id => 'a0000000-0000-4000-8000-000000000101')$$
  )::text,
  true
);
select is(
  (
    select jsonb_agg(e ->> 'from_id' || '>' || (e ->> 'to_id') order by e ->> 'from_id', e ->> 'to_id')
    from jsonb_array_elements(current_setting('test.suspects')::jsonb -> 'data') as e
  ),
  '["REQ-001>REQ-002", "REQ-001>REQ-003", "TC-001>REQ-001", "TC-006>REQ-001"]'::jsonb,
  'the changed requirement''s child links and verification links are suspect, listed for a viewer'
);
select is(
  pg_temp.call_as(
    'authenticated', 'a0000000-0000-4000-8000-0000000000a3',
    $$select public.atoms_trace_matrix(project_id => 'a0000000-0000-4000-8000-000000000101', status => 'suspect')$$
  ) -> 'data' -> 0 ->> 'id',
  'REQ-001',
  'the matrix reports the requirement as suspect'
);

-- ---- clearing ----
select throws_ok(
  $$select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a3',
    'select public.atoms_clear_suspect(project_id => ''a0000000-0000-4000-8000-000000000101'', from_id => ''TC-001'', to_id => ''REQ-001'', reason => ''x'')')$$,
  '42501', null, 'a viewer may not clear a suspect flag'
);
select throws_ok(
  $$select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a2',
    'select public.atoms_clear_suspect(project_id => ''a0000000-0000-4000-8000-000000000101'', from_id => ''TC-001'', to_id => ''REQ-001'', reason => null)')$$,
  '22023', null, 'clearing without a reason is refused'
);
select is(
  pg_temp.call_as(
    'authenticated', 'a0000000-0000-4000-8000-0000000000a2',
    $$select public.atoms_clear_suspect(project_id => 'a0000000-0000-4000-8000-000000000101', from_id => 'TC-001',
      to_id => 'REQ-001', reason => 'Timing test still covers 120 ms')$$
  ) ->> 'cleared',
  'true',
  'an editor clears a suspect flag with a reason'
);
select is(
  (
    select h.reason from public.change_history as h
    where h.event_type = 'suspect_cleared' and h.project_id = 'a0000000-0000-4000-8000-000000000101'
  ),
  'Timing test still covers 120 ms',
  'the reason is kept in the history'
);
select throws_ok(
  $$select pg_temp.run_as('authenticated', 'a0000000-0000-4000-8000-0000000000a2',
    'update public.link_suspicions set clear_reason = ''rewritten''')$$,
  '42501', null, 'no API role updates suspect flags directly'
);

select * from finish();
rollback;
