-- Profiles follow the Supabase Auth account through its life: created and refreshed on sign-up and profile edits,
-- kept as a tombstone when the account is deleted (its memberships end), and erasable on request afterwards.
-- Objects: private.retire_person, private.is_deleted_user, private.sync_profile and private.retire_profile (triggers
--   users_sync_profile and users_retire_profile on auth.users), public.service_role_redact_profile; the backfill of
--   profiles from auth.users.
-- Security: the auth.users triggers are security definer (Supabase Auth's own role fires them) and the sign-up one
--   never raises. Deleting an account removes only its memberships (a real delete, the one table without a
--   refuse-delete guard): history, results and the audit log keep their rows, which reference people by id without a
--   foreign key. An organisation whose last admin is deleted is left without an admin until service_role appoints one.

-- ---- helpers ----
create or replace function private.retire_person(
  user_id uuid,
  email text,
  user_metadata jsonb,
  created_at timestamptz
) returns void
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  -- The tombstone first, so membership rules consulting private.is_deleted_user see the account as gone.
  insert into public.profiles as p (id, email, display_name, created_at, updated_at, deleted_at)
  values (
    retire_person.user_id,
    private.clean_person_text(retire_person.email, 320),
    private.profile_display_name(retire_person.user_metadata),
    coalesce(retire_person.created_at, now()),
    now(),
    now()
  )
  on conflict on constraint profiles_pkey do update
    set
      deleted_at = coalesce(p.deleted_at, excluded.deleted_at),
      updated_at = excluded.updated_at,
      -- Name and email as last known: a profile that lost them (it could not be written at sign-up) takes them now.
      email = coalesce(p.email, case when p.redacted_at is null then excluded.email end),
      display_name = coalesce(p.display_name, case when p.redacted_at is null then excluded.display_name end);

  delete from public.organization_members as m where m.user_id = retire_person.user_id;
end;
$$;

comment on function private.retire_person(uuid, text, jsonb, timestamptz) is
'atoms: an account leaves: its profile becomes a tombstone (deleted_at; name and email as last known, filled from the account when the profile lacks them) and every membership of the user is deleted (membership rules that must yield to an account deletion ask private.is_deleted_user). History, results and audit records are untouched.';
revoke execute on function private.retire_person(uuid, text, jsonb, timestamptz) from public, anon, authenticated;

create or replace function private.is_deleted_user(user_id uuid) returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select exists (
    select 1 from public.profiles as p where p.id = is_deleted_user.user_id and p.deleted_at is not null
  )
$$;

comment on function private.is_deleted_user(uuid) is
'atoms: true when the user''s account was deleted (its profile is a tombstone). Membership rules (e.g. an organisation keeps an admin) let the deletion of such a user''s memberships through: an account deletion must never fail.';
revoke execute on function private.is_deleted_user(uuid) from public, anon;
grant execute on function private.is_deleted_user(uuid) to authenticated, service_role, atoms_rpc_owner;

-- ---- triggers ----
create or replace function private.sync_profile() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  begin
    if new.deleted_at is not null then
      -- Supabase Auth's soft delete scrambles the email: the tombstone keeps the last known one.
      perform private.retire_person(new.id, new.email, new.raw_user_meta_data, new.created_at);
    else
      insert into public.profiles as p (id, email, display_name, created_at, updated_at)
      values (
        new.id,
        private.clean_person_text(new.email, 320),
        private.profile_display_name(new.raw_user_meta_data),
        coalesce(new.created_at, now()),
        now()
      )
      on conflict on constraint profiles_pkey do update
        set email = excluded.email, display_name = excluded.display_name, updated_at = excluded.updated_at
        where
          p.deleted_at is null
          and (p.email, p.display_name) is distinct from (excluded.email, excluded.display_name);
    end if;
  exception when others then
    -- Inside Supabase Auth's transaction a failure here would refuse the sign-up: keep at least the id.
    begin
      insert into public.profiles (id) values (new.id) on conflict on constraint profiles_pkey do nothing;
    exception when others then
      null;
    end;
  end;
  return null;
end;
$$;

comment on function private.sync_profile() is
'atoms: AFTER INSERT / UPDATE OF email, raw_user_meta_data, deleted_at trigger on auth.users: creates or refreshes the user''s profile (cleaned email and display name); a soft-deleted account becomes a tombstone (private.retire_person). Never raises: it runs in Supabase Auth''s sign-up transaction.';
revoke execute on function private.sync_profile() from public, anon, authenticated;

create or replace function private.retire_profile() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  perform private.retire_person(old.id, old.email, old.raw_user_meta_data, old.created_at);
  return old;
end;
$$;

comment on function private.retire_profile() is
'atoms: BEFORE DELETE trigger on auth.users: the profile becomes a tombstone and the user''s memberships end (private.retire_person) before the account row goes.';
revoke execute on function private.retire_profile() from public, anon, authenticated;

-- On a hosted project postgres may create triggers on auth.users but not comment on them (supabase_auth_admin owns the
-- table): the trigger functions' comments say what each does.
-- users_sync_profile: keeps public.profiles in step with the account; never raises.
create or replace trigger users_sync_profile
after insert or update of email, raw_user_meta_data, deleted_at on auth.users
for each row execute function private.sync_profile();

-- users_retire_profile: a deleted account leaves a tombstone profile and no membership.
create or replace trigger users_retire_profile
before delete on auth.users
for each row execute function private.retire_profile();

-- ---- RPCs ----
create or replace function public.service_role_redact_profile(user_id uuid) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  target public.profiles;
begin
  select p.* into target from public.profiles as p where p.id = service_role_redact_profile.user_id for update;
  if not found then
    raise exception 'no profile for user %', service_role_redact_profile.user_id
      using errcode = 'PT404', hint = 'Pass the id of a deleted Supabase Auth user.';
  end if;
  if target.deleted_at is null or exists (select 1 from auth.users as u where u.id = target.id) then
    raise exception 'user % still has an account: delete it from Supabase Auth first', target.id
      using errcode = 'PT409', hint = 'Deleting the account ends its memberships and leaves the tombstone this function redacts.';
  end if;

  update public.profiles as p
  set email = null, display_name = null, redacted_at = coalesce(p.redacted_at, now()), updated_at = now()
  where p.id = target.id
  returning p.* into target;

  return jsonb_build_object(
    'user_id', target.id,
    'deleted_at', private.iso_utc(target.deleted_at),
    'redacted_at', private.iso_utc(target.redacted_at),
    'kept', jsonb_build_object(
      'history_rows', (select count(*) from public.change_history as h where h.changed_by = target.id),
      'test_results', (select count(*) from public.test_results as r where r.recorded_by = target.id),
      'audit_records', (select count(*) from public.mcp_audit_log as a where a.user_id = target.id)
    )
  );
end;
$$;

comment on function public.service_role_redact_profile(uuid) is
'atoms (service_role only): GDPR erasure of a deleted account''s tombstone profile: its email and display name become null (redacted_at set; the id and deleted_at stay). Records written while the account existed keep their copy of the name and email (retained records, see README); the answer counts them under kept {history_rows, test_results, audit_records}. A user with a live account -> PT409; unknown -> PT404. Returns {user_id, deleted_at, redacted_at, kept}.';
revoke execute on function public.service_role_redact_profile(uuid) from public, anon, authenticated;
grant execute on function public.service_role_redact_profile(uuid) to service_role;

-- ---- backfill ----
-- Accounts that exist before this migration (soft-deleted ones as tombstones); later ones come through the trigger.
insert into public.profiles (id, email, display_name, created_at, updated_at, deleted_at)
select
  u.id,
  private.clean_person_text(u.email, 320) as email,
  private.profile_display_name(u.raw_user_meta_data) as display_name,
  coalesce(u.created_at, now()) as created_at,
  now() as updated_at,
  u.deleted_at
from auth.users as u
on conflict on constraint profiles_pkey do nothing;
