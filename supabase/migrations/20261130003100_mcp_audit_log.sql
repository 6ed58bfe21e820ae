-- MCP audit log: one append-only row per tool call, written in batches by the MCP server, read by org admins.
-- Objects: table public.mcp_audit_log (+ btree per project, BRIN on created_at), private.admin_org_ids,
--   private.refuse_mcp_audit_log_change + triggers, the admins' select policy. The writer
--   (private.write_mcp_audit_batch) and the reader (public.atoms_get_audit_log) follow in their own files.
-- Security: nobody holds INSERT/UPDATE/DELETE/TRUNCATE; triggers refuse UPDATE, DELETE and TRUNCATE even for
--   the owner. Only atoms_mcp_gateway (plain session, not as authenticated) may execute the batch writer,
--   which validates every record, rejects the whole batch on the first bad one (22023 naming record and
--   field), derives org_id from project_id itself and caps params at 8 KB (larger: a marker with size and
--   sha256). Rows are readable by admins of the project's organisation only; rows without a known project
--   (atoms_list_projects, authentication failures, unknown project ids) by no user.
-- Growth: BRIN on created_at (rows arrive in created_at order) instead of partitioning, which would need a
--   scheduled job to create partitions and cannot be maintained inside `supabase db push` transactions.

-- ---- tables ----
create table if not exists public.mcp_audit_log (
  id bigint generated always as identity,
  created_at timestamptz not null default now(),
  called_at timestamptz not null,
  tool_name text not null,
  params jsonb not null default '{}',
  status text not null,
  error_code text,
  error_message text,
  duration_ms integer not null,
  user_id uuid,
  org_id uuid,
  project_id uuid,
  session_id text,
  client_name text,
  actor text,
  request_id text,
  server_instance text,
  constraint mcp_audit_log_pkey primary key (id),
  constraint mcp_audit_log_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint mcp_audit_log_tool_name_check check (tool_name ~ '^[A-Za-z0-9_.-]{1,128}$'),
  constraint mcp_audit_log_params_check check (jsonb_typeof(params) = 'object' and octet_length(params::text) <= 8192),
  constraint mcp_audit_log_status_check check (status in ('success', 'error')),
  constraint mcp_audit_log_error_code_check check (
    (status = 'success' and error_code is null)
    or (status = 'error' and error_code ~ '^[A-Z][A-Z0-9_]{1,39}$')
  ),
  constraint mcp_audit_log_error_message_check check (char_length(error_message) <= 1000),
  constraint mcp_audit_log_duration_ms_check check (duration_ms between 0 and 86400000),
  constraint mcp_audit_log_org_id_check check (org_id is null or project_id is not null),
  constraint mcp_audit_log_session_id_check check (char_length(session_id) <= 200),
  constraint mcp_audit_log_client_name_check check (char_length(client_name) <= 100),
  constraint mcp_audit_log_actor_check check (actor ~ '^mcp_[a-z0-9_]{1,40}$'),
  constraint mcp_audit_log_request_id_check check (char_length(request_id) <= 200),
  constraint mcp_audit_log_server_instance_check check (char_length(server_instance) <= 200)
);

-- ---- indexes ----
-- The admin query: one project, newest first. Covering the policy column and the filter columns lets the
-- filtered total_count run as an index-only scan (the log is append-only, so its pages stay all-visible).
create index if not exists mcp_audit_log_project_id_created_at_idx on public.mcp_audit_log (
  project_id, created_at desc, id desc
) include (org_id, user_id, status, tool_name);
-- The select policy filters on org_id.
create index if not exists mcp_audit_log_org_id_idx on public.mcp_audit_log (org_id);
-- Time-range scans over the whole log (retention reports, exports) as it grows: a few pages per GB.
create index if not exists mcp_audit_log_created_at_brin_idx on public.mcp_audit_log using brin (created_at);

