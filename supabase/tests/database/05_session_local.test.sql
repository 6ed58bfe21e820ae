-- Closed to session-local objects, two layers, each tested on its own and each shown to fail when it is removed.
-- Layer a (search paths): every function pins search_path = pg_catalog, pg_temp (TimeZone = UTC beside it only on the
--   history hashing and verifying functions) and every SQL body resolves under that path alone; with TEMP granted,
--   objects planted in pg_temp under the name of every relation and type never run, whatever the API does.
-- Layer b (privileges): no API role may create temporary objects at all.
-- Removing a layer inside this transaction (a scratch function without layer a, TEMP granted back) makes that layer's
-- check fail while the other layer still stops the attack. The PL/pgSQL bodies' resolution under the same path is
-- checked with plpgsql_check by pytest (python/tests/test_session_local.py), where the extension can be installed.
begin;
select plan(16);

\ir ../helpers.psql

-- ---- the checks, as functions so they can be run again after a layer is removed ----
create function pg_temp.own_functions() returns setof oid
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select p.oid
  from pg_catalog.pg_proc as p
  inner join pg_catalog.pg_namespace as n on n.oid = p.pronamespace
  where n.nspname not in ('pg_catalog', 'information_schema', 'auth', 'extensions')
    and n.nspname !~ '^pg_(toast|temp_|toast_temp_)'
    and not exists (
      select 1 from pg_catalog.pg_depend as d
      where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'
    )
$$;

create function pg_temp.functions_without_pinned_search_path() returns setof text
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select p.oid::regprocedure::text
  from pg_catalog.pg_proc as p
  where p.oid in (select pg_temp.own_functions())
    and coalesce(p.proconfig, '{}') is distinct from array['search_path=pg_catalog, pg_temp']
    and not (
      p.proname ~ '^(history_canonical_v[0-9]+|history_row_hash|history_chain_intact|atoms_verify_history)$'
      and p.proconfig::text[] @> array['search_path=pg_catalog, pg_temp', 'TimeZone=UTC']
      and p.proconfig::text[] <@ array['search_path=pg_catalog, pg_temp', 'TimeZone=UTC']
    )
$$;

-- fmgr_sql_validator parses and analyses a SQL body under the current search path (functions with polymorphic
-- arguments are parsed only: their types are known only per call).
create function pg_temp.sql_bodies_unresolved_under_pinned_path() returns setof text
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  f oid;
begin
  for f in
    select p.oid from pg_catalog.pg_proc as p
    inner join pg_catalog.pg_language as l on l.oid = p.prolang
    where l.lanname = 'sql' and p.oid in (select pg_temp.own_functions())
  loop
    begin
      perform pg_catalog.fmgr_sql_validator(f);
    exception when others then
      return next f::regprocedure::text || ': ' || sqlerrm;
    end;
  end loop;
end;
$$;

create function pg_temp.roles_allowed_temporary() returns setof text
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select 'PUBLIC'
  from pg_catalog.pg_database as d, pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) as a
  where d.datname = pg_catalog.current_database() and a.grantee = 0 and a.privilege_type = 'TEMPORARY'
  union all
  select r.rolname::text
  from pg_catalog.pg_roles as r
  where r.rolname in ('anon', 'authenticated', 'service_role', 'authenticator', 'atoms_mcp_gateway', 'atoms_rpc_owner')
    and pg_catalog.has_database_privilege(r.oid, pg_catalog.current_database(), 'TEMPORARY')
$$;

-- ---- layer a, static: the schema as shipped ----
select is_empty(
  'select pg_temp.functions_without_pinned_search_path()',
  'every function of the schemas the migrations create pins search_path = pg_catalog, pg_temp (TimeZone = UTC only beside it, on history hashing)'
);

select is_empty(
  'select pg_temp.sql_bodies_unresolved_under_pinned_path()',
  'every SQL function body resolves under search_path pg_catalog, pg_temp alone: no unqualified name'
);

-- ---- layer b: no API role may create temporary objects ----
select is_empty('select pg_temp.roles_allowed_temporary()', 'neither PUBLIC nor any API role holds TEMPORARY on the database');

select throws_ok(
  $$ select pg_temp.run_as('authenticated', 'a0000000-0000-4000-8000-0000000000a1',
    'create temporary view projects as select 1 as id') $$,
  '42501', null,
  'a signed-in user cannot plant a temporary view'
);

