-- History of the team: every change to organisations, memberships, invitations, projects and project settings is
-- appended to the organisation's hash chain (scope org, scope_id = org_id), actor-tagged like item history.
-- Objects: private.append_org_history (the organisation chain's writer), the trigger functions
--   private.record_organization_change, private.record_member_change, private.record_invitation_change,
--   private.record_project_change and their AFTER row triggers.
-- Security: the trigger functions are security definer (owned by the migration runner; nobody else inserts into
--   change_history), so any writer, service_role included, leaves a record. Invitee emails never enter the chain:
--   an invitation is recorded by id and the salted digest of its email (private.invitation_email_digest); people
--   with an account are recorded by user id. Rows of scope org have no project_id (a project's id is in the
--   values), so project history, summaries and project verification are unchanged.

-- ---- the organisation chain's writer ----
create or replace function private.append_org_history(
  org_id uuid,
  event_type public.history_event_type,
  fields_changed text[],
  old_values jsonb,
  new_values jsonb
) returns void
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  entry public.change_history;
begin
  entry.scope := 'org';
  entry.scope_id := append_org_history.org_id;
  entry.org_id := append_org_history.org_id;
  entry.event_type := append_org_history.event_type;
  entry.changed_by := (select auth.uid());
  entry.actor := private.current_actor();
  entry.session_id := private.current_session_id();
  entry.client_name := private.current_client_name();
  entry.fields_changed := append_org_history.fields_changed;
  entry.old_values := append_org_history.old_values;
  entry.new_values := append_org_history.new_values;
  entry.hash_version := 1;

  insert into private.history_chain_heads (scope, scope_id, last_seq, last_hash)
  select entry.scope, entry.scope_id, coalesce(t.chain_seq, 0), coalesce(t.row_hash, repeat('0', 64))
  from (select 1) as one
  left join lateral (
    select h.chain_seq, h.row_hash
    from public.change_history as h
    where h.scope = entry.scope and h.scope_id = entry.scope_id
    order by h.chain_seq desc
    limit 1
  ) as t on true
  on conflict on constraint history_chain_heads_pkey do nothing;

  -- The head's row lock serialises the chain's writers: one order per chain, gap-free, in commit order.
  select c.last_seq + 1, c.last_hash into entry.chain_seq, entry.prev_hash
  from private.history_chain_heads as c
  where c.scope = entry.scope and c.scope_id = entry.scope_id
  for update;

  entry.changed_at := clock_timestamp();
  entry.id := nextval(pg_get_serial_sequence('public.change_history', 'id')::regclass);
  entry.row_hash := private.history_row_hash(entry.prev_hash, entry);
  insert into public.change_history overriding system value select (entry).*;

  update private.history_chain_heads as c
  set last_seq = entry.chain_seq, last_hash = entry.row_hash
  where c.scope = entry.scope and c.scope_id = entry.scope_id;
end;
$$;

comment on function private.append_org_history(uuid, public.history_event_type, text[], jsonb, jsonb) is
'atoms: the writer of organisation-level change_history rows (scope org): locks the chain head of (org, org_id), appends the next row (actor, session and client from the session; hash_version 1; no project_id or item_id) and advances the head. Called by the team history triggers only.';
revoke execute on function private.append_org_history(uuid, public.history_event_type, text[], jsonb, jsonb) from public, anon, authenticated;

-- ---- trigger functions ----
create or replace function private.record_organization_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    perform private.append_org_history(
      new.id, 'organization_created', '{}'::text[], null, jsonb_build_object('org_id', new.id, 'name', new.name)
    );
  elsif old.name is distinct from new.name then
    perform private.append_org_history(
      new.id, 'organization_renamed', array['name'], jsonb_build_object('name', old.name), jsonb_build_object('name', new.name)
    );
  end if;
  return null;
end;
$$;

comment on function private.record_organization_change() is
'atoms: AFTER row trigger on organizations: appends organization_created or organization_renamed to the organisation''s chain.';
revoke execute on function private.record_organization_change() from public, anon, authenticated;

create or replace function private.record_member_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  if tg_op = 'INSERT' then
    perform private.append_org_history(
      new.org_id, 'member_added', '{}'::text[], null, jsonb_build_object('user_id', new.user_id, 'role', new.role)
    );
  elsif tg_op = 'UPDATE' then
    if old.role is distinct from new.role then
      perform private.append_org_history(
        new.org_id, 'member_role_changed', array['role'],
        jsonb_build_object('user_id', old.user_id, 'role', old.role), jsonb_build_object('user_id', new.user_id, 'role', new.role)
      );
    end if;
  else
    perform private.append_org_history(
      old.org_id, 'member_removed', '{}'::text[], jsonb_build_object('user_id', old.user_id, 'role', old.role), null
    );
  end if;
  return null;
end;
$$;

comment on function private.record_member_change() is
'atoms: AFTER row trigger on organization_members: appends member_added, member_role_changed (old and new role) or member_removed, naming the member by user id.';
revoke execute on function private.record_member_change() from public, anon, authenticated;

create or replace function private.record_invitation_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  described jsonb := jsonb_build_object(
    'invitation_id', new.id,
    'email_digest', private.invitation_email_digest(new.email_salt, new.email),
    'role', new.role,
    'expires_at', private.iso_utc(new.expires_at)
  );
begin
  if tg_op = 'INSERT' then
    perform private.append_org_history(new.org_id, 'invitation_created', '{}'::text[], null, described);
  elsif old.status is distinct from new.status then
    perform private.append_org_history(
      new.org_id,
      case new.status
        when 'accepted' then 'invitation_accepted'
        when 'declined' then 'invitation_declined'
        else 'invitation_expired'
      end::public.history_event_type,
      array['status'],
      jsonb_build_object('invitation_id', old.id, 'status', old.status),
      described || jsonb_build_object('status', new.status, 'responded_by', new.responded_by)
    );
  end if;
  return null;
end;
$$;

comment on function private.record_invitation_change() is
'atoms: AFTER row trigger on organization_invitations: appends invitation_created, invitation_accepted, invitation_declined or invitation_expired, with the invitation id and the salted digest of the email (never the email).';
revoke execute on function private.record_invitation_change() from public, anon, authenticated;

create or replace function private.record_project_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  changed text[] := '{}'::text[];
begin
  if tg_op = 'INSERT' then
    perform private.append_org_history(
      new.org_id, 'project_created', '{}'::text[], null,
      jsonb_build_object('project_id', new.id, 'name', new.name, 'description', new.description, 'settings', new.settings)
    );
    return null;
  end if;
  -- updated_at alone (every item write touches it) is no project change.
  if old.name is distinct from new.name then
    changed := changed || 'name'::text;
  end if;
  if old.description is distinct from new.description then
    changed := changed || 'description'::text;
  end if;
  if cardinality(changed) > 0 then
    perform private.append_org_history(
      new.org_id, 'project_updated', changed,
      (select jsonb_object_agg(f, to_jsonb(old) -> f) from unnest(changed) as f) || jsonb_build_object('project_id', old.id),
      (select jsonb_object_agg(f, to_jsonb(new) -> f) from unnest(changed) as f) || jsonb_build_object('project_id', new.id)
    );
  end if;
  if old.settings is distinct from new.settings then
    perform private.append_org_history(
      new.org_id, 'settings_changed', array['settings'],
      jsonb_build_object('project_id', old.id, 'settings', old.settings),
      jsonb_build_object('project_id', new.id, 'settings', new.settings)
    );
  end if;
  if old.archived_at is null and new.archived_at is not null then
    perform private.append_org_history(
      new.org_id, 'project_archived', array['archived_at'], jsonb_build_object('project_id', old.id, 'archived_at', null),
      jsonb_build_object('project_id', new.id, 'archived_at', private.iso_utc(new.archived_at), 'archived_by', new.archived_by)
    );
  elsif old.archived_at is not null and new.archived_at is null then
    perform private.append_org_history(
      new.org_id, 'project_unarchived', array['archived_at'],
      jsonb_build_object('project_id', old.id, 'archived_at', private.iso_utc(old.archived_at), 'archived_by', old.archived_by),
      jsonb_build_object('project_id', new.id, 'archived_at', null)
    );
  end if;
  return null;
end;
$$;

comment on function private.record_project_change() is
'atoms: AFTER row trigger on projects: appends project_created, project_updated (name, description), settings_changed, project_archived or project_unarchived to the organisation''s chain; a change of updated_at alone records nothing.';
revoke execute on function private.record_project_change() from public, anon, authenticated;

-- ---- triggers ----
create or replace trigger organizations_record_change
after insert or update on public.organizations
for each row execute function private.record_organization_change();

create or replace trigger organization_members_record_change
after insert or update or delete on public.organization_members
for each row execute function private.record_member_change();

create or replace trigger organization_invitations_record_change
after insert or update on public.organization_invitations
for each row execute function private.record_invitation_change();

create or replace trigger projects_record_change
after insert or update on public.projects
for each row execute function private.record_project_change();

comment on trigger organizations_record_change on public.organizations is 'atoms: history events organization_created, organization_renamed.';
comment on trigger organization_members_record_change on public.organization_members is
'atoms: history events member_added, member_role_changed, member_removed.';
comment on trigger organization_invitations_record_change on public.organization_invitations is
'atoms: history events invitation_created, invitation_accepted, invitation_declined, invitation_expired.';
comment on trigger projects_record_change on public.projects is
'atoms: history events project_created, project_updated, settings_changed, project_archived, project_unarchived.';

-- Invitations are never removed (expired or answered ones stay as the record).
create or replace trigger organization_invitations_refuse_delete
before delete on public.organization_invitations
for each row execute function private.refuse_physical_delete();

comment on trigger organization_invitations_refuse_delete on public.organization_invitations is
'atoms: invitations are answered or expire, never removed through the API.';