-- ---- comments ----
comment on table public.mcp_audit_log is
'atoms: one row per MCP tool call (allowed or refused). Append-only for every role; written only by private.write_mcp_audit_batch (MCP gateway); readable by admins of the project''s organisation. Rows without a known project are readable by no user.';
comment on column public.mcp_audit_log.created_at is 'When the database recorded the row (transaction time of the batch); filters and ordering use it.';
comment on column public.mcp_audit_log.called_at is 'When the MCP server received the call, as it reports (at most 1 year before and 5 minutes after created_at: records queued through a long outage are still accepted).';
comment on column public.mcp_audit_log.params is
'Tool arguments, secrets (keys like password, token, secret, authorization, api_key) replaced by "[redacted]"; over 8192 bytes replaced by {"_truncated": true, "original_bytes": n, "sha256": hex}.';
comment on column public.mcp_audit_log.error_code is 'Shim error code (VALIDATION_ERROR, NOT_FOUND, PERMISSION_DENIED, CONFLICT, RATE_LIMITED, UNAUTHENTICATED, INTERNAL, ...) when status = error.';
comment on column public.mcp_audit_log.org_id is 'Derived by the writer from project_id (never taken from the caller); null when the project is unknown.';
comment on column public.mcp_audit_log.project_id is 'The project the call named, when it named a well-formed one (kept even when unknown, for the record).';
comment on column public.mcp_audit_log.server_instance is 'Which MCP server process wrote the record (host/pid or replica id).';

-- ---- grants (no INSERT, UPDATE, DELETE or TRUNCATE for anyone) ----
grant select on table public.mcp_audit_log to authenticated;
-- The MCP server's plain login reaches exactly one private function: the batch writer (next migration).
grant usage on schema private to atoms_mcp_gateway;

-- ---- row level security ----
alter table public.mcp_audit_log enable row level security;

-- ---- helpers ----
create or replace function private.admin_org_ids() returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select m.org_id
  from public.organization_members as m
  where m.user_id = (select auth.uid())
    and m.role = 'admin'
$$;

comment on function private.admin_org_ids() is
'atoms: organisations in which the calling user is admin. For policies: org_id in (select private.admin_org_ids()).';
revoke execute on function private.admin_org_ids() from public, anon;
grant execute on function private.admin_org_ids() to authenticated, atoms_rpc_owner;

-- ---- triggers (append-only, for the owner and superusers too) ----
create or replace function private.refuse_mcp_audit_log_change() returns trigger
language plpgsql volatile security invoker set search_path = ''
as $$
begin
  raise exception 'mcp_audit_log is append-only: % is refused', lower(tg_op)
    using errcode = '42501', hint = 'Audit records are never changed or removed.';
end;
$$;

comment on function private.refuse_mcp_audit_log_change() is 'atoms: trigger function that refuses UPDATE, DELETE and TRUNCATE on public.mcp_audit_log.';
revoke execute on function private.refuse_mcp_audit_log_change() from public, anon;

create or replace trigger mcp_audit_log_refuse_update
before update on public.mcp_audit_log
for each statement execute function private.refuse_mcp_audit_log_change();

create or replace trigger mcp_audit_log_refuse_delete
before delete on public.mcp_audit_log
for each statement execute function private.refuse_mcp_audit_log_change();

create or replace trigger mcp_audit_log_refuse_truncate
before truncate on public.mcp_audit_log
for each statement execute function private.refuse_mcp_audit_log_change();

comment on trigger mcp_audit_log_refuse_update on public.mcp_audit_log is 'atoms: audit records are never changed.';
comment on trigger mcp_audit_log_refuse_delete on public.mcp_audit_log is 'atoms: audit records are never removed.';
comment on trigger mcp_audit_log_refuse_truncate on public.mcp_audit_log is 'atoms: the audit log is never emptied.';

-- ---- policies ----
create policy "Organisation admins can read their projects' MCP audit records"
on public.mcp_audit_log for select to authenticated
using (org_id in (select private.admin_org_ids()));
