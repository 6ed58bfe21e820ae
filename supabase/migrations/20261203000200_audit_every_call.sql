-- Every MCP call audited, refused requests counted, and one round trip to take a rate-limit slot.
-- Objects: public.mcp_audit_log (new columns client_address, request_count; status rules for cancelled,
--   rate_limited and refused; SELECT for service_role), private.write_mcp_audit_batch (replaced),
--   public.atoms_take_rate_limit_slot (new).
-- Audit rows: a tool call that parses is one row (success, error, cancelled, rate_limited). HTTP requests refused
--   before the caller is identified (no or bad token, size caps, the per-address limit) are counted by the MCP
--   server and written as one row per (client address, minute, reason): status refused, error_code the reason,
--   request_count how many, no user and no project.
-- Tenancy: a row is filed under an organisation only when its user is a member of the organisation of the project
--   it names; otherwise it has no organisation (a caller naming another tenant's project id never lands a row in
--   that tenant's log). Rows with no organisation are readable by service_role only (bypassrls; SELECT granted here).
-- Slot: atoms_take_rate_limit_slot counts the call like atoms_check_rate_limit and raises PT429 (retry-after
--   seconds in DETAIL) when the limit is reached, so the MCP server can send "take the slot" and the RPC's own
--   transaction in one pipelined round trip: the refusal aborts the rest of the pipeline, the RPC never runs, and
--   the limiter's row lock is released when the slot's transaction commits, before the RPC starts.

-- ---- mcp_audit_log ----
alter table public.mcp_audit_log
add column if not exists client_address inet,
add column if not exists request_count integer;

alter table public.mcp_audit_log drop constraint if exists mcp_audit_log_error_code_check;
alter table public.mcp_audit_log add constraint mcp_audit_log_error_code_check check (
  (status = 'success' and error_code is null)
  or (status = 'cancelled' and (error_code is null or error_code ~ '^[A-Z][A-Z0-9_]{1,39}$'))
  or (status in ('error', 'rate_limited', 'refused') and error_code ~ '^[A-Z][A-Z0-9_]{1,39}$')
);
alter table public.mcp_audit_log add constraint mcp_audit_log_request_count_check check (
  (status = 'refused') = (request_count is not null) and request_count between 1 and 1000000000
);
alter table public.mcp_audit_log add constraint mcp_audit_log_refused_check check (
  status <> 'refused' or (user_id is null and project_id is null and client_address is not null)
);

comment on table public.mcp_audit_log is
'atoms: one row per MCP tool call (success, error, cancelled, rate_limited), plus one row per client address, minute and reason counting the HTTP requests refused before identification (refused). Append-only for every role; written only by private.write_mcp_audit_batch (MCP gateway); readable by admins of the row''s organisation; rows with no organisation (unknown project, a caller outside the project''s organisation, refused requests) by service_role only.';
comment on column public.mcp_audit_log.org_id is
'Derived by the writer from project_id, and only when the row''s user is a member of that project''s organisation (never taken from the caller); null otherwise.';
comment on column public.mcp_audit_log.client_address is
'The client''s IP address as the MCP server saw it (X-Forwarded-For only from ATOMS_TRUSTED_PROXIES); required on refused rows.';
comment on column public.mcp_audit_log.request_count is
'Refused rows only: how many requests of this client address were refused for this reason in this minute (called_at).';

grant select on table public.mcp_audit_log to service_role;

-- ---- writer ----
create or replace function private.write_mcp_audit_batch(records jsonb) returns integer
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  allowed_keys constant text[] := array[
    'tool_name', 'params', 'status', 'error_code', 'error_message', 'duration_ms', 'user_id', 'project_id',
    'session_id', 'client_name', 'actor', 'request_id', 'server_instance', 'called_at', 'client_address',
    'request_count'
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
    if rec ? 'org_id' then
      raise exception '%.org_id must not be sent: the organisation is derived from project_id', field
        using errcode = '22023', hint = 'Send project_id only.';
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
      if v_address is null or v_user is not null or v_project is not null then
        raise exception '%: a refused record names its client_address and no user_id or project_id', field using errcode = '22023';
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
    -- Filed under the project's organisation only for its members: another tenant's project id stays org-less.
    case when m.user_id is not null then p.org_id end,
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
    session_ids, client_names, actors, request_ids, server_instances, addresses, counts
  ) with ordinality as r (
    called_at, tool_name, params, status, error_code, error_message, duration_ms, user_id, project_id,
    session_id, client_name, actor, request_id, server_instance, client_address, request_count, position
  )
  left join public.projects as p on r.project_id = p.id
  left join public.organization_members as m on p.org_id = m.org_id and r.user_id = m.user_id
  order by r.position;
  get diagnostics written = row_count;
  return written;
end;
$$;

comment on function private.write_mcp_audit_batch(jsonb) is
'atoms: the only writer of public.mcp_audit_log. Takes a JSON array of 1-1000 records {tool_name, status, duration_ms, error_code?, error_message?, params?, user_id?, project_id?, session_id?, client_name?, actor?, request_id?, server_instance?, called_at?, client_address?, request_count?}; validates all of them and writes all or none (22023 names the first bad record and field); cleans client-influenced text (control characters, length); files a row under the project''s organisation only when its user is a member of it; refused records (status refused) carry client_address and request_count and no user or project; redacts secrets and caps params at 8192 bytes. Returns the number of rows written. Executable by atoms_mcp_gateway only.';
revoke execute on function private.write_mcp_audit_batch(jsonb) from public, anon, authenticated;
grant execute on function private.write_mcp_audit_batch(jsonb) to atoms_mcp_gateway;

-- ---- rate-limit slot ----
create or replace function public.atoms_take_rate_limit_slot(
  "limit" integer default 60,
  window_seconds integer default 60
) returns integer
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  decision record;
begin
  select r.allowed, r.remaining, r.retry_after_seconds into strict decision
  from private.check_rate_limit(atoms_take_rate_limit_slot."limit", atoms_take_rate_limit_slot.window_seconds, null) as r;
  if not decision.allowed then
    raise exception 'Rate limit of % calls per % s reached. Wait % s before the next call.',
      atoms_take_rate_limit_slot."limit", atoms_take_rate_limit_slot.window_seconds, decision.retry_after_seconds
      using errcode = 'PT429', detail = decision.retry_after_seconds::text,
      hint = 'The window slides: one call frees with each second listed in DETAIL.';
  end if;
  return decision.remaining;
end;
$$;

alter function public.atoms_take_rate_limit_slot(integer, integer) owner to atoms_rpc_owner;
comment on function public.atoms_take_rate_limit_slot(integer, integer) is
'atoms tool atoms_take_rate_limit_slot (any signed-in user; security definer): takes one slot of the caller''s sliding window of "limit" requests per window_seconds (defaults 60/60), wall clock only; when none is left it raises PT429 with the seconds to wait in DETAIL and counts nothing, so a client can send the slot and the work it guards in one round trip (the refusal aborts what follows). Returns the slots left (integer).';
revoke execute on function public.atoms_take_rate_limit_slot(integer, integer) from public, anon;
grant execute on function public.atoms_take_rate_limit_slot(integer, integer) to authenticated;
