-- Every MCP call audited, refused requests counted, and one round trip to take a rate-limit slot.
-- Objects: public.mcp_audit_log (new columns client_address, request_count; status rules for cancelled,
--   rate_limited and refused; SELECT for service_role), public.atoms_take_rate_limit_slot (new). The writer that
--   fills the new columns and applies the tenancy rule below, private.write_mcp_audit_batch, is defined once, in
--   audit_log_org_scope (it also files organisation-level calls).
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
