-- The readers show the names recorded beside each person's id: history events (atoms_get_history and
-- atoms_project_summary's recent_changes, both through private.history_event), atoms_get_item's test results and
-- atoms_get_audit_log's records. Each body is its current definition with the name and email fields added.
-- Objects (redefined): private.history_event, public.atoms_get_item, public.atoms_get_audit_log.
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
create or replace function public.atoms_get_item(
  project_id text,
  item_id text
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_get_item.project_id, 'project_id');
  item_key text;
  it public.items;
  rels jsonb;
  results jsonb;
  latest jsonb;
  owner_info jsonb;
  doc jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  item_key := private.require_item_key(atoms_get_item.item_id, 'item_id');

  select i.* into it
  from public.items as i
  where i.project_id = pid and i.key = item_key and i.deleted_at is null;
  if not found then
    -- A deleted item is still not found; a member is told when and by whom it was deleted (error details).
    perform private.raise_item_not_found(pid, item_key, 'item');
  end if;

  -- Live links to live items, read in both directions through the per-endpoint indexes.
  select jsonb_build_object(
    'parents', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'hierarchy' and l.target_item_id = it.id), '[]'::jsonb),
    'children', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'hierarchy' and l.source_item_id = it.id), '[]'::jsonb),
    'related', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'related'), '[]'::jsonb),
    'verifies', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'verification' and l.source_item_id = it.id), '[]'::jsonb),
    'verified_by', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'verification' and l.target_item_id = it.id), '[]'::jsonb)
  ) into rels
  from public.item_links as l
  inner join public.items as o
    on o.id = case when l.source_item_id = it.id then l.target_item_id else l.source_item_id end
  where
    (l.source_item_id = it.id or l.target_item_id = it.id)
    and l.project_id = pid
    and l.deleted_at is null
    and o.project_id = pid
    and o.deleted_at is null;

  owner_info := jsonb_build_object(
    'created_by', it.created_by,
    'created_at', private.iso_utc(it.created_at),
    'updated_by', it.updated_by,
    'updated_at', private.iso_utc(it.updated_at)
  );
  doc := jsonb_build_object(
    'id', it.key,
    'type', it.item_type,
    'title', it.title,
    'summary', it.summary,
    'body', it.body,
    'tags', jsonb_build_object('domains', to_jsonb(it.domains), 'level', it.level),
    'ownership', owner_info,
    'relationships', rels,
    'links', '[]'::jsonb,
    'status', null,
    'metadata', owner_info
  );

  if it.item_type = 'test-case' then
    -- Newest run first (by when it ran; runs recorded before run_at existed ran when recorded); the 100 most
    -- recent runs (the full record stays in test_results and change_history).
    select coalesce(jsonb_agg(
      jsonb_build_object(
        'result', r.result,
        'note', r.note,
        'run_at', private.iso_utc(r.ran_at),
        'build', r.build,
        'executed_by', r.executed_by,
        'executed_by_id', r.executed_by_id,
        'evidence', r.evidence,
        'recorded_at', private.iso_utc(r.recorded_at),
        'recorded_by', r.recorded_by,
        'recorded_by_name', r.recorded_by_name,
        'recorded_by_email', r.recorded_by_email,
        'actor', r.actor
      ) order by r.ran_at desc, r.id desc
    ), '[]'::jsonb)
    into results
    from (
      select t.*, coalesce(t.run_at, t.recorded_at) as ran_at
      from public.test_results as t
      where t.item_id = it.id and t.project_id = pid
      order by coalesce(t.run_at, t.recorded_at) desc, t.id desc
      limit 100
    ) as r;
    latest := case
      when jsonb_array_length(results) > 0 then
        jsonb_build_object(
          'result', results -> 0 -> 'result',
          'note', results -> 0 -> 'note',
          'run_at', results -> 0 -> 'run_at',
          'build', results -> 0 -> 'build',
          'executed_by', results -> 0 -> 'executed_by',
          'evidence', results -> 0 -> 'evidence',
          'recorded_at', results -> 0 -> 'recorded_at'
        )
    end;
    doc := doc || jsonb_build_object(
      'status', latest -> 'result',
      'latest_result', latest,
      'test_results', results
    );
  end if;

  return doc;
end;
$$;

comment on function public.atoms_get_item(text, text) is
'atoms tool atoms_get_item (viewer; security invoker): one live item with tags, ownership, relationships (keys of live linked items), links [] (atoms stores no external links) and status (test case: latest result by run_at, else null); another tenant''s item is PT404, a soft-deleted one PT404 with {id, deleted_at, deleted_by} as DETAIL for members. Returns the item; test cases add latest_result and test_results (newest run first by run_at, at most 100, each with run_at, build, executed_by, executed_by_id, evidence, recorded_at, recorded_by, actor); each test result names recorded_by with its recorded_by_name and recorded_by_email as they were.';
revoke execute on function public.atoms_get_item(text, text) from public, anon;
grant execute on function public.atoms_get_item(text, text) to authenticated;

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
