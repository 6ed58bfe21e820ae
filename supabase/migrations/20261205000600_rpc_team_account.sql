-- Account RPCs (toolset account: any signed-in user acting for themself): found an organisation, and see, accept or
-- decline the invitations addressed to one's confirmed email.
-- Objects: public.atoms_create_organization, public.atoms_list_my_invitations, public.atoms_accept_invitation,
--   public.atoms_decline_invitation.
-- Security: security definer owned by atoms_rpc_owner (no BYPASSRLS; the team policies key every row on the
--   caller), EXECUTE for authenticated only. An invitation is the caller's only when its email is a confirmed email
--   of the caller (private.caller_confirmed_emails); anyone else's invitation is "not found" (PT404), whether or not
--   it exists. A caller whose own email is unconfirmed is told to confirm it (42501) without learning whether an
--   invitation exists.

create or replace function public.atoms_create_organization(name text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  who uuid := (select private.caller_id());
  created public.organizations;
begin
  if who is null then
    raise exception 'not authenticated: this call needs a signed-in user'
      using errcode = '28000', hint = 'Sign in (atoms login) or pass a valid access token.';
  end if;
  perform private.require_single_line_text(btrim(atoms_create_organization.name), 'name', 1, 200);

  insert into public.organizations (name, created_by)
  values (btrim(atoms_create_organization.name), who)
  returning * into created;
  -- The founder becomes the first admin (private.joinable_org_ids: a founded organisation without members).
  insert into public.organization_members (org_id, user_id, role) values (created.id, who, 'admin');
  return jsonb_build_object(
    'org_id', created.id,
    'name', created.name,
    'role', 'admin',
    'message', 'Organisation created; you are its admin. Next: atoms_create_project and atoms_invite_member.'
  );
end;
$$;

comment on function public.atoms_create_organization(text) is
'atoms tool atoms_create_organization (any signed-in user; security definer): creates an organisation (name 1-200 characters, one line) with the caller as its first admin. Returns {org_id, name, role, message}.';
alter function public.atoms_create_organization(text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_create_organization(text) from public, anon;
grant execute on function public.atoms_create_organization(text) to authenticated;

create or replace function public.atoms_list_my_invitations(
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  page_limit integer;
  page_offset integer;
  total bigint;
  page jsonb;
begin
  if (select private.caller_id()) is null then
    raise exception 'not authenticated: this call needs a signed-in user'
      using errcode = '28000', hint = 'Sign in (atoms login) or pass a valid access token.';
  end if;
  page_limit := private.require_int_range(atoms_list_my_invitations."limit", 'limit', 1, 200);
  page_offset := private.require_int_range(atoms_list_my_invitations."offset", 'offset', 0, 2147483647);

  select count(*) into total
  from public.organization_invitations as i
  where i.email = any(array(select private.caller_confirmed_emails()))
    and i.status = 'pending' and i.expires_at > now();

  select coalesce(jsonb_agg(
    jsonb_build_object(
      'invitation_id', x.id,
      'org_id', x.org_id,
      'org_name', x.org_name,
      'role', x.role,
      'invited_by_email', x.invited_by_email,
      'created_at', private.iso_utc(x.created_at),
      'expires_at', private.iso_utc(x.expires_at)
    ) order by x.created_at, x.id
  ), '[]'::jsonb) into page
  from (
    select i.id, i.org_id, o.name as org_name, i.role, u.email as invited_by_email, i.created_at, i.expires_at
    from public.organization_invitations as i
    inner join public.organizations as o on i.org_id = o.id
    left join lateral private.user_profiles(array[i.invited_by]) as u on true
    where i.email = any(array(select private.caller_confirmed_emails()))
      and i.status = 'pending' and i.expires_at > now()
    order by i.created_at, i.id
    limit page_limit offset page_offset
  ) as x;

  return private.page_envelope(page, total, page_limit, page_offset);
end;
$$;

comment on function public.atoms_list_my_invitations(integer, integer) is
'atoms tool atoms_list_my_invitations (any signed-in user; security definer): the pending, unexpired invitations addressed to the caller''s confirmed email, oldest first (an unconfirmed email sees none). Returns {data: [{invitation_id, org_id, org_name, role, invited_by_email, created_at, expires_at}], meta: {total_count, limit, offset, has_more}}.';
alter function public.atoms_list_my_invitations(integer, integer) owner to atoms_rpc_owner;
revoke execute on function public.atoms_list_my_invitations(integer, integer) from public, anon;
grant execute on function public.atoms_list_my_invitations(integer, integer) to authenticated;

create or replace function private.answerable_invitation(invitation_id text) returns public.organization_invitations
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  wanted uuid;
  found public.organization_invitations;
begin
  if (select private.caller_id()) is null then
    raise exception 'not authenticated: this call needs a signed-in user'
      using errcode = '28000', hint = 'Sign in (atoms login) or pass a valid access token.';
  end if;
  wanted := private.require_uuid(answerable_invitation.invitation_id, 'invitation_id');
  -- Row-locked: two answers to one invitation queue, the second sees the first's outcome.
  select * into found
  from public.organization_invitations as i
  where i.id = wanted and i.email = any(array(select private.caller_confirmed_emails()))
  for update;
  if found.id is null then
    if not exists (select 1 from private.caller_confirmed_emails()) then
      raise exception 'your email address is not confirmed: only a confirmed email can answer an invitation'
        using errcode = '42501', hint = 'Confirm your email address (the link in the sign-up email), then try again.';
    end if;
    raise exception 'invitation % not found', wanted
      using errcode = 'PT404', hint = 'Call atoms_list_my_invitations to see the invitations addressed to you.';
  end if;
  if found.status <> 'pending' then
    raise exception 'invitation % was already %', wanted, found.status
      using errcode = 'PT409', hint = 'Ask an admin of the organisation for a new invitation.';
  end if;
  if found.expires_at <= now() then
    raise exception 'invitation % expired at %', wanted, private.iso_utc(found.expires_at)
      using errcode = 'PT409', hint = 'Ask an admin of the organisation to invite you again.';
  end if;
  return found;
end;
$$;

comment on function private.answerable_invitation(text) is
'atoms: the pending, unexpired invitation with this id addressed to a confirmed email of the caller, row-locked; 28000 unauthenticated, 22023 malformed id, 42501 when the caller has no confirmed email, PT404 when it is not the caller''s (or does not exist), PT409 when already answered or expired.';
revoke execute on function private.answerable_invitation(text) from public, anon;
grant execute on function private.answerable_invitation(text) to atoms_rpc_owner;

create or replace function public.atoms_accept_invitation(invitation_id text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  invitation public.organization_invitations := private.answerable_invitation(atoms_accept_invitation.invitation_id);
  who uuid := (select private.caller_id());
  current_role_in_org public.member_role;
  org_name text;
begin
  select m.role into current_role_in_org
  from public.organization_members as m
  where m.org_id = invitation.org_id and m.user_id = who;
  if current_role_in_org is null then
    insert into public.organization_members (org_id, user_id, role) values (invitation.org_id, who, invitation.role);
  end if;
  update public.organization_invitations as i
  set status = 'accepted', responded_by = who, responded_at = now()
  where i.id = invitation.id;
  select o.name into org_name from public.organizations as o where o.id = invitation.org_id;
  return jsonb_build_object(
    'invitation_id', invitation.id,
    'org_id', invitation.org_id,
    'org_name', org_name,
    'role', coalesce(current_role_in_org, invitation.role),
    'status', 'accepted',
    'changed', current_role_in_org is null,
    'message', case
      when current_role_in_org is null then 'You joined ' || org_name || ' as ' || invitation.role || '.'
      else 'You were already a member of ' || org_name || ' (' || current_role_in_org || '); your role is unchanged.'
    end
  );
end;
$$;

comment on function public.atoms_accept_invitation(text) is
'atoms tool atoms_accept_invitation (any signed-in user; security definer): joins the organisation of a pending, unexpired invitation addressed to the caller''s confirmed email, with the invited role (an existing member keeps their role); someone else''s invitation is PT404, an answered or expired one PT409, an unconfirmed email 42501. Returns {invitation_id, org_id, org_name, role, status, changed, message}.';
alter function public.atoms_accept_invitation(text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_accept_invitation(text) from public, anon;
grant execute on function public.atoms_accept_invitation(text) to authenticated;

create or replace function public.atoms_decline_invitation(invitation_id text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  invitation public.organization_invitations := private.answerable_invitation(atoms_decline_invitation.invitation_id);
begin
  update public.organization_invitations as i
  set status = 'declined', responded_by = (select private.caller_id()), responded_at = now()
  where i.id = invitation.id;
  return jsonb_build_object(
    'invitation_id', invitation.id,
    'org_id', invitation.org_id,
    'status', 'declined',
    'message', 'Invitation declined; the organisation''s admins can invite you again.'
  );
end;
$$;

comment on function public.atoms_decline_invitation(text) is
'atoms tool atoms_decline_invitation (any signed-in user; security definer): declines a pending, unexpired invitation addressed to the caller''s confirmed email (same refusals as atoms_accept_invitation). Returns {invitation_id, org_id, status, message}.';
alter function public.atoms_decline_invitation(text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_decline_invitation(text) from public, anon;
grant execute on function public.atoms_decline_invitation(text) to authenticated;
