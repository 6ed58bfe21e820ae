-- Rate limiter and MCP audit log: who may call what, an exact window with a controlled clock, an audit log
-- that nobody changes and only admins of the project's organisation read. Run with `make test-pgtap`.
-- Results seen as a role are stashed with set_config and asserted after `reset role` (pgTAP runs as postgres, a
-- superuser locally and not on hosted Supabase).
begin;
select plan(20);

-- ---- structure and grants ----
select has_table('private', 'rate_limit_buckets', 'the rate-limit state lives in the private schema');
select function_privs_are(
  'public', 'atoms_check_rate_limit', array['integer', 'integer'], 'authenticated', array['EXECUTE'],
  'signed-in users may check their own rate limit'
);
select function_privs_are(
  'public', 'atoms_check_rate_limit', array['integer', 'integer'], 'anon', array[]::text[],
  'anon may not call the rate limiter'
);
select function_privs_are(
  'private', 'check_rate_limit', array['integer', 'integer', 'timestamp with time zone'], 'authenticated', array[]::text[],
  'no caller reaches the implementation that takes the clock as a parameter'
);
select function_privs_are(
  'private', 'write_mcp_audit_batch', array['jsonb'], 'atoms_mcp_gateway', array['EXECUTE'],
  'the gateway login may write audit batches'
);
select function_privs_are(
  'private', 'write_mcp_audit_batch', array['jsonb'], 'authenticated', array[]::text[],
  'users (and the gateway acting as one) may not write audit records'
);
select table_privs_are('public', 'mcp_audit_log', 'authenticated', array['SELECT'], 'users may only select audit rows');
select table_privs_are('public', 'mcp_audit_log', 'service_role', array['SELECT'], 'service_role may only select audit rows (the only reader of rows with no organisation)');
select triggers_are(
  'public', 'mcp_audit_log',
  array[
    'mcp_audit_log_refuse_update', 'mcp_audit_log_refuse_delete', 'mcp_audit_log_refuse_truncate',
    'mcp_audit_log_refuse_actor_outside_gateway', 'mcp_audit_log_stamp_person'
  ],
  'the audit log carries exactly its three append-only triggers, the actor guard and the person stamp'
);

-- ---- rate limit with a controlled clock (superuser, acting as the Acme editor) ----
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a2"}', true);
select results_eq(
  $$ select allowed, "limit", remaining, retry_after_seconds from private.check_rate_limit(2, 10, '2026-01-01 00:00:00+00') $$,
  $$ values (true, 2, 1, 0) $$,
  'the first request of a window is allowed with one left'
);
select results_eq(
  $$ select allowed, remaining from private.check_rate_limit(2, 10, '2026-01-01 00:00:04+00') $$,
  $$ values (true, 0) $$,
  'the second request takes the last slot'
);
select results_eq(
  $$ select allowed, retry_after_seconds from private.check_rate_limit(2, 10, '2026-01-01 00:00:05.5+00') $$,
  $$ values (false, 5) $$,
  'the third is refused until the first hit leaves the window (ceil of 4.5 s)'
);
select results_eq(
  $$ select allowed from private.check_rate_limit(2, 10, '2026-01-01 00:00:10+00') $$,
  $$ values (true) $$,
  'a slot frees exactly one window after the hit that held it'
);
select is(
  (
    select cardinality(hits) from private.rate_limit_buckets
    where user_id = 'a0000000-0000-4000-8000-0000000000a2'
  ),
  2,
  'the bucket stores no more hits than the limit'
);

-- ---- the audit log: written by the gateway only, never changed ----
-- as gateway
-- On hosted Supabase the test runner postgres is no superuser and not a member of the roles it created (15) or has
-- no SET on them (16+): the membership is granted here, inside this file's transaction, and rolled back with it.
grant atoms_mcp_gateway to current_user;
set local role atoms_mcp_gateway;
select set_config(
  'atoms_test.written',
  private.write_mcp_audit_batch(
    '[{"tool_name": "atoms_get_item", "status": "success", "duration_ms": 4, "request_id": "pgtap-1",
       "project_id": "a0000000-0000-4000-8000-000000000101", "user_id": "a0000000-0000-4000-8000-0000000000a1"}]'::jsonb
  )::text,
  true
);
reset role;
select is(current_setting('atoms_test.written'), '1', 'the gateway writes a batch of one record');
select is(
  (
    select org_id::text from public.mcp_audit_log
    where request_id = 'pgtap-1'
  ),
  'a0000000-0000-4000-8000-000000000001',
  'the writer derives the organisation from the project of a member'
);

select throws_ok(
  $$ delete from public.mcp_audit_log $$, '42501', null, 'even the table owner cannot delete audit records'
);

-- as viewer
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a3", "role": "authenticated"}', true);
select set_config('atoms_test.seen', (select count(*) from public.mcp_audit_log)::text, true);
reset role;
select is(current_setting('atoms_test.seen'), '0', 'a viewer reads no audit record');

-- as admin (Globex)
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "b0000000-0000-4000-8000-0000000000b1", "role": "authenticated"}', true);
select set_config(
  'atoms_test.seen',
  (
    select count(*) from public.mcp_audit_log
    where org_id is distinct from 'b0000000-0000-4000-8000-000000000001'
  )::text,
  true
);
reset role;
select is(current_setting('atoms_test.seen'), '0', 'an admin reads no record of another organisation');

-- as admin (Acme)
set local role authenticated;
select set_config('request.jwt.claims', '{"sub": "a0000000-0000-4000-8000-0000000000a1", "role": "authenticated"}', true);
select set_config(
  'atoms_test.seen',
  (
    select r.page -> 'data' -> 0 ->> 'request_id'
    from public.atoms_get_audit_log('a0000000-0000-4000-8000-000000000101', null, null, null, null, null, 1) as r (page)
  ),
  true
);
reset role;
select is(current_setting('atoms_test.seen'), 'pgtap-1', 'the project''s admin reads its audit log newest first');

select * from finish();
rollback;
