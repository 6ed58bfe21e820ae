-- People by name: a profile (email, display name) per Supabase Auth user, and the people of each organisation, so a
-- member can resolve everyone who belongs or belonged to it, or appears in its records.
-- Objects: public.profiles, private.organization_people (backfilled here); private.clean_person_text,
--   private.profile_display_name, private.visible_profile_ids, private.register_member (trigger
--   organization_members_register_person); the profiles select policy. Kept from auth.users by the
--   profile_lifecycle migration.
-- Security: profiles have no foreign key to auth.users on purpose: a profile outlives its account as a tombstone.
--   Only definer triggers and functions write either table; authenticated reads its own profile and those of the
--   people of its organisations (former members included), nothing of another organisation's.

-- ---- tables ----
create table if not exists public.profiles (
  id uuid not null,
  email text,
  display_name text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  redacted_at timestamptz,
  constraint profiles_pkey primary key (id),
  constraint profiles_email_check check (char_length(email) between 1 and 320),
  constraint profiles_display_name_check check (char_length(display_name) between 1 and 200),
  constraint profiles_redacted_at_check check (redacted_at is null or deleted_at is not null)
);

comment on table public.profiles is
'atoms: one row per Supabase Auth user (id = auth.users.id): the email and display name as last known. Kept by the definer trigger users_sync_profile; when the account is deleted the row stays as a tombstone (deleted_at), and service_role may then redact its name and email (redacted_at). Records carry their own copy of the name and email as they were when written.';
comment on column public.profiles.id is 'The user''s id (auth.users.id); no foreign key, so the profile outlives a deleted account.';
comment on column public.profiles.email is
'The account''s email as last known (the identity); null for phone-only accounts and after redaction. Control and bidirectional formatting characters removed, at most 320 characters.';
comment on column public.profiles.display_name is
'First non-blank string of user metadata display_name, full_name, name (user-editable); control and bidirectional formatting characters removed, whitespace collapsed, at most 200 characters; null when none or after redaction.';
comment on column public.profiles.created_at is 'When the account was created (auth.users.created_at).';
comment on column public.profiles.deleted_at is 'When the account was deleted from Supabase Auth (hard or soft delete); the row is then a tombstone.';
comment on column public.profiles.redacted_at is 'When service_role erased the tombstone''s name and email (public.service_role_redact_profile).';

grant select on table public.profiles to authenticated;
grant select on table public.profiles to service_role;
alter table public.profiles enable row level security;

create table if not exists private.organization_people (
  org_id uuid not null,
  user_id uuid not null,
  first_seen_at timestamptz not null default now(),
  constraint organization_people_pkey primary key (org_id, user_id)
);

comment on table private.organization_people is
'atoms: every person who has been a member of an organisation or appears in its records (history, MCP audit log), never removed: the profiles a member of that organisation may read. Written by definer triggers only.';
comment on column private.organization_people.first_seen_at is 'When the person first joined or appeared (the backfill''s time for earlier people).';

alter table private.organization_people enable row level security;

-- ---- helpers ----
-- Names and emails come from sign-up forms: C0/C1 controls, line and paragraph separators, bidirectional marks,
-- embeddings, overrides and isolates, and invisible zero-width characters (not the joiners, which some scripts and
-- emoji need) become spaces, whitespace runs collapse, and the result is cut to max_length characters.
create or replace function private.clean_person_text(value text, max_length integer) returns text
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select nullif(
    left(
      btrim(
        regexp_replace(
          regexp_replace(
            clean_person_text.value,
            '[\u0001-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b\u200e\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]',
            ' ',
            'g'
          ),
          '[[:space:]]+',
          ' ',
          'g'
        )
      ),
      greatest(clean_person_text.max_length, 1)
    ),
    ''
  )
$$;

comment on function private.clean_person_text(text, integer) is
'atoms: a person''s name or email made safe to show instead of refused: control, separator, bidirectional-formatting and invisible characters become spaces, whitespace runs collapse to one space, ends trimmed, cut to max_length characters; null when nothing is left. Never raises.';
revoke execute on function private.clean_person_text(text, integer) from public, anon;

create or replace function private.profile_display_name(user_metadata jsonb) returns text
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select coalesce(
    private.clean_person_text(
      case when jsonb_typeof(profile_display_name.user_metadata -> 'display_name') = 'string'
        then profile_display_name.user_metadata ->> 'display_name' end,
      200
    ),
    private.clean_person_text(
      case when jsonb_typeof(profile_display_name.user_metadata -> 'full_name') = 'string'
        then profile_display_name.user_metadata ->> 'full_name' end,
      200
    ),
    private.clean_person_text(
      case when jsonb_typeof(profile_display_name.user_metadata -> 'name') = 'string'
        then profile_display_name.user_metadata ->> 'name' end,
      200
    )
  )
$$;

comment on function private.profile_display_name(jsonb) is
'atoms: the display name in Supabase Auth user metadata: the first of display_name, full_name, name that is a string with something left after private.clean_person_text (at most 200 characters); null otherwise (also for metadata that is not an object).';
revoke execute on function private.profile_display_name(jsonb) from public, anon;

create or replace function private.visible_profile_ids() returns setof uuid
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  return query
  select (select auth.uid())
  union
  select p.user_id
  from private.organization_people as p
  where p.org_id = any(array(select private.visible_org_ids()));
end;
$$;

comment on function private.visible_profile_ids() is
'atoms: the profiles the calling user may read: its own and those of everyone who is or was a member of, or appears in the records of, an organisation it belongs to. For the profiles policy.';
revoke execute on function private.visible_profile_ids() from public, anon;
grant execute on function private.visible_profile_ids() to authenticated;

-- ---- triggers ----
create or replace function private.register_member() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  insert into private.organization_people (org_id, user_id)
  values (new.org_id, new.user_id)
  on conflict on constraint organization_people_pkey do nothing;
  return null;
end;
$$;

comment on function private.register_member() is
'atoms: AFTER INSERT trigger on organization_members: the new member is one of the organisation''s people for good (their profile stays readable to the organisation after they leave).';
revoke execute on function private.register_member() from public, anon, authenticated;

create or replace trigger organization_members_register_person
after insert on public.organization_members
for each row execute function private.register_member();

comment on trigger organization_members_register_person on public.organization_members is
'atoms: every member joins private.organization_people (never removed).';

-- ---- policies ----
create policy "Members can read the profiles of their organisations' people"
on public.profiles for select to authenticated
using (id = any(array(select private.visible_profile_ids())));

-- ---- backfill ----
-- Everyone who is a member or appears in a record of an organisation, before this migration.
insert into private.organization_people (org_id, user_id)
select
  m.org_id,
  m.user_id
from public.organization_members as m
union
select
  h.org_id,
  h.changed_by
from public.change_history as h
where h.changed_by is not null
union
select
  a.org_id,
  a.user_id
from public.mcp_audit_log as a
where a.org_id is not null and a.user_id is not null
union
select
  r.org_id,
  r.recorded_by
from public.test_results as r
where r.recorded_by is not null
union
select
  i.org_id,
  u.user_id
from public.items as i
cross join lateral (values (i.created_by), (i.updated_by), (i.deleted_by)) as u (user_id)
where u.user_id is not null
union
select
  l.org_id,
  u.user_id
from public.item_links as l
cross join lateral (values (l.created_by), (l.deleted_by)) as u (user_id)
where u.user_id is not null
union
select
  p.org_id,
  p.created_by
from public.projects as p
where p.created_by is not null
union
select
  o.id,
  o.created_by
from public.organizations as o
where o.created_by is not null
on conflict on constraint organization_people_pkey do nothing;
