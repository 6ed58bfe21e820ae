-- Organisation administration RPCs (toolset admin: the organisation's admins): invitations, members and their roles,
-- projects and their settings, and the organisation's history.
-- Objects: public.atoms_invite_member, public.atoms_list_members, public.atoms_set_member_role,
--   public.atoms_remove_member, public.atoms_create_project, public.atoms_update_project, public.atoms_archive_project,
--   public.atoms_get_org_history; private.org_history_event (one history row as the tool shows it).
-- Security: security definer owned by atoms_rpc_owner, EXECUTE for authenticated only; each validates every argument
--   (22023) and checks the caller's role first: private.require_org_role(org, 'admin') or
--   private.require_project_role(project, 'admin'), so another organisation is "not found" (PT404), never
--   "forbidden". Membership changes lock the organisation row (private.lock_organization) and re-check the caller's
--   role after the wait: the last admin can be neither removed nor demoted, also when two admins act at once.
--   An invitation's answer is the same whether or not the email has an account.

-- ---- invitations ----
create or replace function public.atoms_invite_member(org_id text, email text, role text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  org uuid := private.require_uuid(atoms_invite_member.org_id, 'org_id');
  address text;
  member uuid;
  member_role public.member_role;
  open_invitation public.organization_invitations;
begin
  perform private.require_org_role(org, 'admin');
  address := private.require_email(atoms_invite_member.email, 'email');
  perform private.require_enum(atoms_invite_member.role, 'role', null::public.member_role);
  perform private.lock_organization(org);

  member := private.member_id_by_email(org, address);
  if member is not null then
    select m.role into member_role from public.organization_members as m where m.org_id = org and m.user_id = member;
    return jsonb_build_object(
      'org_id', org, 'email', address, 'role', member_role, 'status', 'member', 'changed', false,
      'message', address || ' is already a member (' || member_role || '); nothing changed. Use atoms_set_member_role to change the role.'
    );
  end if;

  -- A stale open invitation is closed as expired before a new one is issued.
  update public.organization_invitations as i
  set status = 'expired', responded_at = now()
  where i.org_id = org and i.email = address and i.status = 'pending' and i.expires_at <= now();

  select * into open_invitation
  from public.organization_invitations as i
  where i.org_id = org and i.email = address and i.status = 'pending';
  if open_invitation.id is not null then
    return jsonb_build_object(
      'invitation_id', open_invitation.id, 'org_id', org, 'email', address, 'role', open_invitation.role,
      'status', 'pending', 'expires_at', private.iso_utc(open_invitation.expires_at), 'changed', false,
      'message', 'An invitation for ' || address || ' is already pending (' || open_invitation.role
      || ') until the invitee accepts or it expires; nothing changed.'
    );
  end if;

  insert into public.organization_invitations (org_id, email, role, invited_by)
  values (org, address, atoms_invite_member.role::public.member_role, (select private.caller_id()))
  returning * into open_invitation;
  return jsonb_build_object(
    'invitation_id', open_invitation.id, 'org_id', org, 'email', address, 'role', open_invitation.role,
    'status', 'pending', 'expires_at', private.iso_utc(open_invitation.expires_at), 'changed', true,
    'message', 'Invitation pending: ' || address || ' joins as ' || open_invitation.role
    || ' after accepting it (atoms_accept_invitation) with a confirmed email, before it expires.'
  );
end;
$$;

comment on function public.atoms_invite_member(text, text, text) is
'atoms tool atoms_invite_member (admin; security definer): invites an email (case-insensitive) with a role; the invitation stays pending until the invitee accepts and expires after 14 days. The answer is the same whether or not the email has an account; inviting a member or re-inviting a pending email changes nothing and says so. Returns {invitation_id, org_id, email, role, status, expires_at, changed, message}.';
alter function public.atoms_invite_member(text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_invite_member(text, text, text) from public, anon;
grant execute on function public.atoms_invite_member(text, text, text) to authenticated;

-- ---- members ----
create or replace function public.atoms_list_members(
  org_id text,
  "limit" integer default 100,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  org uuid := private.require_uuid(atoms_list_members.org_id, 'org_id');
  page_limit integer;
  page_offset integer;
  total bigint;
  members jsonb;
  invitations jsonb;
  org_name text;
begin
  perform private.require_org_role(org, 'admin');
  page_limit := private.require_int_range(atoms_list_members."limit", 'limit', 1, 200);
  page_offset := private.require_int_range(atoms_list_members."offset", 'offset', 0, 2147483647);

  select o.name into org_name from public.organizations as o where o.id = org;
  select count(*) into total from public.organization_members as m where m.org_id = org;

  select coalesce(jsonb_agg(
    jsonb_build_object(
      'user_id', x.user_id, 'email', x.email, 'name', x.name, 'role', x.role, 'joined_at', private.iso_utc(x.created_at)
    ) order by x.email, x.user_id
  ), '[]'::jsonb) into members
  from (
    select m.user_id, u.email, u.name, m.role, m.created_at
    from public.organization_members as m
    left join lateral private.user_profiles(array[m.user_id]) as u on true
    where m.org_id = org
    order by u.email, m.user_id
    limit page_limit offset page_offset
  ) as x;

  select coalesce(jsonb_agg(
    jsonb_build_object(
      'invitation_id', i.id, 'email', i.email, 'role', i.role, 'invited_by', i.invited_by,
      'invited_by_email', u.email, 'created_at', private.iso_utc(i.created_at), 'expires_at', private.iso_utc(i.expires_at)
    ) order by i.created_at, i.id
  ), '[]'::jsonb) into invitations
  from public.organization_invitations as i
  left join lateral private.user_profiles(array[i.invited_by]) as u on true
  where i.org_id = org and i.status = 'pending' and i.expires_at > now();

  return jsonb_build_object(
    'org_id', org,
    'org_name', org_name,
    'members', members,
    'invitations', invitations,
    'meta', jsonb_build_object(
      'total_count', total, 'limit', page_limit, 'offset', page_offset, 'has_more', page_offset + page_limit < total
    )
  );
end;
$$;

comment on function public.atoms_list_members(text, integer, integer) is
'atoms tool atoms_list_members (admin; security definer): an organisation''s members by email (a page: limit 1-200, 100) with their roles, and every pending, unexpired invitation. Returns {org_id, org_name, members: [{user_id, email, name, role, joined_at}], invitations: [{invitation_id, email, role, invited_by, invited_by_email, created_at, expires_at}], meta: {total_count, limit, offset, has_more} (of members)}.';
alter function public.atoms_list_members(text, integer, integer) owner to atoms_rpc_owner;
revoke execute on function public.atoms_list_members(text, integer, integer) from public, anon;
grant execute on function public.atoms_list_members(text, integer, integer) to authenticated;

create or replace function private.require_member(org_id uuid, user_id uuid) returns public.member_role
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  found public.member_role;
begin
  select m.role into found
  from public.organization_members as m
  where m.org_id = require_member.org_id and m.user_id = require_member.user_id;
  if found is null then
    raise exception 'user % is not a member of this organisation', require_member.user_id
      using errcode = 'PT404', hint = 'Call atoms_list_members to see the members and their user ids.';
  end if;
  return found;
end;
$$;

comment on function private.require_member(uuid, uuid) is 'atoms: a member''s role in an organisation the caller can read, or PT404.';
revoke execute on function private.require_member(uuid, uuid) from public, anon;
grant execute on function private.require_member(uuid, uuid) to atoms_rpc_owner;

create or replace function private.refuse_losing_last_admin(org_id uuid, user_id uuid, action text) returns void
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  -- Called with the organisation row locked (private.lock_organization), so the count cannot change underneath.
  if not exists (
    select 1 from public.organization_members as m
    where m.org_id = refuse_losing_last_admin.org_id and m.role = 'admin' and m.user_id <> refuse_losing_last_admin.user_id
  ) then
    raise exception 'cannot % the last admin of the organisation', refuse_losing_last_admin.action
      using errcode = 'PT409', hint = 'Make another member admin first (atoms_set_member_role).';
  end if;
end;
$$;

comment on function private.refuse_losing_last_admin(uuid, uuid, text) is
'atoms: PT409 unless the organisation has an admin other than user_id. Call it with the organisation row locked.';
revoke execute on function private.refuse_losing_last_admin(uuid, uuid, text) from public, anon;
grant execute on function private.refuse_losing_last_admin(uuid, uuid, text) to atoms_rpc_owner;

create or replace function public.atoms_set_member_role(org_id text, user_id text, role text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  org uuid := private.require_uuid(atoms_set_member_role.org_id, 'org_id');
  target uuid;
  new_role public.member_role;
  old_role public.member_role;
  target_email text;
begin
  perform private.require_org_role(org, 'admin');
  target := private.require_uuid(atoms_set_member_role.user_id, 'user_id');
  new_role := private.require_enum(atoms_set_member_role.role, 'role', null::public.member_role)::public.member_role;
  perform private.lock_organization(org);
  old_role := private.require_member(org, target);
  if old_role = 'admin' and new_role <> 'admin' then
    perform private.refuse_losing_last_admin(org, target, 'demote');
  end if;
  if old_role <> new_role then
    update public.organization_members as m set role = new_role where m.org_id = org and m.user_id = target;
  end if;
  select p.email into target_email from private.user_profiles(array[target]) as p;
  return jsonb_build_object(
    'org_id', org, 'user_id', target, 'email', target_email, 'old_role', old_role, 'role', new_role,
    'changed', old_role <> new_role,
    'message', case
      when old_role = new_role then coalesce(target_email, target::text) || ' already has the role ' || new_role || '; nothing changed.'
      else coalesce(target_email, target::text) || ' is now ' || new_role || ' (was ' || old_role || ').'
    end
  );
end;
$$;

comment on function public.atoms_set_member_role(text, text, text) is
'atoms tool atoms_set_member_role (admin; security definer): changes a member''s role (viewer | editor | admin); the last admin cannot be demoted (PT409, also under concurrent demotions); a non-member is PT404. Returns {org_id, user_id, email, old_role, role, changed, message}.';
alter function public.atoms_set_member_role(text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_set_member_role(text, text, text) from public, anon;
grant execute on function public.atoms_set_member_role(text, text, text) to authenticated;

create or replace function public.atoms_remove_member(org_id text, user_id text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  org uuid := private.require_uuid(atoms_remove_member.org_id, 'org_id');
  target uuid;
  old_role public.member_role;
  target_email text;
begin
  perform private.require_org_role(org, 'admin');
  target := private.require_uuid(atoms_remove_member.user_id, 'user_id');
  perform private.lock_organization(org);
  old_role := private.require_member(org, target);
  if old_role = 'admin' then
    perform private.refuse_losing_last_admin(org, target, 'remove');
  end if;
  delete from public.organization_members as m where m.org_id = org and m.user_id = target;
  select p.email into target_email from private.user_profiles(array[target]) as p;
  return jsonb_build_object(
    'org_id', org, 'user_id', target, 'email', target_email, 'old_role', old_role, 'removed', true,
    'message', coalesce(target_email, target::text) || ' is no longer a member; their next call is refused.'
  );
end;
$$;

comment on function public.atoms_remove_member(text, text) is
'atoms tool atoms_remove_member (admin; security definer): removes a member from the organisation (effective at their next call); the last admin cannot be removed (PT409), also not by themself; a non-member is PT404. Returns {org_id, user_id, email, old_role, removed, message}.';
alter function public.atoms_remove_member(text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_remove_member(text, text) from public, anon;
grant execute on function public.atoms_remove_member(text, text) to authenticated;

-- ---- projects ----
create or replace function private.project_view(p public.projects) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'project_id', project_view.p.id,
    'org_id', project_view.p.org_id,
    'name', project_view.p.name,
    'description', project_view.p.description,
    'settings', jsonb_build_object('require_change_reason', false) || project_view.p.settings,
    'archived', project_view.p.archived_at is not null,
    'archived_at', private.iso_utc(project_view.p.archived_at)
  )
$$;

comment on function private.project_view(public.projects) is
'atoms: a project as the team tools return it: {project_id, org_id, name, description, settings (defaults filled in), archived, archived_at}.';
revoke execute on function private.project_view(public.projects) from public, anon;
grant execute on function private.project_view(public.projects) to atoms_rpc_owner;

create or replace function public.atoms_create_project(org_id text, name text, description text default null) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  org uuid := private.require_uuid(atoms_create_project.org_id, 'org_id');
  new_id uuid := gen_random_uuid();
  created public.projects;
begin
  perform private.require_org_role(org, 'admin');
  perform private.require_single_line_text(btrim(atoms_create_project.name), 'name', 1, 200);
  perform private.require_text(atoms_create_project.description, 'description', 0, 2000);
  -- No RETURNING: the select policy's project list is taken before the insert, so the new row is read afterwards.
  insert into public.projects (id, org_id, name, description, created_by)
  values (
    new_id, org, btrim(atoms_create_project.name), coalesce(atoms_create_project.description, ''), (select private.caller_id())
  );
  select * into created from public.projects as p where p.id = new_id;
  return private.project_view(created) || jsonb_build_object(
    'message', 'Project created. Members of the organisation see it in atoms_list_projects with their organisation role.'
  );
end;
$$;

comment on function public.atoms_create_project(text, text, text) is
'atoms tool atoms_create_project (admin; security definer): creates a project in the organisation (name 1-200 characters, one line; description up to 2000); every member sees it with their organisation role. Returns {project_id, org_id, name, description, settings, archived, archived_at, message}.';
alter function public.atoms_create_project(text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_create_project(text, text, text) from public, anon;
grant execute on function public.atoms_create_project(text, text, text) to authenticated;

create or replace function public.atoms_update_project(
  project_id text,
  name text default null,
  description text default null,
  settings json default null
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_update_project.project_id, 'project_id');
  target public.projects;
  updated public.projects;
  given_settings jsonb;
  given text[] := '{}'::text[];
begin
  perform private.require_project_role(project, 'admin');
  if atoms_update_project.name is not null then
    perform private.require_single_line_text(btrim(atoms_update_project.name), 'name', 1, 200);
    given := given || 'name'::text;
  end if;
  if atoms_update_project.description is not null then
    perform private.require_text(atoms_update_project.description, 'description', 0, 2000);
    given := given || 'description'::text;
  end if;
  if atoms_update_project.settings is not null then
    -- json, not jsonb: the calling convention of structured arguments (a duplicate key is refused, not merged).
    given_settings := private.validate_project_settings(atoms_update_project.settings::jsonb);
    if (select count(*) from json_object_keys(atoms_update_project.settings))
      <> (select count(*) from jsonb_object_keys(given_settings)) then
      raise exception 'settings must not repeat a key' using errcode = '22023';
    end if;
    given := given || 'settings'::text;
  end if;
  if cardinality(given) = 0 then
    raise exception 'nothing to update: give at least one of name, description, settings' using errcode = '22023';
  end if;

  select * into target from public.projects as p where p.id = project for update;
  if target.archived_at is not null then
    raise exception 'project % is archived and read-only', project
      using errcode = 'PT409', hint = 'Unarchive it first with atoms_archive_project (archived false).';
  end if;
  -- settings: the given keys replace their values, the others stay.
  update public.projects as p
  set
    name = coalesce(btrim(atoms_update_project.name), p.name),
    description = coalesce(atoms_update_project.description, p.description),
    settings = p.settings || coalesce(given_settings, '{}'::jsonb),
    updated_at = now()
  where p.id = project
  returning * into updated;
  return private.project_view(updated) || jsonb_build_object('updated_fields', to_jsonb(given));
end;
$$;

comment on function public.atoms_update_project(text, text, text, json) is
'atoms tool atoms_update_project (admin; security definer): changes a project''s name, description or settings (the given keys only, each checked by private.validate_project_settings: require_change_reason boolean); an archived project is PT409; nothing given is 22023. Returns {project_id, org_id, name, description, settings, archived, archived_at, updated_fields}.';
alter function public.atoms_update_project(text, text, text, json) owner to atoms_rpc_owner;
revoke execute on function public.atoms_update_project(text, text, text, json) from public, anon;
grant execute on function public.atoms_update_project(text, text, text, json) to authenticated;

create or replace function public.atoms_archive_project(project_id text, archived boolean) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_archive_project.project_id, 'project_id');
  target public.projects;
  updated public.projects;
begin
  perform private.require_project_role(project, 'admin');
  if atoms_archive_project.archived is null then
    raise exception 'archived is required (true to archive, false to unarchive)' using errcode = '22023';
  end if;
  select * into target from public.projects as p where p.id = project for update;
  if (target.archived_at is not null) = atoms_archive_project.archived then
    return private.project_view(target) || jsonb_build_object(
      'changed', false,
      'message', 'The project is already ' || case when atoms_archive_project.archived then 'archived' else 'active' end || '; nothing changed.'
    );
  end if;
  update public.projects as p
  set
    archived_at = case when atoms_archive_project.archived then now() end,
    archived_by = case when atoms_archive_project.archived then (select private.caller_id()) end
  where p.id = project
  returning * into updated;
  return private.project_view(updated) || jsonb_build_object(
    'changed', true,
    'message', case
      when atoms_archive_project.archived then 'Project archived: read-only, and listed only with include_archived.'
      else 'Project unarchived: writable again.'
    end
  );
end;
$$;

comment on function public.atoms_archive_project(text, boolean) is
'atoms tool atoms_archive_project (admin; security definer): archives (archived true: read-only, left out of atoms_list_projects unless include_archived) or unarchives a project; asking for the current state changes nothing. Returns {project_id, org_id, name, description, settings, archived, archived_at, changed, message}.';
alter function public.atoms_archive_project(text, boolean) owner to atoms_rpc_owner;
revoke execute on function public.atoms_archive_project(text, boolean) from public, anon;
grant execute on function public.atoms_archive_project(text, boolean) to authenticated;

-- ---- history ----
create or replace function private.org_history_event(h public.change_history) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'chain_seq', org_history_event.h.chain_seq,
    'event_type', org_history_event.h.event_type,
    'changed_at', private.iso_utc(org_history_event.h.changed_at),
    'changed_by', org_history_event.h.changed_by,
    'changed_by_email', (select p.email from private.user_profiles(array[org_history_event.h.changed_by]) as p),
    'actor', org_history_event.h.actor,
    'client_name', org_history_event.h.client_name,
    'session_id', org_history_event.h.session_id,
    'fields_changed', to_jsonb(org_history_event.h.fields_changed),
    'old_values', org_history_event.h.old_values,
    'new_values', org_history_event.h.new_values,
    -- Resolved at read time, never stored in the chain: the member's account email, the invitation's email.
    'subject_email', coalesce(
      (
        select p.email from private.user_profiles(array[
          coalesce(org_history_event.h.new_values ->> 'user_id', org_history_event.h.old_values ->> 'user_id')::uuid
        ]) as p
      ),
      (
        select i.email from public.organization_invitations as i
        where i.id = coalesce(org_history_event.h.new_values ->> 'invitation_id', org_history_event.h.old_values ->> 'invitation_id')::uuid
      )
    )
  )
$$;

comment on function private.org_history_event(public.change_history) is
'atoms: one organisation history row as atoms_get_org_history returns it, with changed_by_email and subject_email (the member''s or invitee''s email) resolved at read time from auth.users and the invitation, never from the chain.';
revoke execute on function private.org_history_event(public.change_history) from public, anon;
grant execute on function private.org_history_event(public.change_history) to atoms_rpc_owner;

create or replace function public.atoms_get_org_history(
  org_id text,
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  org uuid := private.require_uuid(atoms_get_org_history.org_id, 'org_id');
  page_limit integer;
  page_offset integer;
  total bigint;
  page jsonb;
begin
  perform private.require_org_role(org, 'admin');
  page_limit := private.require_int_range(atoms_get_org_history."limit", 'limit', 1, 200);
  page_offset := private.require_int_range(atoms_get_org_history."offset", 'offset', 0, 2147483647);

  select count(*) into total from public.change_history as h where h.scope = 'org' and h.scope_id = org;
  select coalesce(jsonb_agg(private.org_history_event(x) order by x.chain_seq desc), '[]'::jsonb) into page
  from (
    select h.*
    from public.change_history as h
    where h.scope = 'org' and h.scope_id = org
    order by h.chain_seq desc
    limit page_limit offset page_offset
  ) as x;
  return private.page_envelope(page, total, page_limit, page_offset);
end;
$$;

comment on function public.atoms_get_org_history(text, integer, integer) is
'atoms tool atoms_get_org_history (admin; security definer): the organisation''s own history newest first: organisation, membership, invitation, project and settings changes, each with who (changed_by, changed_by_email), when, through which channel (actor, client_name) and the old and new values; invitee emails appear only resolved from the invitation (the chain keeps a salted digest). Returns {data: [event], meta: {total_count, limit, offset, has_more}}.';
alter function public.atoms_get_org_history(text, integer, integer) owner to atoms_rpc_owner;
revoke execute on function public.atoms_get_org_history(text, integer, integer) from public, anon;
grant execute on function public.atoms_get_org_history(text, integer, integer) to authenticated;