select is_empty(
  $$ select p.oid::regprocedure::text from pg_catalog.pg_proc as p
     where p.oid in (select pg_temp.own_functions()) and p.prosrc ~* '\m(temp|temporary)\s+(table|view|sequence)\M' $$,
  'no function creates a temporary table, view or sequence: nothing of ours needs TEMPORARY'
);

select throws_ok(
  $$ select pg_temp.run_as('atoms_mcp_gateway', null, 'create domain pg_temp.uuid as pg_catalog.uuid') $$,
  '42501', null,
  'the MCP gateway login cannot plant a temporary domain'
);

-- ---- layer a removed for one function, layer b still holds ----
-- A scratch copy of private.project_role without its pinned search path and with unqualified table names, owned by the
-- RPC owner as every definer RPC is (public: the RPC owner may create there).
create function public.scratch_project_role(project_id uuid) returns public.member_role
language sql stable security definer
as $$
  select m.role
  from projects as p
  inner join organization_members as m on m.org_id = p.org_id
  where p.id = scratch_project_role.project_id and m.user_id = (select private.caller_id())
$$;
alter function public.scratch_project_role(uuid) owner to atoms_rpc_owner;
grant execute on function public.scratch_project_role(uuid) to authenticated;
alter function private.visible_project_ids() reset search_path;

select set_eq(
  'select pg_temp.functions_without_pinned_search_path()',
  array['private.visible_project_ids()', 'public.scratch_project_role(uuid)'],
  'the static check names each function whose pinned search path is gone'
);

select is(
  (
    select count(*)::integer from pg_temp.sql_bodies_unresolved_under_pinned_path() as f
    where f like 'public.scratch_project_role(uuid): %'
  ),
  1,
  'the static check names the SQL body with unqualified names'
);

select throws_ok(
  $$ select pg_temp.run_as('authenticated', 'a0000000-0000-4000-8000-0000000000a1',
    'create temporary view projects as select 1 as id') $$,
  '42501', null,
  'without layer a on those functions, layer b still stops the attacker from planting anything'
);

do $$
begin
  alter function private.visible_project_ids() set search_path = pg_catalog, pg_temp;
end
$$;

-- ---- layer b removed: TEMP granted back inside this transaction ----
do $$
begin
  execute pg_catalog.format(
    'grant temporary on database %I to authenticated, atoms_mcp_gateway', pg_catalog.current_database()
  );
end
$$;

select set_eq(
  'select pg_temp.roles_allowed_temporary()',
  array['authenticated', 'atoms_mcp_gateway'],
  'the layer b check names every API role that may create temporary objects again'
);

-- The attacker plants, as authenticated: a view named after every relation and a domain named after every other type
-- the schema uses, each calling a spy that counts who ran it. Sequences count across the sub-transactions that
-- failing calls roll back.
create function pg_temp.plant_session_local_objects() returns integer
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  statements text[];
  statement text;
