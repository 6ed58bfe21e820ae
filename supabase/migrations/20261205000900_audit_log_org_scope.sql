-- Organisation scope of the audit log and of history verification: organisation-level tool calls (the team tools,
-- which name an organisation and no project) are filed under their organisation, and admins read and verify them.
-- Objects: public.mcp_audit_log's check mcp_audit_log_org_id_check is dropped (org_id may be set without project_id)
--   and org_id gains a foreign key and an index of organisation-level rows; private.write_mcp_audit_batch
--   (redefined from mcp_audit_log) writes the columns and statuses of audit_every_call and accepts org_id;
--   public.atoms_get_audit_log gains org_id (replaces the 8-argument form); public.atoms_verify_history gains
--   org_id (replaces the 1-argument form from rpc_read_summary).
-- Security: a record names an organisation only when its project belongs to it or its user is a member of it (the
--   writer checks; a caller's claim alone files nothing); organisation-level rows are read by that organisation's
--   admins (the table's existing policy on org_id).

-- ---- mcp_audit_log: organisation-level rows ----
alter table public.mcp_audit_log drop constraint if exists mcp_audit_log_org_id_check;
alter table public.mcp_audit_log drop constraint if exists mcp_audit_log_org_id_fkey;
alter table public.mcp_audit_log add constraint mcp_audit_log_org_id_fkey foreign key (org_id) references public.organizations (id);

-- The admin query of organisation scope: an organisation's rows without a project, newest first.
create index if not exists mcp_audit_log_org_id_created_at_idx on public.mcp_audit_log (org_id, created_at desc, id desc)
where project_id is null;

comment on column public.mcp_audit_log.org_id is
'The organisation the call concerned: derived by the writer from project_id, or for an organisation-level call (no project) the org_id it named when the user is a member of it; null otherwise (never taken from the caller unchecked).';

-- ---- writer ----
create or replace function private.write_mcp_audit_batch(records jsonb) returns integer
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  allowed_keys constant text[] := array[
    'tool_name', 'params', 'status', 'error_code', 'error_message', 'duration_ms', 'user_id', 'project_id',
    'session_id', 'client_name', 'actor', 'request_id', 'server_instance', 'called_at', 'client_address',
    'request_count', 'org_id'
  ];
  code_pattern constant text := '^[A-Z][A-Z0-9_]{1,39}$';
  rec jsonb;
  pos bigint;
  field text;
  unknown_key text;
  written integer;
  v_params jsonb;
  v_called_at timestamptz;
  v_duration numeric;
  v_count numeric;
  v_status text;
  v_error_code text;
  v_actor text;
  v_tool text;
  v_project uuid;
  v_org uuid;
  v_user uuid;
  v_address inet;
  tool_names text[] := '{}';
  params_list jsonb[] := '{}';
  statuses text[] := '{}';
  error_codes text[] := '{}';
  error_messages text[] := '{}';
  durations integer[] := '{}';
  user_ids uuid[] := '{}';
  project_ids uuid[] := '{}';
  org_ids uuid[] := '{}';
  session_ids text[] := '{}';
  client_names text[] := '{}';
  actors text[] := '{}';
  request_ids text[] := '{}';
  server_instances text[] := '{}';
  called_ats timestamptz[] := '{}';
  addresses inet[] := '{}';
  counts integer[] := '{}';
begin
  if records is null or jsonb_typeof(records) <> 'array' then
    raise exception 'records must be a JSON array of audit records' using errcode = '22023';
  end if;
  if jsonb_array_length(records) not between 1 and 1000 then
    raise exception 'records must hold 1 to 1000 audit records, got %', jsonb_array_length(records) using errcode = '22023';
  end if;

  for rec, pos in select e.value, e.position - 1 from jsonb_array_elements(records) with ordinality as e (value, position) loop
    field := format('records[%s]', pos);
    if jsonb_typeof(rec) <> 'object' then
      raise exception '% must be a JSON object', field using errcode = '22023';
    end if;
    select k into unknown_key from jsonb_object_keys(rec) as k where not (k = any(allowed_keys)) limit 1;
    if unknown_key is not null then
      raise exception '% has an unknown field "%" (allowed: %)', field, left(unknown_key, 80), array_to_string(allowed_keys, ', ')
        using errcode = '22023';
    end if;
    if exists (
      select 1 from jsonb_each(rec) as e
      where e.key not in ('params', 'duration_ms', 'request_count') and jsonb_typeof(e.value) not in ('string', 'null')
    ) then
      raise exception '% fields other than params, duration_ms and request_count must be strings or null', field
        using errcode = '22023';
    end if;

    v_tool := rec ->> 'tool_name';
    if v_tool is null or v_tool !~ '^[A-Za-z0-9_.-]{1,128}$' then
      raise exception '%.tool_name must be 1-128 characters of A-Z a-z 0-9 _ . -, got "%"', field, coalesce(left(v_tool, 80), 'null')
        using errcode = '22023';
    end if;
    v_status := private.require_enum(rec ->> 'status', field || '.status', null::public.mcp_call_status);
    v_error_code := rec ->> 'error_code';
    if v_status in ('error', 'rate_limited', 'refused') and (v_error_code is null or v_error_code !~ code_pattern) then
      raise exception '%.error_code must be an upper-case code such as NOT_FOUND when status is %, got "%"',
        field, v_status, coalesce(left(v_error_code, 80), 'null')
        using errcode = '22023';
    end if;
    if v_status = 'cancelled' and v_error_code !~ code_pattern then
      raise exception '%.error_code must be null or an upper-case code when status is cancelled, got "%"',
        field, left(v_error_code, 80)
        using errcode = '22023';
    end if;
    if v_status = 'success' and v_error_code is not null then
      raise exception '%.error_code must be null when status is success', field using errcode = '22023';
    end if;
    if jsonb_typeof(rec -> 'duration_ms') is distinct from 'number' then
      raise exception '%.duration_ms is required (an integer number of milliseconds)', field using errcode = '22023';
    end if;
    v_duration := (rec ->> 'duration_ms')::numeric;
    if v_duration <> trunc(v_duration) or v_duration not between 0 and 86400000 then
      raise exception '%.duration_ms must be an integer from 0 to 86400000, got %', field, rec ->> 'duration_ms'
        using errcode = '22023';
    end if;
    v_actor := rec ->> 'actor';
    -- The MCP server acts for AI clients and the CLI, never as a plain (web) user.
    if v_actor is not null and (not private.is_actor(v_actor) or v_actor = 'user') then
      raise exception '%.actor must be cli, mcp_<client> or import:<format> (lower-case, digits, underscore; at most 40 after the prefix), got "%"',
        field, left(v_actor, 80)
        using errcode = '22023';
    end if;
    v_project := case when rec ->> 'project_id' is not null then private.require_uuid(rec ->> 'project_id', field || '.project_id') end;
    v_org := case when rec ->> 'org_id' is not null then private.require_uuid(rec ->> 'org_id', field || '.org_id') end;
    v_user := case when rec ->> 'user_id' is not null then private.require_uuid(rec ->> 'user_id', field || '.user_id') end;
    v_called_at := coalesce(private.parse_audit_timestamp(rec ->> 'called_at', field || '.called_at'), now());
    if v_called_at < now() - interval '1 year' or v_called_at > now() + interval '5 minutes' then
      raise exception '%.called_at must lie within the last year (and at most 5 minutes ahead), got %', field, rec ->> 'called_at'
        using errcode = '22023';
    end if;
    v_address := null;
    if rec ->> 'client_address' is not null then
      begin
        v_address := (rec ->> 'client_address')::inet;
      exception when invalid_text_representation then
        raise exception '%.client_address must be an IP address, got "%"', field, left(rec ->> 'client_address', 80)
          using errcode = '22023';
      end;
    end if;
    v_count := null;
    if v_status = 'refused' then
      if jsonb_typeof(rec -> 'request_count') is distinct from 'number' then
        raise exception '%.request_count is required when status is refused (how many requests)', field using errcode = '22023';
      end if;
      v_count := (rec ->> 'request_count')::numeric;
      if v_count <> trunc(v_count) or v_count not between 1 and 1000000000 then
        raise exception '%.request_count must be an integer from 1 to 1000000000, got %', field, rec ->> 'request_count'
          using errcode = '22023';
      end if;
      if v_address is null or v_user is not null or v_project is not null or v_org is not null then
        raise exception '%: a refused record names its client_address and no user_id, project_id or org_id', field
          using errcode = '22023';
      end if;
    elsif jsonb_typeof(rec -> 'request_count') is distinct from 'null' and rec ? 'request_count' then
      raise exception '%.request_count is only for refused records', field using errcode = '22023';
    end if;

    v_params := coalesce(rec -> 'params', '{}'::jsonb);
    if jsonb_typeof(v_params) = 'null' then
      v_params := '{}'::jsonb;
    end if;
    if jsonb_typeof(v_params) <> 'object' then
      raise exception '%.params must be a JSON object', field using errcode = '22023';
    end if;
    if octet_length(v_params::text) > 8192 then
      v_params := jsonb_build_object(
        '_truncated', true,
        'original_bytes', octet_length(v_params::text),
        'sha256', encode(pg_catalog.sha256(convert_to(v_params::text, 'UTF8')), 'hex')
      );
    elsif v_params::text ~* '(password|passwd|secret|token|authorization|api[_-]?key|credential|cookie)' then
      -- Walk the tree only when a secret-like word occurs anywhere (keys are rarely named so).
      v_params := private.redact_audit_params(v_params);
    end if;

    tool_names := tool_names || v_tool;
    params_list := params_list || v_params;
    statuses := statuses || v_status;
    error_codes := error_codes || v_error_code;
    error_messages := error_messages || private.clean_audit_text(rec ->> 'error_message', 1000, true);
    durations := durations || v_duration::integer;
    user_ids := user_ids || v_user;
    project_ids := project_ids || v_project;
    org_ids := org_ids || v_org;
    session_ids := session_ids || private.clean_audit_text(rec ->> 'session_id', 200, false);
    client_names := client_names || private.clean_audit_text(rec ->> 'client_name', 100, false);
    actors := actors || v_actor;
    request_ids := request_ids || private.clean_audit_text(rec ->> 'request_id', 200, false);
    server_instances := server_instances || private.clean_audit_text(rec ->> 'server_instance', 200, false);
    called_ats := called_ats || v_called_at;
    addresses := addresses || v_address;
    counts := counts || v_count::integer;
  end loop;

  insert into public.mcp_audit_log (
    called_at, tool_name, params, status, error_code, error_message, duration_ms, user_id, org_id, project_id,
    session_id, client_name, actor, request_id, server_instance, client_address, request_count
  )
  select
    r.called_at,
    r.tool_name,
    r.params,
    r.status::public.mcp_call_status,
    r.error_code,
    r.error_message,
    r.duration_ms,
    r.user_id,
    -- Filed under the project's organisation only for its members (another tenant's project id stays org-less);
    -- an organisation named without a project likewise only for its members.
    case when pm.user_id is not null then p.org_id when om.user_id is not null then om.org_id end,
    r.project_id,
    r.session_id,
    r.client_name,
    r.actor::public.actor_tag,
    r.request_id,
    r.server_instance,
    r.client_address,
    r.request_count
  from unnest(
    called_ats, tool_names, params_list, statuses, error_codes, error_messages, durations, user_ids, project_ids,
    session_ids, client_names, actors, request_ids, server_instances, addresses, counts, org_ids
  ) with ordinality as r (
    called_at, tool_name, params, status, error_code, error_message, duration_ms, user_id, project_id,
    session_id, client_name, actor, request_id, server_instance, client_address, request_count, org_id, position
  )
  left join public.projects as p on r.project_id = p.id
  left join public.organization_members as pm on p.org_id = pm.org_id and r.user_id = pm.user_id
  left join public.organization_members as om on r.project_id is null and r.org_id = om.org_id and r.user_id = om.user_id
  order by r.position;
  get diagnostics written = row_count;
  return written;
end;
$$;

comment on function private.write_mcp_audit_batch(jsonb) is
'atoms: the only writer of public.mcp_audit_log. Takes a JSON array of 1-1000 records {tool_name, status, duration_ms, error_code?, error_message?, params?, user_id?, project_id?, org_id?, session_id?, client_name?, actor?, request_id?, server_instance?, called_at?, client_address?, request_count?}; validates all of them and writes all or none (22023 names the first bad record and field); cleans client-influenced text (control characters, length); files a row under the project''s organisation, or for an organisation-level call (org_id, no project) under that organisation, only when its user is a member of it; refused records (status refused) carry client_address and request_count and no user, project or organisation; redacts secrets and caps params at 8192 bytes. Returns the number of rows written. Executable by atoms_mcp_gateway only.';
revoke execute on function private.write_mcp_audit_batch(jsonb) from public, anon, authenticated;
grant execute on function private.write_mcp_audit_batch(jsonb) to atoms_mcp_gateway;

-- ---- reader ----
drop function if exists public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer);

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
'atoms tool atoms_get_audit_log (admin; security invoker): MCP audit records newest first, of one project (project_id) or the organisation-level calls of one organisation (org_id, rows without a project), filtered by tool_name, user_id, status and created_at in [since, until); limit 1-200 (50), offset >= 0; the table''s policy limits rows to organisations the caller administers. Returns {data: [record], meta: {total_count, limit, offset, has_more}}.';
revoke execute on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer, text) from public, anon;
grant execute on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer, text) to authenticated;

