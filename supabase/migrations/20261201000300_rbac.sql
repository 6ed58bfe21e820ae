-- Role-based access control and identity helpers, in the private (unexposed) schema.
-- Objects: private.caller_id; private.org_role, private.project_role, private.has_project_role,
--   private.visible_org_ids, private.project_ids_with_role, private.visible_project_ids, private.admin_org_ids,
--   private.require_project_role; the actor helpers private.current_actor, private.gateway_setting,
--   private.current_session_id, private.current_client_name.
-- Security: the RBAC helpers are security definer (they read organization_members past its RLS), search_path pg_catalog, pg_temp
--   and fully qualified names; identity is always (select auth.uid()), never an argument. EXECUTE for authenticated
--   (policies evaluate them as the caller) and the RPC owner only. Splinter 0029 flags definer functions
--   authenticated can execute: accepted here, the schema is not exposed. The set-returning helpers are PL/pgSQL:
--   a security-definer SQL function is never inlined, so its body would be parsed and planned on every call (once
--   per protected table in every statement); PL/pgSQL caches the plan per session.
-- Errors: not authenticated -> 28000; project unknown or invisible -> PT404 (never "forbidden", so no other
--   tenant's existence leaks); role too low -> 42501 naming both roles.

-- ---- identity ----
create or replace function private.caller_id() returns uuid
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select auth.uid()
$$;

comment on function private.caller_id() is
'atoms: auth.uid() for code running as atoms_rpc_owner (which has no USAGE on schema auth): the verified user the RPC acts for.';
revoke execute on function private.caller_id() from public, anon;
grant execute on function private.caller_id() to authenticated, atoms_rpc_owner;

-- ---- RBAC helpers ----
create or replace function private.org_role(org_id uuid) returns public.member_role
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select m.role
  from public.organization_members as m
  where m.org_id = org_role.org_id
    and m.user_id = (select auth.uid())
$$;

comment on function private.org_role(uuid) is 'atoms: the calling user''s role in an organisation, or null when not a member.';
revoke execute on function private.org_role(uuid) from public, anon;
grant execute on function private.org_role(uuid) to authenticated, atoms_rpc_owner;

create or replace function private.project_role(project_id uuid) returns public.member_role
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select m.role
  from public.projects as p
  inner join public.organization_members as m on m.org_id = p.org_id
  where p.id = project_role.project_id
    and m.user_id = (select auth.uid())
$$;

comment on function private.project_role(uuid) is
'atoms: the calling user''s role in the organisation that owns a project, or null when the project is unknown or not visible.';
revoke execute on function private.project_role(uuid) from public, anon;
grant execute on function private.project_role(uuid) to authenticated, atoms_rpc_owner;

create or replace function private.has_project_role(project_id uuid, min_role public.member_role) returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select coalesce(private.project_role(has_project_role.project_id) >= has_project_role.min_role, false)
$$;

comment on function private.has_project_role(uuid, public.member_role) is
'atoms: true when the calling user holds at least min_role in the project''s organisation.';
revoke execute on function private.has_project_role(uuid, public.member_role) from public, anon;
grant execute on function private.has_project_role(uuid, public.member_role) to authenticated, atoms_rpc_owner;

create or replace function private.visible_org_ids() returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select m.org_id
  from public.organization_members as m
  where m.user_id = (select auth.uid());
end;
$$;

comment on function private.visible_org_ids() is 'atoms: organisations the calling user belongs to (any role). For policies: org_id in (select private.visible_org_ids()).';
revoke execute on function private.visible_org_ids() from public, anon;
grant execute on function private.visible_org_ids() to authenticated, atoms_rpc_owner;

create or replace function private.project_ids_with_role(min_role public.member_role) returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select p.id
  from public.organization_members as m
  inner join public.projects as p on m.org_id = p.org_id
  where
    m.user_id = (select auth.uid())
    and m.role >= project_ids_with_role.min_role;
end;
$$;

comment on function private.project_ids_with_role(public.member_role) is
'atoms: projects in which the calling user holds at least min_role. For policies: project_id in (select private.project_ids_with_role(''editor'')).';
revoke execute on function private.project_ids_with_role(public.member_role) from public, anon;
grant execute on function private.project_ids_with_role(public.member_role) to authenticated, atoms_rpc_owner;

create or replace function private.visible_project_ids() returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select p.id
  from public.organization_members as m
  inner join public.projects as p on m.org_id = p.org_id
  where m.user_id = (select auth.uid());
end;
$$;

comment on function private.visible_project_ids() is
'atoms: projects the calling user can read (viewer and up). For policies: project_id in (select private.visible_project_ids()).';
revoke execute on function private.visible_project_ids() from public, anon;
grant execute on function private.visible_project_ids() to authenticated, atoms_rpc_owner;

create or replace function private.admin_org_ids() returns setof uuid
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select m.org_id
  from public.organization_members as m
  where m.user_id = (select auth.uid())
    and m.role = 'admin'
$$;

comment on function private.admin_org_ids() is
'atoms: organisations in which the calling user is admin. For policies: org_id in (select private.admin_org_ids()).';
revoke execute on function private.admin_org_ids() from public, anon;
grant execute on function private.admin_org_ids() to authenticated, atoms_rpc_owner;

create or replace function private.require_project_role(
  project_id uuid,
  min_role public.member_role
) returns public.member_role
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  caller_role public.member_role;
begin
  if (select auth.uid()) is null then
    raise exception 'not authenticated: this call needs a signed-in user'
      using errcode = '28000', hint = 'Sign in (atoms login) or pass a valid access token.';
  end if;
  caller_role := private.project_role(require_project_role.project_id);
  if caller_role is null then
    raise exception 'project % not found', require_project_role.project_id
      using errcode = 'PT404', hint = 'Call atoms_list_projects to see the projects you can use.';
  end if;
  if caller_role < require_project_role.min_role then
    raise exception 'permission denied: this action needs the % role in the project''s organisation; you have %',
      require_project_role.min_role, caller_role
      using errcode = '42501', hint = 'Ask an admin of the organisation for the ' || require_project_role.min_role || ' role.';
  end if;
  return caller_role;
end;
$$;

comment on function private.require_project_role(uuid, public.member_role) is
'atoms: the first statement of every RPC. Returns the caller''s role; raises 28000 when unauthenticated, PT404 when the project is unknown or invisible, 42501 naming the role held and the role needed.';
revoke execute on function private.require_project_role(uuid, public.member_role) from public, anon;
grant execute on function private.require_project_role(uuid, public.member_role) to authenticated, atoms_rpc_owner;

-- ---- actor (who made a change: DESIGN's actor vocabulary) ----
create or replace function private.current_actor() returns text
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  claimed text;
begin
  -- session_user is the login role; set role / set_config cannot change it. Only the MCP gateway may claim an AI actor.
  if session_user <> 'atoms_mcp_gateway' then
    return 'user';
  end if;
  claimed := current_setting('atoms.actor', true);
  if private.is_actor(claimed) and claimed <> 'user' then
    return claimed;
  end if;
  return 'mcp_other';
end;
$$;

comment on function private.current_actor() is
'atoms: who made the change. ''user'' for every session not logged in as atoms_mcp_gateway (atoms.actor is ignored there); for the gateway its atoms.actor when it is cli, mcp_<client> or import:<format> (private.is_actor), else ''mcp_other'' (the gateway is never a plain user).';
revoke execute on function private.current_actor() from public, anon;
grant execute on function private.current_actor() to authenticated, atoms_rpc_owner;

create or replace function private.gateway_setting(name text, max_length integer) returns text
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select case
    when session_user = 'atoms_mcp_gateway' then
      left(nullif(regexp_replace(current_setting(gateway_setting.name, true), '[\x01-\x1f\x7f]', '', 'g'), ''), gateway_setting.max_length)
  end
$$;

comment on function private.gateway_setting(text, integer) is
'atoms: a transaction setting trusted only from the MCP gateway''s login (null otherwise), control characters removed, capped in length.';
revoke execute on function private.gateway_setting(text, integer) from public, anon;
grant execute on function private.gateway_setting(text, integer) to authenticated, atoms_rpc_owner;

create or replace function private.current_session_id() returns text
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select private.gateway_setting('atoms.session_id', 128)
$$;

comment on function private.current_session_id() is 'atoms: the MCP session id set by the gateway (atoms.session_id, at most 128 characters), else null.';
revoke execute on function private.current_session_id() from public, anon;
grant execute on function private.current_session_id() to authenticated, atoms_rpc_owner;

create or replace function private.current_client_name() returns text
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select private.gateway_setting('atoms.client_name', 100)
$$;

comment on function private.current_client_name() is 'atoms: the MCP client name set by the gateway (atoms.client_name, at most 100 characters), else null.';
revoke execute on function private.current_client_name() from public, anon;
grant execute on function private.current_client_name() to authenticated, atoms_rpc_owner;