begin
  -- The statements are composed from the catalog first (as the test's own role), then run as the attacker.
  statements := array(
    -- Each column is a volatile expression, so no filter on it can be folded away before the spy runs.
    select pg_catalog.format(
      'create temporary view %I as select %s where pg_temp.planted_spy(%L)',
      c.relname,
      (
        select pg_catalog.string_agg(
          pg_catalog.format(
            'case when pg_temp.planted_spy(%L) then null::%s end as %I',
            'relation ' || c.relname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attname
          ),
          ', ' order by a.attnum
        )
        from pg_catalog.pg_attribute as a
        where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      ),
      'relation ' || c.relname
    ) || pg_catalog.format('; grant select on pg_temp.%I to public', c.relname)
    from pg_catalog.pg_class as c
    inner join pg_catalog.pg_namespace as n on n.oid = c.relnamespace
    where n.nspname in ('public', 'private', 'auth') and c.relkind in ('r', 'p', 'v', 'm', 'f')
  ) || array(
    with used as (
      select a.atttypid as type_id
      from pg_catalog.pg_attribute as a
      inner join pg_catalog.pg_class as c on c.oid = a.attrelid
      where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace) and a.attnum > 0
      union
      select p.prorettype from pg_catalog.pg_proc as p where p.oid in (select pg_temp.own_functions())
      union
      select unnest(p.proargtypes::oid[]) from pg_catalog.pg_proc as p where p.oid in (select pg_temp.own_functions())
      union
      select t.oid from pg_catalog.pg_type as t where t.typnamespace in ('public'::regnamespace, 'private'::regnamespace)
    ),
    element as (
      select coalesce(nullif(t.typelem, 0::oid), t.oid) as type_id
      from used as u inner join pg_catalog.pg_type as t on t.oid = u.type_id
      where t.typcategory = 'A' or t.typelem = 0::oid
    ),
    planted_type as (
      select distinct on (t.typname) t.oid, t.typname
      from element as e
      inner join pg_catalog.pg_type as t on t.oid = e.type_id
      where t.typtype in ('b', 'd', 'e', 'r', 'm') and t.typname !~ '^_'
        and not exists (
          select 1 from pg_catalog.pg_class as c
          where c.relname = t.typname and c.relnamespace in ('public'::regnamespace, 'private'::regnamespace, 'auth'::regnamespace)
        )
      order by t.typname, t.oid
    )
    select pg_catalog.format(
      'create domain pg_temp.%I as %s check (pg_temp.planted_spy(%L))',
      pt.typname, pg_catalog.format_type(pt.oid, null), 'type ' || pt.typname
    )
    from planted_type as pt
  );

  perform set_config('role', 'authenticated', true);
  create sequence pg_temp.planted_runs_as_caller;
  create sequence pg_temp.planted_runs_as_other_role;
  grant usage on sequence pg_temp.planted_runs_as_caller, pg_temp.planted_runs_as_other_role to public;
  create function pg_temp.planted_spy(what text) returns boolean
  language plpgsql volatile security invoker
  as $spy$
  begin
    if current_user = 'authenticated' then
      perform pg_catalog.nextval('pg_temp.planted_runs_as_caller');
    else
      perform pg_catalog.nextval('pg_temp.planted_runs_as_other_role');
    end if;
    return true;
  end;
  $spy$;
  grant execute on function pg_temp.planted_spy(text) to public;
  foreach statement in array statements loop
    execute statement;
  end loop;
  perform set_config('role', 'none', true);
  return cardinality(statements);
end;
$$;

-- Invitations addressed to the Acme admin (from Globex and from a third organisation), so that accepting and
-- declining run too.
insert into public.organizations (id, name, created_by) values
('c0000000-0000-4000-8000-000000000001', 'Planted probe inviter', 'b0000000-0000-4000-8000-0000000000b1');
insert into public.organization_invitations (id, org_id, email, role, invited_by) values
(
  'b0000000-0000-4000-8000-0000000001e2', 'b0000000-0000-4000-8000-000000000001', 'admin@acme.test', 'viewer',
  'b0000000-0000-4000-8000-0000000000b1'
),
(
  'c0000000-0000-4000-8000-0000000001e3', 'c0000000-0000-4000-8000-000000000001', 'admin@acme.test', 'viewer',
  'b0000000-0000-4000-8000-0000000000b1'
);

-- The rest of the file's own statements look in pg_temp last, as the API's do not: the harness must not trip the spy.
set local search_path = public, extensions, pg_temp;

select cmp_ok(pg_temp.plant_session_local_objects(), '>=', 20, 'the attacker plants a view or domain under every relation and type name');

