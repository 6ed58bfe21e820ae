-- Every table of atoms, each followed by its indexes, comments, grants and `enable row level security`.
-- Objects: organizations, organization_members, projects, items, item_links, test_results, change_history,
--   mcp_audit_log (public); history_chain_heads, item_key_counters, rate_limit_buckets (private). Policies: the
--   rls_policies migration; triggers: change_history.
-- Security: every tenant-owned row carries org_id; composite foreign keys tie a row's org to its project's org and
--   a link's items to the link's project, so cross-tenant or cross-project rows cannot exist even if a writer is
--   faulty. Grants are explicit (nothing is granted by default): authenticated gets SELECT only (writes go through
--   the RPCs), and row level security is on before the migration commits, right after each table's grants.

-- ---- organizations ----
create table if not exists public.organizations (
  id uuid not null default gen_random_uuid(),
  name text not null,
  created_at timestamptz not null default now(),
  created_by uuid,
  constraint organizations_pkey primary key (id),
  constraint organizations_name_check check (char_length(name) between 1 and 200)
);

comment on table public.organizations is 'atoms: a tenant (customer). Every tenant-owned row carries its org_id.';

grant select on table public.organizations to authenticated;
grant select, insert, update on table public.organizations to service_role;
grant select on table public.organizations to atoms_rpc_owner;
alter table public.organizations enable row level security;

-- ---- organization_members ----
create table if not exists public.organization_members (
  org_id uuid not null,
  user_id uuid not null,
  role public.member_role not null,
  created_at timestamptz not null default now(),
  constraint organization_members_pkey primary key (org_id, user_id),
  constraint organization_members_org_id_fkey foreign key (org_id) references public.organizations (id),
  constraint organization_members_user_id_fkey foreign key (user_id) references auth.users (id) on delete cascade
);

-- Policies filter on user_id (the composite primary key leads with org_id).
create index if not exists organization_members_user_id_idx on public.organization_members (user_id);

comment on table public.organization_members is 'atoms: who belongs to an organisation and with which role (viewer < editor < admin).';

grant select on table public.organization_members to authenticated;
grant select, insert, update, delete on table public.organization_members to service_role;
grant select on table public.organization_members to atoms_rpc_owner;
alter table public.organization_members enable row level security;

-- ---- projects ----
create table if not exists public.projects (
  id uuid not null default gen_random_uuid(),
  org_id uuid not null,
  name text not null,
  description text not null default '',
  created_at timestamptz not null default now(),
  created_by uuid,
  updated_at timestamptz not null default now(),
  constraint projects_pkey primary key (id),
  constraint projects_id_org_id_key unique (id, org_id),
  constraint projects_org_id_fkey foreign key (org_id) references public.organizations (id),
  constraint projects_name_check check (char_length(name) between 1 and 200),
  constraint projects_description_check check (char_length(description) <= 2000)
);

create index if not exists projects_org_id_idx on public.projects (org_id);

comment on table public.projects is 'atoms: a traceability project; belongs to exactly one organisation.';

grant select on table public.projects to authenticated;
grant select, insert, update on table public.projects to service_role;
grant select on table public.projects to atoms_rpc_owner;
grant update (updated_at) on table public.projects to atoms_rpc_owner;
alter table public.projects enable row level security;

