-- Organisation administration RPCs, people (toolset admin: the organisation's admins): invitations, members and
-- their roles.
-- Objects: public.atoms_invite_member, public.atoms_list_members, public.atoms_set_member_role,
--   public.atoms_remove_member; private.require_member, private.refuse_losing_last_admin.
-- Security: security definer owned by atoms_rpc_owner, EXECUTE for authenticated only; each validates every argument
--   (22023) and checks private.require_org_role(org, 'admin') first, so another organisation is "not found" (PT404),
--   never "forbidden". Membership changes lock the organisation row (private.lock_organization) and re-check the
--   caller's role after the wait: the last admin can be neither removed nor demoted, also when two admins act at
--   once. An invitation's answer is the same whether or not the email has an account.

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
