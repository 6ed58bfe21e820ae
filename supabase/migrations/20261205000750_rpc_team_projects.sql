-- Organisation administration RPCs, projects and history (toolset admin: the organisation's admins): projects and
-- their settings, archiving, and the organisation's own history.
-- Objects: public.atoms_create_project, public.atoms_update_project, public.atoms_archive_project,
--   public.atoms_get_org_history; private.project_view, private.org_history_event (one history row as the tool
--   shows it).
-- Security: security definer owned by atoms_rpc_owner, EXECUTE for authenticated only; each validates every argument
--   (22023) and checks private.require_org_role(org, 'admin') or private.require_project_role(project, 'admin')
--   first, so another organisation's project is "not found" (PT404), never "forbidden". Archived projects are
--   read-only (PT409) until unarchived.

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
