-- Write path: role checks of the write RPCs, validation, soft delete, append-only history and its hash chain.
-- Actors are the seeded Acme users (admin a1, editor a2, viewer a3) and the Globex admin (b1). pg_temp.call_as
-- (supabase/tests/helpers.psql) switches to an API role for one call, as PostgREST does.
begin;
select plan(16);

\ir ../helpers.psql

-- ---- as viewer ----
select throws_ok(
  $$ select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a3',
    $c$ select public.atoms_create_item(project_id => 'a0000000-0000-4000-8000-000000000101', type => 'note', title => 'v') $c$) $$,
  '42501', null,
  'a viewer cannot create an item (permission denied naming both roles)'
);

select is(
  (
    select count(*) from public.items
    where project_id = 'a0000000-0000-4000-8000-000000000101'
  ), 20::bigint,
  'the denied create wrote no item'
);

select throws_ok(
  $$ select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a3',
    $c$ select public.atoms_delete_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001') $c$) $$,
  '42501', null,
  'a viewer cannot delete an item'
);

-- ---- as another organisation's admin and as anon ----
select throws_ok(
  $$ select pg_temp.call_as('authenticated', 'b0000000-0000-4000-8000-0000000000b1',
    $c$ select public.atoms_update_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001', title => 'x') $c$) $$,
  'PT404', null,
  'an admin of another organisation is told the project is not found'
);

select throws_ok(
  $$ select pg_temp.call_as('anon', null,
    $c$ select public.atoms_create_item(project_id => 'a0000000-0000-4000-8000-000000000101', type => 'note', title => 'a') $c$) $$,
  '42501', null,
  'anon has no EXECUTE on the write RPCs'
);

-- ---- as editor ----
select is(
  pg_temp.call_as(
    'authenticated', 'a0000000-0000-4000-8000-0000000000a2',
    $c$ select public.atoms_create_item(project_id => 'a0000000-0000-4000-8000-000000000101', type => 'requirement', title => 'Brake light') $c$
  ) ->> 'id',
  'REQ-009',
  'an editor creates the next requirement key, REQ-009'
);

select throws_ok(
  $$ select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a2',
    $c$ select public.atoms_create_item(project_id => 'a0000000-0000-4000-8000-000000000101', type => 'requirement', title => '') $c$) $$,
  '22023', null,
  'an empty title is a validation error'
);

select throws_ok(
  $$ select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a2',
    $c$ select public.atoms_link_items(project_id => 'a0000000-0000-4000-8000-000000000101', from_id => 'REQ-007', to_id => 'REQ-001', type => 'child') $c$) $$,
  '22023', null,
  'a link that would close a hierarchy cycle is refused'
);

select throws_ok(
  $$ select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a2',
    $c$ select public.atoms_restore_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001') $c$) $$,
  '42501', null,
  'an editor cannot restore: restore is admin-only'
);

select is(
  pg_temp.call_as(
    'authenticated', 'a0000000-0000-4000-8000-0000000000a2',
    $c$ select public.atoms_delete_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-009') $c$
  ) ->> 'message',
  'Item REQ-009 has been soft-deleted',
  'an editor soft-deletes an item'
);

select is(
  (
    select h.event_type || '/' || h.actor from public.change_history as h
    where h.project_id = 'a0000000-0000-4000-8000-000000000101'
    order by h.chain_seq desc limit 1
  ),
  'deleted/user',
  'the soft delete is in the history, attributed to a user'
);

-- ---- as the table owner ----
select throws_ok(
  $$ delete from public.items where key = 'REQ-009' $$,
  '42501', null,
  'not even the table owner can physically delete an item'
);

select throws_ok(
  $$ truncate public.change_history cascade $$,
  '42501', null,
  'not even the table owner can truncate the history'
);

select throws_ok(
  $$ update public.change_history set actor = 'mcp_claude' $$,
  '42501', null,
  'history rows cannot be rewritten by anyone'
);

select is(
  pg_temp.call_as(
    'authenticated', 'a0000000-0000-4000-8000-0000000000a3',
    $c$ select public.atoms_verify_history(project_id => 'a0000000-0000-4000-8000-000000000101') $c$
  ) -> 'intact',
  'true'::jsonb,
  'a viewer verifies the project history chain: intact'
);

select is(
  private.history_chain_intact('project', 'b0000000-0000-4000-8000-000000000101'),
  true,
  'the other organisation''s chain is intact too'
);

select * from finish();
rollback;
