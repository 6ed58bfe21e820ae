-- Helpers of the team RPCs: organisation roles and locks, the caller's confirmed emails, invitation digests, project
-- settings, and the project write lock that now refuses archived projects.
-- Objects: private.require_email, private.caller_confirmed_emails, private.joinable_org_ids,
--   private.require_org_role, private.lock_organization, private.user_profiles, private.member_id_by_email,
--   private.invitation_email_digest, private.validate_project_settings, private.project_settings;
--   private.lock_project_for_write is redefined (from write_helpers) to refuse writes to an archived project.
-- Security: the helpers that read auth.users or other tenants' invitations are security definer (owned by the
--   migration runner; atoms_rpc_owner has no USAGE on schema auth) and executable by atoms_rpc_owner only, except
--   the policy helpers, which authenticated evaluates too. Identity is always (select auth.uid()), never an argument.
--   An email counts as the caller's only when auth.users marks it confirmed (email_confirmed_at): Supabase Auth sets
--   it for password sign-ups that confirmed and for SSO identities, so an SSO user and a password user with the same
--   confirmed email are both that person.

-- ---- validation ----
create or replace function private.require_email(value text, field text) returns text
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  address text;
begin
  if value is null then
    raise exception '% is required (an email address such as alice@example.com)', field using errcode = '22023';
  end if;
  address := lower(btrim(value));
  if char_length(address) > 254 then
    raise exception '% must be at most 254 characters, got %', field, char_length(address) using errcode = '22023';
  end if;
  -- One @, a local part of 1-64 printable characters without spaces, a domain of dot-separated labels.
  if address !~ '^[a-z0-9.!#$%&''*+/=?^_`{|}~-]{1,64}@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$' then
    raise exception '% must be an email address such as alice@example.com, got "%"', field, left(value, 80)
      using errcode = '22023';
  end if;
  return address;
end;
$$;

comment on function private.require_email(text, text) is
'atoms: an email address trimmed and lower-cased (local part 1-64 characters, a dotted domain, at most 254 in all), or 22023 naming the field.';
revoke execute on function private.require_email(text, text) from public, anon;
grant execute on function private.require_email(text, text) to authenticated, atoms_rpc_owner;

-- ---- identity ----
create or replace function private.caller_confirmed_emails() returns setof text
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select lower(u.email::text)
  from auth.users as u
  where u.id = (select auth.uid())
    and u.email is not null
    and u.email_confirmed_at is not null
    and u.deleted_at is null;
end;
$$;

comment on function private.caller_confirmed_emails() is
'atoms: the calling user''s email, lower-case, when auth.users marks it confirmed (email_confirmed_at); empty otherwise. Invitations match on it.';
revoke execute on function private.caller_confirmed_emails() from public, anon;
grant execute on function private.caller_confirmed_emails() to authenticated, atoms_rpc_owner;

create or replace function private.joinable_org_ids() returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  -- An organisation the caller just created (no member yet), or one holding a live invitation for a confirmed
  -- email of the caller.
  return query
  select o.id
  from public.organizations as o
  where o.created_by = (select auth.uid())
    and not exists (select 1 from public.organization_members as m where m.org_id = o.id)
  union
  select i.org_id
  from public.organization_invitations as i
  where i.status = 'pending'
    and i.expires_at > now()
    and i.email = any(array(select private.caller_confirmed_emails()));
end;
$$;

comment on function private.joinable_org_ids() is
'atoms: organisations the calling user may add themself to: one they created that has no member yet (its first admin), or one with a pending, unexpired invitation for their confirmed email. For the RPC owner''s membership insert policy.';
revoke execute on function private.joinable_org_ids() from public, anon;
grant execute on function private.joinable_org_ids() to authenticated, atoms_rpc_owner;

-- ---- organisation roles ----
create or replace function private.require_org_role(org_id uuid, min_role public.member_role) returns public.member_role
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  caller_role public.member_role;
begin
  if (select auth.uid()) is null then
    raise exception 'not authenticated: this call needs a signed-in user'
      using errcode = '28000', hint = 'Sign in (atoms login) or pass a valid access token.';
  end if;
  caller_role := private.org_role(require_org_role.org_id);
  if caller_role is null then
    raise exception 'organisation % not found', require_org_role.org_id
      using errcode = 'PT404', hint = 'Call atoms_list_projects (or atoms org list) to see your organisations.';
  end if;
  if caller_role < require_org_role.min_role then
    raise exception 'permission denied: this action needs the % role in the organisation; you have %',
      require_org_role.min_role, caller_role
      using errcode = '42501', hint = 'Ask an admin of the organisation for the ' || require_org_role.min_role || ' role.';
  end if;
  return caller_role;
end;
$$;

comment on function private.require_org_role(uuid, public.member_role) is
'atoms: the first check of every organisation-level RPC. Returns the caller''s role; raises 28000 when unauthenticated, PT404 when the caller is not a member (another organisation is "not found", never "forbidden"), 42501 naming the role held and the role needed.';
revoke execute on function private.require_org_role(uuid, public.member_role) from public, anon;
grant execute on function private.require_org_role(uuid, public.member_role) to authenticated, atoms_rpc_owner;

create or replace function private.lock_organization(org_id uuid) returns void
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  -- The organisation row lock serialises every membership change of the organisation (the last-admin rule) and its
  -- history chain. Runs under the RPC owner's update policy: admins only.
  perform 1 from public.organizations as o where o.id = lock_organization.org_id for update;
  if not found then
    raise exception 'organisation % not found', lock_organization.org_id
      using errcode = 'PT404', hint = 'Call atoms_list_projects (or atoms org list) to see your organisations.';
  end if;
  -- Re-checked after the lock: a concurrent change may have demoted or removed the caller meanwhile.
  perform private.require_org_role(lock_organization.org_id, 'admin');