-- Plans cached before the planting (policies' helpers) are re-made, so every name is resolved again.
discard plans;

create function pg_temp.planted_runs(which text) returns bigint
language sql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
  select coalesce(pg_catalog.pg_sequence_last_value(pg_catalog.format('pg_temp.planted_runs_as_%s', which)::regclass), 0)
$$;

-- Every public function, as the Acme admin (every role check passes), in the order a user would call them.
create function pg_temp.every_public_call() returns table (function_name text, call text)
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  values
    ('atoms_list_projects', 'select public.atoms_list_projects()'),
    ('atoms_list_items', $c$select public.atoms_list_items(project_id => 'a0000000-0000-4000-8000-000000000101', type => 'requirement', domain => 'safety', level => 'System')$c$),
    ('atoms_browse', $c$select public.atoms_browse(project_id => 'a0000000-0000-4000-8000-000000000101')$c$),
    ('atoms_get_item', $c$select public.atoms_get_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'TC-001')$c$),
    ('atoms_search', $c$select public.atoms_search(project_id => 'a0000000-0000-4000-8000-000000000101', query => 'brake OR REQ-001', type => 'requirement')$c$),
    ('atoms_get_coverage', $c$select public.atoms_get_coverage(project_id => 'a0000000-0000-4000-8000-000000000101', domain => 'safety', level => 'System')$c$),
    ('atoms_get_history', $c$select public.atoms_get_history(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001')$c$),
    ('atoms_export_mermaid', $c$select public.atoms_export_mermaid(project_id => 'a0000000-0000-4000-8000-000000000101', root_item_id => 'REQ-001')$c$),
    ('atoms_trace', $c$select public.atoms_trace(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001', direction => 'both', relationship_types => array['child', 'verified_by'])$c$),
    ('atoms_project_summary', $c$select public.atoms_project_summary(project_id => 'a0000000-0000-4000-8000-000000000101')$c$),
    ('atoms_create_item', $c$select public.atoms_create_item(project_id => 'a0000000-0000-4000-8000-000000000101', type => 'requirement', title => 'planted probe', body => 'b', summary => 's', domains => array['safety'], level => 'System', parent_ids => array['REQ-001'])$c$),
    ('atoms_update_item', $c$select public.atoms_update_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001', title => 'planted probe', domains => array['safety'], level => 'Subsystem')$c$),
    ('atoms_list_suspect_links', $c$select public.atoms_list_suspect_links(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'REQ-001')$c$),
    ('atoms_trace_matrix', $c$select public.atoms_trace_matrix(project_id => 'a0000000-0000-4000-8000-000000000101', level => 'Subsystem', domain => 'safety', status => 'suspect')$c$),
    ('atoms_clear_suspect', $c$select public.atoms_clear_suspect(project_id => 'a0000000-0000-4000-8000-000000000101', from_id => 'TC-001', to_id => 'REQ-001', reason => 'planted probe')$c$),
    ('atoms_link_items', $c$select public.atoms_link_items(project_id => 'a0000000-0000-4000-8000-000000000101', from_id => 'TC-007', to_id => 'REQ-007', type => 'verifies', action => 'add')$c$),
    ('atoms_bulk_import', $c$select public.atoms_bulk_import(project_id => 'a0000000-0000-4000-8000-000000000101', items => '[{"type": "note", "title": "planted probe", "domains": ["safety"], "parent_id": "REQ-001"}, {"type": "note", "title": "bad \u0000"}]')$c$),
    ('atoms_record_test_result', $c$select public.atoms_record_test_result(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'TC-007', result => 'passed', note => 'planted probe')$c$),
    ('atoms_update_item', $c$select public.atoms_update_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'TC-007', status => 'failed')$c$),
    ('atoms_delete_item', $c$select public.atoms_delete_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'NOTE-001')$c$),
    ('atoms_restore_item', $c$select public.atoms_restore_item(project_id => 'a0000000-0000-4000-8000-000000000101', item_id => 'NOTE-001')$c$),
    ('atoms_link_items', $c$select public.atoms_link_items(project_id => 'a0000000-0000-4000-8000-000000000101', from_id => 'TC-007', to_id => 'REQ-007', type => 'verifies', action => 'remove')$c$),
    ('atoms_verify_history', $c$select public.atoms_verify_history(project_id => 'a0000000-0000-4000-8000-000000000101')$c$),
    ('atoms_get_audit_log', $c$select public.atoms_get_audit_log(project_id => 'a0000000-0000-4000-8000-000000000101', status => 'success')$c$),
    ('atoms_create_organization', $c$select public.atoms_create_organization(name => 'planted probe')$c$),
    ('atoms_list_my_invitations', $c$select public.atoms_list_my_invitations()$c$),
    ('atoms_accept_invitation', $c$select public.atoms_accept_invitation(invitation_id => 'b0000000-0000-4000-8000-0000000001e2')$c$),
    ('atoms_decline_invitation', $c$select public.atoms_decline_invitation(invitation_id => 'c0000000-0000-4000-8000-0000000001e3')$c$),
    ('atoms_invite_member', $c$select public.atoms_invite_member(org_id => 'a0000000-0000-4000-8000-000000000001', email => 'planted@probe.test', role => 'viewer')$c$),
    ('atoms_list_members', $c$select public.atoms_list_members(org_id => 'a0000000-0000-4000-8000-000000000001')$c$),
    ('atoms_set_member_role', $c$select public.atoms_set_member_role(org_id => 'a0000000-0000-4000-8000-000000000001', user_id => 'a0000000-0000-4000-8000-0000000000a3', role => 'editor')$c$),
    ('atoms_remove_member', $c$select public.atoms_remove_member(org_id => 'a0000000-0000-4000-8000-000000000001', user_id => 'a0000000-0000-4000-8000-0000000000a3')$c$),
    ('atoms_create_project', $c$select public.atoms_create_project(org_id => 'a0000000-0000-4000-8000-000000000001', name => 'planted probe', description => 'd')$c$),
    ('atoms_update_project', $c$select public.atoms_update_project(project_id => 'a0000000-0000-4000-8000-000000000101', name => 'planted probe', settings => '{"require_change_reason": true}')$c$),
    ('atoms_archive_project', $c$select public.atoms_archive_project(project_id => 'a0000000-0000-4000-8000-000000000101', archived => true)$c$),
    ('atoms_archive_project', $c$select public.atoms_archive_project(project_id => 'a0000000-0000-4000-8000-000000000101', archived => false)$c$),
    ('atoms_get_org_history', $c$select public.atoms_get_org_history(org_id => 'a0000000-0000-4000-8000-000000000001')$c$),
    ('atoms_verify_history', $c$select public.atoms_verify_history(org_id => 'a0000000-0000-4000-8000-000000000001')$c$),
    ('atoms_get_audit_log', $c$select public.atoms_get_audit_log(org_id => 'a0000000-0000-4000-8000-000000000001')$c$),
    ('atoms_check_rate_limit', $c$select to_jsonb(r) from public.atoms_check_rate_limit("limit" => 60, window_seconds => 60) as r$c$),
    ('atoms_take_rate_limit_slot', $c$select to_jsonb(public.atoms_take_rate_limit_slot("limit" => 60, window_seconds => 60))$c$),
    ('service_role_redact_profile', $c$select public.service_role_redact_profile(user_id => 'c0000000-0000-4000-8000-0000000000c1')$c$)
$$;

create function pg_temp.failed_calls() returns setof text
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  c record;
begin
  for c in select * from pg_temp.every_public_call() loop
    begin
      perform pg_temp.call_as(
        case when c.function_name like 'service\_role\_%' then 'service_role' else 'authenticated' end,
        'a0000000-0000-4000-8000-0000000000a1',
        c.call
      );
    exception when others then
      perform set_config('role', 'none', true);
      return next c.function_name || ': ' || sqlerrm;
    end;
  end loop;
end;
$$;

-- Reads every table its role may read, through that role's policies.
create function pg_temp.failed_reads(api_role text, user_id text) returns setof text
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  rel regclass;
begin
  for rel in
    select c.oid::regclass from pg_catalog.pg_class as c
    where c.relnamespace in ('public'::regnamespace, 'private'::regnamespace) and c.relkind in ('r', 'p')
      and pg_catalog.has_table_privilege(failed_reads.api_role, c.oid, 'SELECT')
  loop
    begin
      perform pg_temp.call_as(
        failed_reads.api_role, failed_reads.user_id, pg_catalog.format('select to_jsonb(count(*)) from %s', rel)
      );
    exception when others then
      perform set_config('role', 'none', true);
      return next rel::text || ': ' || sqlerrm;
    end;
  end loop;
end;
$$;

select set_eq(
  'select distinct function_name from pg_temp.every_public_call()',
  $$ select p.proname::text from pg_catalog.pg_proc as p
     where p.pronamespace = 'public'::regnamespace and p.proname <> 'scratch_project_role'
       and p.oid in (select pg_temp.own_functions()) $$,
  'the dynamic check calls every public function'
);

-- service_role_redact_profile erases a deleted account's tombstone: the outsider (in no organisation) leaves first.
delete from auth.users
where id = 'c0000000-0000-4000-8000-0000000000c1';

select is_empty('select pg_temp.failed_calls()', 'every public function still works with the planted objects in place');

select is_empty(
  $$ select pg_temp.failed_reads('authenticated', 'a0000000-0000-4000-8000-0000000000a3')
     union all select pg_temp.failed_reads('authenticated', 'a0000000-0000-4000-8000-0000000000a1')
     union all select pg_temp.failed_reads('atoms_rpc_owner', 'a0000000-0000-4000-8000-0000000000a1') $$,
  'every table reads through the viewer''s, the admin''s and the RPC owner''s policies with the planted objects in place'
);

select is(
  array[pg_temp.planted_runs('caller'), pg_temp.planted_runs('other_role')],
  array[0, 0]::bigint[],
  'with layer a in place no planted object ever ran: not as another role, not even as the attacker'
);

-- The scratch copy without layer a: the same planted objects now run inside it, as the RPC owner.
select pg_temp.call_as(
  'authenticated', 'a0000000-0000-4000-8000-0000000000a1',
  $c$ select to_jsonb(public.scratch_project_role('a0000000-0000-4000-8000-000000000101')) $c$
);

select cmp_ok(
  pg_temp.planted_runs('other_role'), '>', 0::bigint,
  'the dynamic check catches a function without layer a: a planted object ran as the RPC owner'
);

select * from finish();
rollback;