-- ---- items ----
create table if not exists public.items (
  id uuid not null default gen_random_uuid(),
  org_id uuid not null,
  project_id uuid not null,
  key text not null,
  item_type public.item_type not null,
  title text not null,
  summary text not null default '',
  body text not null default '',
  domains text[] not null default '{}',
  level public.item_level,
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_by uuid,
  updated_at timestamptz not null default now(),
  deleted_at timestamptz,
  deleted_by uuid,
  -- Search weights: title A > summary B > body C (ts_rank_cd's default weights 1.0 / 0.4 / 0.2). A hyphen between
  -- a letter and a digit reads as a space, so REQ-001, ISO-26262 and ISO 26262 all match each other (the parser
  -- would otherwise read -26262 as a signed number); the same regexp_replace is applied to queries in
  -- public.atoms_search.
  search_vector tsvector generated always as (
    setweight(to_tsvector('private.atoms_text'::regconfig, regexp_replace(title, '([[:alpha:]])-([[:digit:]])', '\1 \2', 'g')), 'A')
    || setweight(to_tsvector('private.atoms_text'::regconfig, regexp_replace(summary, '([[:alpha:]])-([[:digit:]])', '\1 \2', 'g')), 'B')
    || setweight(to_tsvector('private.atoms_text'::regconfig, regexp_replace(body, '([[:alpha:]])-([[:digit:]])', '\1 \2', 'g')), 'C')
  ) stored,
  constraint items_pkey primary key (id),
  constraint items_project_id_key_key unique (project_id, key),
  constraint items_project_id_id_key unique (project_id, id),
  constraint items_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint items_key_check check (key ~ '^[A-Z]+-[0-9]{3,}$'),
  constraint items_title_check check (char_length(title) between 1 and 500),
  constraint items_summary_check check (char_length(summary) <= 2000),
  constraint items_body_check check (char_length(body) <= 100000),
  constraint items_domains_check check (cardinality(domains) <= 20),
  constraint items_deleted_check check ((deleted_at is null) = (deleted_by is null))
);

create index if not exists items_org_id_idx on public.items (org_id);
create index if not exists items_project_id_created_at_idx on public.items (project_id, created_at, key) where deleted_at is null;
create index if not exists items_project_id_type_idx on public.items (project_id, item_type) where deleted_at is null;

create index if not exists items_search_vector_idx on public.items using gin (search_vector) where deleted_at is null;

create index if not exists items_project_id_search_vector_idx on public.items using gin (
  project_id, search_vector
) where deleted_at is null;

-- atoms_list_items / atoms_browse: total_count under type / level / domain filters as an index-only scan.
create index if not exists items_project_id_filters_idx on public.items (project_id, item_type, level) include (domains)
where deleted_at is null;

-- atoms_get_coverage / atoms_project_summary: a project's live requirements, in uncovered_items order.
create index if not exists items_live_requirements_idx on public.items (project_id, created_at, key)
where item_type = 'requirement' and deleted_at is null;

-- atoms_project_summary: a project's live test cases (each then probes its latest result by item).
create index if not exists items_live_test_cases_idx on public.items (project_id, id)
where item_type = 'test-case' and deleted_at is null;

comment on table public.items is
'atoms: requirements, test cases and notes. Human key (REQ-001) unique per project, never reused; soft-deleted via deleted_at/deleted_by, never physically removed.';
comment on column public.items.key is 'Human key: type prefix + sequential number per (project, type), zero-padded to 3 digits (REQ-001, REQ-1000).';
comment on column public.items.domains is 'Tags, stored lower-case.';
comment on column public.items.deleted_at is 'Soft delete: set by atoms_delete_item, cleared by atoms_restore_item; deleted rows leave every traceability view.';

comment on column public.items.search_vector is
'Generated: title (weight A), summary (B) and body (C) under private.atoms_text, letter-digit hyphens read as spaces. GIN-indexed for live items.';

comment on index public.items_project_id_search_vector_idx is
'atoms: full-text search within one project (btree_gin on project_id + the tsvector); live items only, like the search.';

grant select on table public.items to authenticated;
grant select on table public.items to service_role;
grant select, insert, update on table public.items to atoms_rpc_owner;
alter table public.items enable row level security;

-- ---- item_links ----
create table if not exists public.item_links (
  id uuid not null default gen_random_uuid(),
  org_id uuid not null,
  project_id uuid not null,
  link_kind public.link_kind not null,
  source_item_id uuid not null,
  target_item_id uuid not null,
  created_by uuid,
  created_at timestamptz not null default now(),
  deleted_at timestamptz,
  deleted_by uuid,
  constraint item_links_pkey primary key (id),
  constraint item_links_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint item_links_source_fkey foreign key (project_id, source_item_id) references public.items (project_id, id),
  constraint item_links_target_fkey foreign key (project_id, target_item_id) references public.items (project_id, id),
  constraint item_links_no_self_link_check check (source_item_id <> target_item_id),
  constraint item_links_related_order_check check (link_kind <> 'related' or source_item_id < target_item_id),
  constraint item_links_deleted_check check ((deleted_at is null) = (deleted_by is null))
);

create index if not exists item_links_org_id_idx on public.item_links (org_id);
create index if not exists item_links_project_id_idx on public.item_links (project_id);
create unique index if not exists item_links_live_edge_key on public.item_links (
  project_id, link_kind, source_item_id, target_item_id
) where deleted_at is null;
create index if not exists item_links_source_item_id_idx on public.item_links (source_item_id) where deleted_at is null;
create index if not exists item_links_target_item_id_idx on public.item_links (target_item_id) where deleted_at is null;

comment on table public.item_links is
'atoms: canonical directed edges. hierarchy: source = parent, target = child; verification: source = test case, target = requirement; related: unordered pair stored once with source < target. Removal is a soft delete.';

grant select on table public.item_links to authenticated;
grant select on table public.item_links to service_role;
grant select, insert, update on table public.item_links to atoms_rpc_owner;
alter table public.item_links enable row level security;

-- ---- test_results ----
create table if not exists public.test_results (
  id uuid not null default gen_random_uuid(),
  org_id uuid not null,
  project_id uuid not null,
  item_id uuid not null,
  result public.test_result not null,
  note text not null default '',
  recorded_by uuid,
  recorded_at timestamptz not null default now(),
  actor public.actor_tag not null default 'user',
  constraint test_results_pkey primary key (id),
  constraint test_results_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint test_results_item_fkey foreign key (project_id, item_id) references public.items (project_id, id),
  constraint test_results_note_check check (char_length(note) <= 1000)
);

create index if not exists test_results_org_id_idx on public.test_results (org_id);
create index if not exists test_results_project_id_idx on public.test_results (project_id);
create index if not exists test_results_item_id_recorded_at_idx on public.test_results (item_id, recorded_at desc);

comment on table public.test_results is 'atoms: append-only runs of a test case.';

grant select on table public.test_results to authenticated;
grant select on table public.test_results to service_role;
grant select, insert, update on table public.test_results to atoms_rpc_owner;
alter table public.test_results enable row level security;

-- ---- change_history ----
-- Chains are keyed by (scope, scope_id): a project's rows (scope project, scope_id = project_id), and later an
-- organisation's own rows (scope org) and an audit chain (scope audit). Columns added later are nullable without a
-- default, so every existing row keeps its canonical form (nulls are left out) and its hash; hash_version names
-- the canonical form a row was hashed with (private.history_row_hash dispatches on it).
create table if not exists public.change_history (
  id bigint generated always as identity,
  scope public.history_scope not null,
  scope_id uuid not null,
  org_id uuid not null,
  project_id uuid,
  item_id uuid,
  event_type public.history_event_type not null,
  changed_by uuid,
  changed_at timestamptz not null default now(),
  actor public.actor_tag not null,
  session_id text,
  client_name text,
  fields_changed text[] not null default '{}',
  old_values jsonb,
  new_values jsonb,
  hash_version smallint not null,
  chain_seq bigint not null,
  prev_hash text not null,
  row_hash text not null,
  constraint change_history_pkey primary key (id),
  constraint change_history_scope_scope_id_chain_seq_key unique (scope, scope_id, chain_seq),
  constraint change_history_org_id_fkey foreign key (org_id) references public.organizations (id),
  constraint change_history_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint change_history_scope_check check (
    (scope = 'project' and scope_id = project_id)
    or (scope in ('org', 'audit') and scope_id = org_id)
  ),
  constraint change_history_hash_version_check check (hash_version >= 1),
  constraint change_history_chain_seq_check check (chain_seq >= 1),
  constraint change_history_prev_hash_check check (prev_hash ~ '^[0-9a-f]{64}$'),
  constraint change_history_row_hash_check check (row_hash ~ '^[0-9a-f]{64}$')
);

create index if not exists change_history_org_id_idx on public.change_history (org_id);
create index if not exists change_history_item_id_changed_at_idx on public.change_history (item_id, changed_at desc);
create index if not exists change_history_project_id_changed_at_idx on public.change_history (project_id, changed_at desc);

comment on table public.change_history is
'atoms: actor-tagged, append-only history of every change to items, links and test results, hash-chained per (scope, scope_id): row_hash = sha256(prev_hash || canonical row).';
comment on column public.change_history.scope is 'Which chain the row belongs to (project, org, audit); with scope_id the key of the chain.';
comment on column public.change_history.scope_id is 'The chain''s owner: the project (scope project) or the organisation (scope org, audit).';
comment on column public.change_history.actor is 'user for web/PostgREST sessions; mcp_<client>, cli or import:<format> only when the MCP gateway''s login set atoms.actor.';
comment on column public.change_history.hash_version is
'Canonical form the row was hashed with. 1: the row as jsonb without id, prev_hash, row_hash and its null columns, timestamps in UTC (private.history_canonical_v1).';
comment on column public.change_history.chain_seq is 'Position in the chain of (scope, scope_id), 1-based, gap-free.';
comment on column public.change_history.prev_hash is 'row_hash of the previous row of the chain (64 zeros for the first).';
comment on column public.change_history.row_hash is 'sha256 hex of prev_hash || the canonical row (see hash_version).';

grant select on table public.change_history to authenticated;
grant select on table public.change_history to service_role;
grant select on table public.change_history to atoms_rpc_owner;
alter table public.change_history enable row level security;

-- ---- private.history_chain_heads ----
create table if not exists private.history_chain_heads (
  scope public.history_scope not null,
  scope_id uuid not null,
  last_seq bigint not null,
  last_hash text not null,
  constraint history_chain_heads_pkey primary key (scope, scope_id),
  constraint history_chain_heads_last_seq_check check (last_seq >= 0),
  constraint history_chain_heads_last_hash_check check (last_hash ~ '^[0-9a-f]{64}$')
);

comment on table private.history_chain_heads is
'atoms: the last chain_seq and row_hash of each history chain (scope, scope_id). Row-locked by every history write, so a chain is gap-free and in commit order; lets verification detect a removed tail.';

grant select on table private.history_chain_heads to authenticated, service_role, atoms_rpc_owner;

alter table private.history_chain_heads enable row level security;

-- ---- private.item_key_counters ----
create table if not exists private.item_key_counters (
  project_id uuid not null,
  item_type public.item_type not null,
  last_number integer not null,
  constraint item_key_counters_pkey primary key (project_id, item_type),
  constraint item_key_counters_project_id_fkey foreign key (project_id) references public.projects (id),
  constraint item_key_counters_last_number_check check (last_number >= 1)
);

comment on table private.item_key_counters is 'atoms: last issued key number per (project, item type); row-locked on every create, so keys are gap-free and never reused.';

grant select, insert, update on table private.item_key_counters to atoms_rpc_owner;

alter table private.item_key_counters enable row level security;

-- ---- private.rate_limit_buckets ----
-- UNLOGGED: no WAL and no fsync per check; a crash or failover empties the table, so every window restarts once
-- (ephemeral state, no audit data here). Callers reach it only through public.atoms_check_rate_limit.
create unlogged table if not exists private.rate_limit_buckets (
  user_id uuid not null,
  max_requests integer not null,
  window_seconds integer not null,
  hits timestamptz[] not null default '{}',
  newest_hit_at timestamptz not null,
  constraint rate_limit_buckets_pkey primary key (user_id, max_requests, window_seconds),
  constraint rate_limit_buckets_max_requests_check check (max_requests between 1 and 10000),
  constraint rate_limit_buckets_window_seconds_check check (window_seconds between 1 and 86400),
  constraint rate_limit_buckets_hits_check check (cardinality(hits) <= max_requests)
);

comment on table private.rate_limit_buckets is
'atoms: rate-limit state (unlogged: emptied by a crash, which restarts every window once). One row per (user, limit, window): the timestamps of the allowed requests inside the window, ascending, at most max_requests of them. Row-locked by every check; pruned in the same call; idle rows removed by private.prune_rate_limit_buckets().';
comment on column private.rate_limit_buckets.hits is 'Timestamps of allowed requests newer than (last check - window), ascending; cardinality <= max_requests.';
comment on column private.rate_limit_buckets.newest_hit_at is 'Time of the last allowed request (or of bucket creation); a bucket with newest_hit_at <= now - window is empty in effect.';

grant select, insert, update, delete on table private.rate_limit_buckets to atoms_rpc_owner;

alter table private.rate_limit_buckets enable row level security;

-- ---- mcp_audit_log ----
-- Growth: BRIN on created_at (rows arrive in created_at order) instead of partitioning, which would need a
-- scheduled job to create partitions and cannot be maintained inside `supabase db push` transactions.
create table if not exists public.mcp_audit_log (
  id bigint generated always as identity,
  created_at timestamptz not null default now(),
  called_at timestamptz not null,
  tool_name text not null,
  params jsonb not null default '{}',
  status public.mcp_call_status not null,
  error_code text,
  error_message text,
  duration_ms integer not null,
  user_id uuid,
  org_id uuid,
  project_id uuid,
  session_id text,
  client_name text,
  actor public.actor_tag,
  request_id text,
  server_instance text,
  constraint mcp_audit_log_pkey primary key (id),
  constraint mcp_audit_log_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint mcp_audit_log_tool_name_check check (tool_name ~ '^[A-Za-z0-9_.-]{1,128}$'),
  constraint mcp_audit_log_params_check check (jsonb_typeof(params) = 'object' and octet_length(params::text) <= 8192),
  constraint mcp_audit_log_error_code_check check (
    (status = 'success' and error_code is null)
    or (status = 'error' and error_code ~ '^[A-Z][A-Z0-9_]{1,39}$')
  ),
  constraint mcp_audit_log_error_message_check check (char_length(error_message) <= 1000),
  constraint mcp_audit_log_duration_ms_check check (duration_ms between 0 and 86400000),
  constraint mcp_audit_log_org_id_check check (org_id is null or project_id is not null),
  constraint mcp_audit_log_session_id_check check (char_length(session_id) <= 200),
  constraint mcp_audit_log_client_name_check check (char_length(client_name) <= 100),
  constraint mcp_audit_log_request_id_check check (char_length(request_id) <= 200),
  constraint mcp_audit_log_server_instance_check check (char_length(server_instance) <= 200)
);

-- The admin query: one project, newest first. Covering the policy column and the filter columns lets the
-- filtered total_count run as an index-only scan (the log is append-only, so its pages stay all-visible).
create index if not exists mcp_audit_log_project_id_created_at_idx on public.mcp_audit_log (
  project_id, created_at desc, id desc
) include (org_id, user_id, status, tool_name);
-- The select policy filters on org_id.
create index if not exists mcp_audit_log_org_id_idx on public.mcp_audit_log (org_id);
-- Time-range scans over the whole log (retention reports, exports) as it grows: a few pages per GB.
create index if not exists mcp_audit_log_created_at_brin_idx on public.mcp_audit_log using brin (created_at);

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

-- No INSERT, UPDATE, DELETE or TRUNCATE for anyone: private.write_mcp_audit_batch is the only writer.
grant select on table public.mcp_audit_log to authenticated;

alter table public.mcp_audit_log enable row level security;
