-- People: a sign-up with a hostile name goes through Supabase Auth's insert and leaves a cleaned profile; each
-- organisation sees only its own people; deleting an account leaves a tombstone, ends its memberships and keeps
-- every record, names included, with the history chain intact. pg_temp.call_as (supabase/tests/helpers.psql)
-- switches to an API role for one call, as PostgREST does.
begin;
select plan(10);

\ir ../helpers.psql

-- ---- sign-up (as Supabase Auth inserts it) ----
select lives_ok(
  $$
    insert into auth.users (
      instance_id, id, aud, role, email, encrypted_password, raw_app_meta_data, raw_user_meta_data, created_at, updated_at
    ) values (
      '00000000-0000-0000-0000-000000000000', 'e0000000-0000-4000-8000-0000000000e1', 'authenticated', 'authenticated',
      'mallory@example.test', 'x', '{"provider": "email"}',
      jsonb_build_object('name', 'Mal' || chr(8238) || 'lory' || chr(27) || '[2J' || repeat('y', 5000)), now(), now()
    )
  $$,
  'a sign-up with bidirectional overrides, escape sequences and 5000 characters in its name succeeds'
);

select is(
  (
    select display_name from public.profiles
    where id = 'e0000000-0000-4000-8000-0000000000e1'
  ),
  'Mal lory [2J' || repeat('y', 188),
  'its profile holds the name cleaned and cut to 200 characters'
);

-- ---- who sees which profile ----
select results_eq(
  $$ select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a3',
       'select to_jsonb(array_agg(email order by email)) from public.profiles') $$,
  $$ values ('["admin@acme.test", "editor@acme.test", "viewer@acme.test"]'::jsonb) $$,
  'the Acme viewer sees the profiles of Acme''s people'
);

select results_eq(
  $$ select pg_temp.call_as('authenticated', 'b0000000-0000-4000-8000-0000000000b1',
       'select to_jsonb(count(*)) from public.profiles where email like ''%@acme.test''') $$,
  $$ values ('0'::jsonb) $$,
  'the Globex admin sees no profile of Acme''s'
);

-- ---- deleting an account that wrote history ----
select lives_ok(
  $$ delete from auth.users where id = 'a0000000-0000-4000-8000-0000000000a1' $$,
  'deleting the account of Acme''s only admin, who wrote its history, succeeds'
);

select results_eq(
  $$ select email, display_name, deleted_at is not null from public.profiles
     where id = 'a0000000-0000-4000-8000-0000000000a1' $$,
  $$ values ('admin@acme.test', 'Ada Admin', true) $$,
  'the profile stays as a tombstone with the last known email and name'
);

select is_empty(
  $$ select 1 from public.organization_members where user_id = 'a0000000-0000-4000-8000-0000000000a1' $$,
  'the account''s memberships have ended'
);

select results_eq(
  $$ select count(*) > 0, count(*) = count(*) filter (where changed_by_name = 'Ada Admin') from public.change_history
     where changed_by = 'a0000000-0000-4000-8000-0000000000a1' $$,
  $$ values (true, true) $$,
  'every history row of the account is kept, with its name'
);

select ok(
  private.history_chain_intact('project', 'a0000000-0000-4000-8000-000000000101'),
  'the project''s history chain still verifies'
);

select results_eq(
  $$ select pg_temp.call_as('authenticated', 'a0000000-0000-4000-8000-0000000000a3',
       'select to_jsonb(display_name) from public.profiles where id = ''a0000000-0000-4000-8000-0000000000a1''') $$,
  $$ values ('"Ada Admin"'::jsonb) $$,
  'a remaining member still reads the deleted person''s name'
);

select * from finish();
rollback;
