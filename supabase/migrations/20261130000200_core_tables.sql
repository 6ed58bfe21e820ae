-- Core tables of the traceability domain.
-- Objects: organizations, organization_members, projects, items, item_links, test_results,
--   change_history (public); item_key_counters (private).
-- Security: every tenant-owned row carries org_id; composite foreign keys tie a row's org to its
--   project's org and a link's items to the link's project, so cross-tenant or cross-project rows
--   cannot exist even if a writer is faulty. authenticated gets SELECT only (writes go through the
--   RPCs); RLS is enabled in the rls_policies migration.

-- ---- tables ----
create table if not exists public.organizations (
  id uuid not null default gen_random_uuid(),
  name text not null,
  created_at timestamptz not null default now(),
  created_by uuid,
  constraint organizations_pkey primary key (id),
  constraint organizations_name_check check (char_length(name) between 1 and 200)
);

create table if not exists public.organization_members (
  org_id uuid not null,
  user_id uuid not null,
  role public.member_role not null,
  created_at timestamptz not null default now(),
  constraint organization_members_pkey primary key (org_id, user_id),
  constraint organization_members_org_id_fkey foreign key (org_id) references public.organizations (id),
  constraint organization_members_user_id_fkey foreign key (user_id) references auth.users (id) on delete cascade
);

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

create table if not exists public.test_results (
  id uuid not null default gen_random_uuid(),
  org_id uuid not null,
  project_id uuid not null,
  item_id uuid not null,
  result public.test_result not null,
  note text not null default '',
  recorded_by uuid,
  recorded_at timestamptz not null default now(),
  actor text not null default 'user',
  constraint test_results_pkey primary key (id),
  constraint test_results_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint test_results_item_fkey foreign key (project_id, item_id) references public.items (project_id, id),
  constraint test_results_note_check check (char_length(note) <= 1000)
);

create table if not exists public.change_history (
  id bigint generated always as identity,
  org_id uuid not null,
  project_id uuid not null,
  item_id uuid,
  event_type text not null,
  changed_by uuid,
  changed_at timestamptz not null default now(),
  actor text not null,
  session_id text,
  client_name text,
  fields_changed text[] not null default '{}',
  old_values jsonb,
  new_values jsonb,
  chain_seq bigint not null,
  prev_hash text not null,
  row_hash text not null,
  constraint change_history_pkey primary key (id),
  constraint change_history_project_id_chain_seq_key unique (project_id, chain_seq),
  constraint change_history_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint change_history_event_type_check check (
    event_type in ('created', 'updated', 'deleted', 'restored', 'linked', 'unlinked', 'test_recorded')
  ),
  constraint change_history_actor_check check (actor = 'user' or actor ~ '^mcp_[a-z0-9_]{1,40}$')
);

create table if not exists private.item_key_counters (
  project_id uuid not null,
  item_type public.item_type not null,
  last_number integer not null,
  constraint item_key_counters_pkey primary key (project_id, item_type),
  constraint item_key_counters_project_id_fkey foreign key (project_id) references public.projects (id),
  constraint item_key_counters_last_number_check check (last_number >= 1)
);

-- ---- indexes (every column a policy or a foreign key filters on) ----
create index if not exists organization_members_user_id_idx on public.organization_members (user_id);
create index if not exists projects_org_id_idx on public.projects (org_id);
create index if not exists items_org_id_idx on public.items (org_id);
create index if not exists items_project_id_created_at_idx on public.items (project_id, created_at, key) where deleted_at is null;
create index if not exists items_project_id_type_idx on public.items (project_id, item_type) where deleted_at is null;
create index if not exists item_links_org_id_idx on public.item_links (org_id);
create index if not exists item_links_project_id_idx on public.item_links (project_id);
create unique index if not exists item_links_live_edge_key on public.item_links (
  project_id, link_kind, source_item_id, target_item_id
) where deleted_at is null;
create index if not exists item_links_source_item_id_idx on public.item_links (source_item_id) where deleted_at is null;
create index if not exists item_links_target_item_id_idx on public.item_links (target_item_id) where deleted_at is null;
create index if not exists test_results_org_id_idx on public.test_results (org_id);
create index if not exists test_results_project_id_idx on public.test_results (project_id);
create index if not exists test_results_item_id_recorded_at_idx on public.test_results (item_id, recorded_at desc);
create index if not exists change_history_org_id_idx on public.change_history (org_id);
create index if not exists change_history_item_id_changed_at_idx on public.change_history (item_id, changed_at desc);
create index if not exists change_history_project_id_changed_at_idx on public.change_history (project_id, changed_at desc);

-- ---- comments ----
comment on table public.organizations is 'atoms: a tenant (customer). Every tenant-owned row carries its org_id.';
comment on table public.organization_members is 'atoms: who belongs to an organisation and with which role (viewer < editor < admin).';
comment on table public.projects is 'atoms: a traceability project; belongs to exactly one organisation.';
comment on table public.items is
'atoms: requirements, test cases and notes. Human key (REQ-001) unique per project, never reused; soft-deleted via deleted_at/deleted_by, never physically removed.';
comment on column public.items.key is 'Human key: type prefix + sequential number per (project, type), zero-padded to 3 digits (REQ-001, REQ-1000).';
comment on column public.items.domains is 'Tags, stored lower-case.';
comment on column public.items.deleted_at is 'Soft delete: set by atoms_delete_item, cleared by atoms_restore_item; deleted rows leave every traceability view.';
comment on table public.item_links is
'atoms: canonical directed edges. hierarchy: source = parent, target = child; verification: source = test case, target = requirement; related: unordered pair stored once with source < target. Removal is a soft delete.';
comment on table public.test_results is 'atoms: append-only runs of a test case.';
comment on table public.change_history is
'atoms: actor-tagged, append-only, hash-chained (per project) history of every change to items, links and test results.';
comment on column public.change_history.actor is 'user for web/PostgREST sessions; mcp_<client> only when the MCP gateway role set atoms.actor.';
comment on column public.change_history.chain_seq is 'Position in the project''s hash chain, 1-based, gap-free.';
comment on column public.change_history.prev_hash is 'row_hash of the previous row of the project''s chain (64 zeros for the first).';
comment on column public.change_history.row_hash is 'sha256 hex of prev_hash and the canonical encoding of this row.';
comment on table private.item_key_counters is 'atoms: last issued key number per (project, item type); row-locked on every create, so keys are gap-free and never reused.';

-- ---- grants (explicit; nothing is granted by default) ----
grant select on table public.organizations, public.organization_members, public.projects to authenticated;
grant select on table public.items, public.item_links, public.test_results, public.change_history to authenticated;

grant select, insert, update on table public.organizations, public.organization_members, public.projects to service_role;
grant delete on table public.organization_members to service_role;
grant select on table public.items, public.item_links, public.test_results, public.change_history to service_role;

grant select on table public.organizations, public.organization_members, public.projects, public.change_history to atoms_rpc_owner;
grant select, insert, update on table public.items, public.item_links, public.test_results to atoms_rpc_owner;
grant update (updated_at) on table public.projects to atoms_rpc_owner;
grant select, insert, update on table private.item_key_counters to atoms_rpc_owner;
