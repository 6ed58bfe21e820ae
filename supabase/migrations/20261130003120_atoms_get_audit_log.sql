-- atoms_get_audit_log: the MCP audit records of one project for its organisation's admins.
-- Objects: public.atoms_get_audit_log.
-- Security: security invoker (runs as the caller): require_project_role(..., 'admin') first (28000 / PT404 /
--   42501), then the table's select policy limits rows to organisations the caller administers, so the
--   function holds no privilege of its own. Served by mcp_audit_log_project_id_created_at_idx.

-- ---- RPCs ----
create or replace function public.atoms_get_audit_log(
  project_id text,
  tool_name text default null,
  user_id text default null,
  status text default null,
  since text default null,
  until text default null,
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security invoker set search_path = ''
as $$
declare
  v_project uuid := private.require_uuid(atoms_get_audit_log.project_id, 'project_id');
  v_tool text;
  v_user uuid;
  v_status text;
  v_since timestamptz;
  v_until timestamptz;
  total bigint;
  page jsonb;
begin
  perform private.require_project_role(v_project, 'admin');
  if atoms_get_audit_log.tool_name is not null and atoms_get_audit_log.tool_name !~ '^[A-Za-z0-9_.-]{1,128}$' then
    raise exception 'tool_name must be a tool name such as atoms_get_item, got "%"', left(atoms_get_audit_log.tool_name, 80)
      using errcode = '22023';
  end if;
  v_tool := atoms_get_audit_log.tool_name;
  if atoms_get_audit_log.user_id is not null then
    v_user := private.require_uuid(atoms_get_audit_log.user_id, 'user_id');
  end if;
  if atoms_get_audit_log.status is not null then
    v_status := private.require_choice(atoms_get_audit_log.status, 'status', array['success', 'error']);
  end if;
  v_since := private.parse_audit_timestamp(atoms_get_audit_log.since, 'since');
  v_until := private.parse_audit_timestamp(atoms_get_audit_log.until, 'until');
  perform private.require_int_range(atoms_get_audit_log."limit", 'limit', 1, 200);
  perform private.require_int_range(atoms_get_audit_log."offset", 'offset', 0, 1000000);

  select count(*) into total
  from public.mcp_audit_log as a
  where a.project_id = v_project
    and (v_tool is null or a.tool_name = v_tool)
    and (v_user is null or a.user_id = v_user)
    and (v_status is null or a.status = v_status)
    and (v_since is null or a.created_at >= v_since)
    and (v_until is null or a.created_at < v_until);

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
      'project_id', a.project_id,
      'session_id', a.session_id,
      'client_name', a.client_name,
      'actor', a.actor,
      'request_id', a.request_id,
      'server_instance', a.server_instance,
      'params', a.params
    ) order by a.created_at desc, a.id desc
  ), '[]'::jsonb) into page
  from (
    select l.*
    from public.mcp_audit_log as l
    where l.project_id = v_project
      and (v_tool is null or l.tool_name = v_tool)
      and (v_user is null or l.user_id = v_user)
      and (v_status is null or l.status = v_status)
      and (v_since is null or l.created_at >= v_since)
      and (v_until is null or l.created_at < v_until)
    order by l.created_at desc, l.id desc
    limit atoms_get_audit_log."limit" offset atoms_get_audit_log."offset"
  ) as a;

  return private.page_envelope(page, total, atoms_get_audit_log."limit", atoms_get_audit_log."offset");
end;
$$;

comment on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer) is
'atoms: admin only. The project''s MCP audit records newest first, filtered by tool_name, user_id, status and created_at in [since, until); {"data": [...], "meta": {total_count, limit, offset, has_more}}. limit 1-200 (50), offset >= 0. Security invoker: the table''s policy limits rows to organisations the caller administers.';
revoke execute on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer) from public, anon;
grant execute on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer) to authenticated;
