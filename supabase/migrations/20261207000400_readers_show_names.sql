-- The readers show the names recorded beside each person's id: history events (atoms_get_history and
-- atoms_project_summary's recent_changes, both through private.history_event) and atoms_get_audit_log's records
-- (atoms_get_item's test results show them from reads_with_verification_status). Each body is its current
-- definition with the name and email fields added.
-- Objects (redefined): private.history_event, public.atoms_get_audit_log.
-- Security: unchanged (the names are columns of rows the caller may already read).

-- ---- helpers ----
create or replace function private.history_event(h public.change_history) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'event_type', h.event_type,
    'changed_by', h.changed_by,
    'changed_by_name', h.changed_by_name,
    'changed_by_email', h.changed_by_email,
    'changed_at', private.iso_utc(h.changed_at),
    'actor', h.actor,
    'session_id', h.session_id,
    'fields_changed', to_jsonb(h.fields_changed),
    'old_values', h.old_values,
    'new_values', h.new_values,
    'reason', h.reason
  )
$$;

comment on function private.history_event(public.change_history) is
'atoms: one change_history row as the history tools show it (event_type, changed_by with changed_by_name and changed_by_email as they were when the row was written, changed_at in UTC, actor, session_id, fields_changed, old_values, new_values, reason).';
revoke execute on function private.history_event(public.change_history) from public, anon;
grant execute on function private.history_event(public.change_history) to authenticated, atoms_rpc_owner;

-- ---- RPCs ----
create or replace function public.atoms_get_audit_log(
  project_id text default null,
  tool_name text default null,
  user_id text default null,
  status text default null,
  since text default null,
  until text default null,
  "limit" integer default 50,
  "offset" integer default 0,
  org_id text default null
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  v_project uuid;
  v_org uuid;
  v_tool text;
  v_user uuid;
  v_status public.mcp_call_status;
  v_since timestamptz;
  v_until timestamptz;
  total bigint;
  page_ids bigint[];
  page jsonb;
begin
  -- One scope: a project's records, or the organisation-level records (no project) of an organisation.
  if (atoms_get_audit_log.project_id is null) = (atoms_get_audit_log.org_id is null) then
    raise exception 'give exactly one of project_id (a project''s calls) or org_id (organisation-level calls)'
      using errcode = '22023';
  end if;
  if atoms_get_audit_log.project_id is not null then
    v_project := private.require_uuid(atoms_get_audit_log.project_id, 'project_id');
    perform private.require_project_role(v_project, 'admin');
  else
    v_org := private.require_uuid(atoms_get_audit_log.org_id, 'org_id');
    perform private.require_org_role(v_org, 'admin');
  end if;
  if atoms_get_audit_log.tool_name is not null and atoms_get_audit_log.tool_name !~ '^[A-Za-z0-9_.-]{1,128}$' then
    raise exception 'tool_name must be a tool name such as atoms_get_item, got "%"', left(atoms_get_audit_log.tool_name, 80)
      using errcode = '22023';
  end if;
  v_tool := atoms_get_audit_log.tool_name;
  if atoms_get_audit_log.user_id is not null then
    v_user := private.require_uuid(atoms_get_audit_log.user_id, 'user_id');
  end if;
  if atoms_get_audit_log.status is not null then
    v_status := private.require_enum(atoms_get_audit_log.status, 'status', null::public.mcp_call_status)::public.mcp_call_status;
  end if;
  v_since := private.parse_audit_timestamp(atoms_get_audit_log.since, 'since');
  v_until := private.parse_audit_timestamp(atoms_get_audit_log.until, 'until');
  perform private.require_int_range(atoms_get_audit_log."limit", 'limit', 1, 200);
  perform private.require_int_range(atoms_get_audit_log."offset", 'offset', 0, 1000000);

  -- One branch per scope, so each count and page runs on its own index (project_id, created_at) or (org_id).
  if v_project is not null then
    select count(*) into total
    from public.mcp_audit_log as a
    where a.project_id = v_project
      and (v_tool is null or a.tool_name = v_tool)
      and (v_user is null or a.user_id = v_user)
      and (v_status is null or a.status = v_status)
      and (v_since is null or a.created_at >= v_since)
      and (v_until is null or a.created_at < v_until);
    select array_agg(x.id order by x.created_at desc, x.id desc) into page_ids
    from (
      select l.id, l.created_at
      from public.mcp_audit_log as l
      where l.project_id = v_project
        and (v_tool is null or l.tool_name = v_tool)
        and (v_user is null or l.user_id = v_user)
        and (v_status is null or l.status = v_status)
        and (v_since is null or l.created_at >= v_since)
        and (v_until is null or l.created_at < v_until)
      order by l.created_at desc, l.id desc
      limit atoms_get_audit_log."limit" offset atoms_get_audit_log."offset"
    ) as x;
  else
    select count(*) into total
    from public.mcp_audit_log as a
    where a.org_id = v_org and a.project_id is null
      and (v_tool is null or a.tool_name = v_tool)
      and (v_user is null or a.user_id = v_user)
      and (v_status is null or a.status = v_status)
      and (v_since is null or a.created_at >= v_since)
      and (v_until is null or a.created_at < v_until);
    select array_agg(x.id order by x.created_at desc, x.id desc) into page_ids
    from (
      select l.id, l.created_at
      from public.mcp_audit_log as l
      where l.org_id = v_org and l.project_id is null
        and (v_tool is null or l.tool_name = v_tool)
        and (v_user is null or l.user_id = v_user)
        and (v_status is null or l.status = v_status)
        and (v_since is null or l.created_at >= v_since)
        and (v_until is null or l.created_at < v_until)
      order by l.created_at desc, l.id desc
      limit atoms_get_audit_log."limit" offset atoms_get_audit_log."offset"
    ) as x;
  end if;

  select coalesce(jsonb_agg(
    jsonb_build_object(
      'id', a.id,
      'created_at', to_char(a.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'called_at', to_char(a.called_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      'tool_name', a.tool_name,
      'status', a.status,
      'error_code', a.error_code,
      'error_message', a.error_message,
      'duration_ms', a.duration_ms,
      'user_id', a.user_id,
      'user_name', a.user_name,
      'user_email', a.user_email,
      'project_id', a.project_id,
      'org_id', a.org_id,
      'session_id', a.session_id,
      'client_name', a.client_name,
      'actor', a.actor,
      'request_id', a.request_id,
      'server_instance', a.server_instance,
      'params', a.params
    ) order by a.created_at desc, a.id desc
  ), '[]'::jsonb) into page
  from public.mcp_audit_log as a
  where a.id = any(page_ids);

  return private.page_envelope(page, total, atoms_get_audit_log."limit", atoms_get_audit_log."offset");
end;
$$;

comment on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer, text) is
'atoms tool atoms_get_audit_log (admin; security invoker): MCP audit records newest first, of one project (project_id) or the organisation-level calls of one organisation (org_id, rows without a project), filtered by tool_name, user_id, status and created_at in [since, until); limit 1-200 (50), offset >= 0; the table''s policy limits rows to organisations the caller administers. Returns {data: [record (user_id with user_name and user_email as they were)], meta: {total_count, limit, offset, has_more}}.';
revoke execute on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer, text) from public, anon;
grant execute on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer, text) to authenticated;
