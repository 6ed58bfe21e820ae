-- Role-based access control helpers, in the private (unexposed) schema.
-- Objects: private.org_role, private.project_role, private.has_project_role,
--   private.visible_org_ids, private.visible_project_ids, private.project_ids_with_role,
--   private.require_project_role.
-- Security: security definer (they read organization_members past its RLS), search_path '' and
--   fully qualified names; identity is always (select auth.uid()), never an argument. EXECUTE for
--   authenticated (policies evaluate them as the caller) and the RPC owner only. Splinter 0029
--   flags definer functions authenticated can execute: accepted here, the schema is not exposed.
-- Errors: not authenticated -> 28000; project unknown or invisible -> PT404 (never "forbidden",
--   so no other tenant's existence leaks); role too low -> 42501 naming both roles.

-- ---- helpers ----
create or replace function private.org_role(org_id uuid) returns public.member_role
language sql stable security definer set search_path = ''
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
language sql stable security definer set search_path = ''
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
language sql stable security definer set search_path = ''
as $$
  select coalesce(private.project_role(has_project_role.project_id) >= has_project_role.min_role, false)
$$;

comment on function private.has_project_role(uuid, public.member_role) is
'atoms: true when the calling user holds at least min_role in the project''s organisation.';
revoke execute on function private.has_project_role(uuid, public.member_role) from public, anon;
grant execute on function private.has_project_role(uuid, public.member_role) to authenticated, atoms_rpc_owner;

create or replace function private.visible_org_ids() returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select m.org_id
  from public.organization_members as m
  where m.user_id = (select auth.uid())
$$;

comment on function private.visible_org_ids() is 'atoms: organisations the calling user belongs to (any role). For policies: org_id in (select private.visible_org_ids()).';
revoke execute on function private.visible_org_ids() from public, anon;
grant execute on function private.visible_org_ids() to authenticated, atoms_rpc_owner;

create or replace function private.project_ids_with_role(min_role public.member_role) returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select p.id
  from public.organization_members as m
  inner join public.projects as p on p.org_id = m.org_id
  where m.user_id = (select auth.uid())
    and m.role >= project_ids_with_role.min_role
$$;

comment on function private.project_ids_with_role(public.member_role) is
'atoms: projects in which the calling user holds at least min_role. For policies: project_id in (select private.project_ids_with_role(''editor'')).';
revoke execute on function private.project_ids_with_role(public.member_role) from public, anon;
grant execute on function private.project_ids_with_role(public.member_role) to authenticated, atoms_rpc_owner;

create or replace function private.visible_project_ids() returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select private.project_ids_with_role('viewer')
$$;

comment on function private.visible_project_ids() is
'atoms: projects the calling user can read (viewer and up). For policies: project_id in (select private.visible_project_ids()).';
revoke execute on function private.visible_project_ids() from public, anon;
grant execute on function private.visible_project_ids() to authenticated, atoms_rpc_owner;

create or replace function private.require_project_role(
  project_id uuid,
  min_role public.member_role
) returns public.member_role
language plpgsql stable security definer set search_path = ''
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
