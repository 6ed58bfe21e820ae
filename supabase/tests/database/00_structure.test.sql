-- Structure: RLS everywhere (pinned search paths: 05_session_local), no definer function for anon or PUBLIC, roles as designed,
-- documented objects and the indexes the policies rely on. Run with `make test-pgtap` (pg_prove).
begin;
select plan(21);

select has_schema('private', 'the private schema exists');

select schema_privs_are('private', 'anon', array[]::text[], 'anon has no privilege on the private schema');

select is_empty(
  $$
    select format('%s.%s', n.nspname, c.relname)
    from pg_catalog.pg_class as c
    inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
    where n.nspname in ('public', 'private') and c.relkind in ('r', 'p') and not c.relrowsecurity
  $$,
  'row level security is enabled on every table in public and private'
);

select is_empty(
  $$
    select p.oid::regprocedure::text
    from pg_catalog.pg_proc as p
    where p.prosecdef
      and p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
      and (
        has_function_privilege('anon', p.oid, 'execute')
        or exists (
          select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) as a
          where a.grantee = 0 and a.privilege_type = 'EXECUTE'
        )
      )
  $$,
  'no security-definer function is executable by anon or PUBLIC'
);

select is_empty(
  $$
    select c.oid::regclass::text
    from pg_catalog.pg_class as c
    where c.relkind = 'v'
      and c.relnamespace in ('public'::regnamespace, 'private'::regnamespace)
      and not coalesce(c.reloptions @> array['security_invoker=true'], false)
  $$,
  'every view is security_invoker'
);

select is_empty(
  $$
    select c.oid::regclass::text
    from pg_catalog.pg_class as c
    where c.relkind in ('r', 'p')
      and c.relnamespace in ('public'::regnamespace, 'private'::regnamespace)
      and obj_description(c.oid, 'pg_class') is null
  $$,
  'every table is documented with comment on table'
);

select is_empty(
  $$
    select p.oid::regprocedure::text
    from pg_catalog.pg_proc as p
    where p.pronamespace in ('public'::regnamespace, 'private'::regnamespace)
      and obj_description(p.oid, 'pg_proc') is null
  $$,
  'every function is documented with comment on function'
);

select is_empty(
  $$
    select format('%s on %s', pol.polname, pol.polrelid::regclass)
    from pg_catalog.pg_policy as pol
    where pol.polroles = '{0}'
  $$,
  'no policy applies to PUBLIC: every policy names its role'
);

select is_empty(
  $$
    select format('%s on %s', pol.polname, pol.polrelid::regclass)
    from pg_catalog.pg_policy as pol
    where pol.polcmd = '*'
  $$,
  'no policy is written for all commands at once'
);

-- ---- roles ----
select is(
  (
    select rolinherit from pg_catalog.pg_roles
    where rolname = 'atoms_mcp_gateway'
  ), false,
  'the gateway role does not inherit privileges'
);

select is(
  (
    select rolbypassrls or rolsuper from pg_catalog.pg_roles
    where rolname = 'atoms_mcp_gateway'
  ), false,
  'the gateway role neither bypasses RLS nor is a superuser'
);

select set_eq(
  $$
    select g.rolname::text
    from pg_catalog.pg_auth_members as m
    inner join pg_catalog.pg_roles as r on r.oid = m.member
    inner join pg_catalog.pg_roles as g on g.oid = m.roleid
    where r.rolname = 'atoms_mcp_gateway'
  $$,
  array['anon', 'authenticated'],
  'the gateway role is a member of anon and authenticated only'
);

select is(
  (
    select rolcanlogin or rolbypassrls or rolsuper from pg_catalog.pg_roles
    where rolname = 'atoms_rpc_owner'
  ), false,
  'the RPC owner cannot log in and does not bypass RLS'
);

select is(
  (
    select rolbypassrls from pg_catalog.pg_roles
    where rolname = 'service_role'
  ), true,
  'service_role bypasses RLS, as on Supabase'
);

-- ---- indexes the policies and foreign keys rely on ----
select has_index('public', 'organization_members', 'organization_members_user_id_idx', 'memberships are indexed by user');
select has_index('public', 'projects', 'projects_org_id_idx', 'projects are indexed by organisation');
select has_index('public', 'items', 'items_project_id_key_key', 'items are unique and indexed by (project, key)');
select has_index('public', 'items', 'items_project_id_created_at_idx', 'live items are indexed in list order');
select has_index('public', 'item_links', 'item_links_live_edge_key', 'a live edge is unique');
select has_index('public', 'test_results', 'test_results_item_id_recorded_at_idx', 'results are indexed by item, newest first');
select has_index('public', 'change_history', 'change_history_scope_scope_id_chain_seq_key', 'history is indexed by chain position');

select * from finish();
rollback;