-- ---- verification ----
drop function if exists public.atoms_verify_history(text);

create or replace function public.atoms_verify_history(project_id text default null, org_id text default null) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  chain_scope public.history_scope;
  chain_id uuid;
  outcome record;
begin
  -- One chain: a project's (any member) or an organisation's own (its admins: it records the membership).
  if (atoms_verify_history.project_id is null) = (atoms_verify_history.org_id is null) then
    raise exception 'give exactly one of project_id (a project''s history) or org_id (the organisation''s own history)'
      using errcode = '22023';
  end if;
  if atoms_verify_history.project_id is not null then
    chain_scope := 'project';
    chain_id := private.require_uuid(atoms_verify_history.project_id, 'project_id');
    perform private.require_project_role(chain_id, 'viewer');
  else
    chain_scope := 'org';
    chain_id := private.require_uuid(atoms_verify_history.org_id, 'org_id');
    perform private.require_org_role(chain_id, 'admin');
  end if;
  select * into outcome from private.history_first_break(chain_scope, chain_id);
  return jsonb_build_object(
    'intact', outcome.reason is null,
    'checked_rows', outcome.checked_rows,
    'first_broken', case when outcome.reason is not null then jsonb_build_object(
      'chain_seq', outcome.chain_seq, 'id', outcome.id, 'changed_at', outcome.changed_at, 'reason', outcome.reason
    ) end
  );
end;
$$;

comment on function public.atoms_verify_history(text, text) is
'atoms tool atoms_verify_history (viewer; security definer): recomputes one history hash chain from its first row and checks the chain head: a project''s (project_id, any member) or an organisation''s own (org_id, its admins). Returns {intact, checked_rows, first_broken: null | {chain_seq, id, changed_at, reason}}.';
alter function public.atoms_verify_history(text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_verify_history(text, text) from public, anon;
grant execute on function public.atoms_verify_history(text, text) to authenticated;