end;
$$;

comment on function private.lock_organization(uuid) is
'atoms: row-locks an organisation the caller administers (serialising its membership changes) and re-checks the caller is still its admin after the wait; PT404 / 42501 otherwise.';
revoke execute on function private.lock_organization(uuid) from public, anon;
grant execute on function private.lock_organization(uuid) to atoms_rpc_owner;

-- ---- people ----
create or replace function private.user_profiles(user_ids uuid[])
returns table (user_id uuid, email text, name text)
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select u.id, lower(u.email::text), nullif(left(u.raw_user_meta_data ->> 'name', 200), '')
  from auth.users as u
  where u.id = any(user_profiles.user_ids);
end;
$$;

comment on function private.user_profiles(uuid[]) is
'atoms: email and display name (user_metadata.name, display only, never for authorisation) of the given users. Executable by the RPC owner only, which passes ids it read under the caller''s policies.';
revoke execute on function private.user_profiles(uuid[]) from public, anon;
grant execute on function private.user_profiles(uuid[]) to atoms_rpc_owner;

create or replace function private.member_id_by_email(org_id uuid, email text) returns uuid
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  found uuid;
begin
  -- Only members of an organisation the caller belongs to can be found: no probing of other accounts.
  select m.user_id into found
  from public.organization_members as m
  inner join auth.users as u on m.user_id = u.id
  where m.org_id = member_id_by_email.org_id
    and m.org_id = any(array(select private.visible_org_ids()))
    and lower(u.email::text) = lower(member_id_by_email.email)
  order by m.created_at
  limit 1;
  return found;
end;
$$;

comment on function private.member_id_by_email(uuid, text) is
'atoms: the member of an organisation (one the caller belongs to) whose account email is email, case-insensitive; null when none. Never says whether an account exists outside the organisation.';
revoke execute on function private.member_id_by_email(uuid, text) from public, anon;
grant execute on function private.member_id_by_email(uuid, text) to atoms_rpc_owner;

create or replace function private.invitation_email_digest(email_salt text, email text) returns text
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select encode(pg_catalog.sha256(convert_to(invitation_email_digest.email_salt || lower(invitation_email_digest.email), 'UTF8')), 'hex')
$$;

comment on function private.invitation_email_digest(text, text) is
'atoms: what change_history records of an invitee''s email: sha256 hex of the invitation''s salt || the lower-case email.';
revoke execute on function private.invitation_email_digest(text, text) from public, anon;
grant execute on function private.invitation_email_digest(text, text) to atoms_rpc_owner;

-- ---- project settings ----
create or replace function private.validate_project_settings(settings jsonb) returns jsonb
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  setting record;
begin
  -- The one list of project settings: each key, its type and its rule. A new setting is one more branch here.
  if settings is null or jsonb_typeof(settings) <> 'object' then
    raise exception 'settings must be a JSON object such as {"require_change_reason": true}' using errcode = '22023';
  end if;
  for setting in select e.key, e.value from jsonb_each(settings) as e loop
    case setting.key
      when 'require_change_reason' then
        if jsonb_typeof(setting.value) <> 'boolean' then
          raise exception 'settings.require_change_reason must be true or false, got %', left(setting.value::text, 80)
            using errcode = '22023';
        end if;
      else
        raise exception 'settings has an unknown key "%" (known: require_change_reason)', left(setting.key, 80)
          using errcode = '22023';
    end case;
  end loop;
  return settings;
end;
$$;

comment on function private.validate_project_settings(jsonb) is
'atoms: the one validator of projects.settings: a JSON object whose keys are known settings of the right type (require_change_reason: boolean); 22023 naming the key otherwise. Returns the object unchanged.';
revoke execute on function private.validate_project_settings(jsonb) from public, anon;
grant execute on function private.validate_project_settings(jsonb) to authenticated, atoms_rpc_owner;

create or replace function private.project_settings(project_id uuid) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object('require_change_reason', false) || p.settings
  from public.projects as p
  where p.id = project_settings.project_id
$$;

comment on function private.project_settings(uuid) is
'atoms: a project''s settings with every default filled in ({"require_change_reason": false} overlaid by projects.settings); null when the project is not visible to the caller. Security invoker.';
revoke execute on function private.project_settings(uuid) from public, anon;
grant execute on function private.project_settings(uuid) to authenticated, atoms_rpc_owner;

-- ---- the project write lock, now refusing archived projects ----
create or replace function private.lock_project_for_write(project_id uuid) returns uuid
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  owner_org uuid;
  archived timestamptz;
begin
  -- Row-locks the project (serialising the project's writers: key order, cycle checks, history order) and
  -- touches updated_at. Runs under the RPC owner's update policy: editors only.
  update public.projects as p
  set updated_at = now()
  where p.id = lock_project_for_write.project_id
  returning p.org_id, p.archived_at into owner_org, archived;
  if owner_org is null then
    raise exception 'project % not found', lock_project_for_write.project_id
      using errcode = 'PT404', hint = 'Call atoms_list_projects to see the projects you can use.';
  end if;
  if archived is not null then
    raise exception 'project % is archived and read-only', lock_project_for_write.project_id
      using errcode = 'PT409', hint = 'An admin can unarchive it with atoms_archive_project (archived false).';
  end if;
  return owner_org;
end;
$$;

comment on function private.lock_project_for_write(uuid) is
'atoms: first write of every write RPC: locks the project row (so a project''s writers are serialised and take locks in one order), refuses an archived project (PT409, read-only) and touches projects.updated_at; returns the project''s org_id.';
revoke execute on function private.lock_project_for_write(uuid) from public, anon;
grant execute on function private.lock_project_for_write(uuid) to atoms_rpc_owner;
