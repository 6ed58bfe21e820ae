-- Row level security on every table, and the policies, ordered by table.
-- Objects: one permissive policy per table x command x role.
-- Security: authenticated may only SELECT rows of organisations it belongs to (soft-deleted items
--   and links hidden). atoms_rpc_owner (the RPCs' owner, not BYPASSRLS) gets its own policies keyed
--   on the caller's (select auth.uid()): it reads the caller's projects (deleted rows included, for
--   history and restore) and writes only where the caller is editor or admin, so a faulty RPC still
--   cannot touch another tenant's rows. Helpers are wrapped in (select ...) so they run once per
--   statement; every filtered column is indexed (core_tables migration).

-- ---- enable row level security ----
alter table public.organizations enable row level security;
alter table public.organization_members enable row level security;
alter table public.projects enable row level security;
alter table public.items enable row level security;
alter table public.item_links enable row level security;
alter table public.test_results enable row level security;
alter table public.change_history enable row level security;
alter table private.item_key_counters enable row level security;

-- ---- organizations ----
create policy "Members can read their organisations"
on public.organizations for select to authenticated
using (id in (select private.visible_org_ids()));

create policy "RPC owner reads the caller's organisations"
on public.organizations for select to atoms_rpc_owner
using (id in (select private.visible_org_ids()));

-- ---- organization_members ----
create policy "Members can read the membership of their organisations"
on public.organization_members for select to authenticated
using (org_id in (select private.visible_org_ids()));

create policy "RPC owner reads the membership of the caller's organisations"
on public.organization_members for select to atoms_rpc_owner
using (org_id in (select private.visible_org_ids()));

-- ---- projects ----
create policy "Members can read their organisations' projects"
on public.projects for select to authenticated
using (id in (select private.visible_project_ids()));

create policy "RPC owner reads the caller's projects"
on public.projects for select to atoms_rpc_owner
using (id in (select private.visible_project_ids()));

create policy "RPC owner touches projects the caller edits"
on public.projects for update to atoms_rpc_owner
using (id in (select private.project_ids_with_role('editor')))
with check (id in (select private.project_ids_with_role('editor')));

-- ---- items ----
create policy "Project viewers can read live items"
on public.items for select to authenticated
using (project_id in (select private.visible_project_ids()) and deleted_at is null);

create policy "RPC owner reads the caller's items, deleted included"
on public.items for select to atoms_rpc_owner
using (project_id in (select private.visible_project_ids()));

create policy "RPC owner inserts items where the caller is editor"
on public.items for insert to atoms_rpc_owner
with check (project_id in (select private.project_ids_with_role('editor')));

create policy "RPC owner updates items where the caller is editor"
on public.items for update to atoms_rpc_owner
using (project_id in (select private.project_ids_with_role('editor')))
with check (project_id in (select private.project_ids_with_role('editor')));

-- ---- item_links ----
create policy "Project viewers can read live links"
on public.item_links for select to authenticated
using (project_id in (select private.visible_project_ids()) and deleted_at is null);

create policy "RPC owner reads the caller's links, deleted included"
on public.item_links for select to atoms_rpc_owner
using (project_id in (select private.visible_project_ids()));

create policy "RPC owner inserts links where the caller is editor"
on public.item_links for insert to atoms_rpc_owner
with check (project_id in (select private.project_ids_with_role('editor')));

create policy "RPC owner updates links where the caller is editor"
on public.item_links for update to atoms_rpc_owner
using (project_id in (select private.project_ids_with_role('editor')))
with check (project_id in (select private.project_ids_with_role('editor')));

-- ---- test_results ----
create policy "Project viewers can read test results"
on public.test_results for select to authenticated
using (project_id in (select private.visible_project_ids()));

create policy "RPC owner reads the caller's test results"
on public.test_results for select to atoms_rpc_owner
using (project_id in (select private.visible_project_ids()));

create policy "RPC owner records test results where the caller is editor"
on public.test_results for insert to atoms_rpc_owner
with check (project_id in (select private.project_ids_with_role('editor')));

-- ---- change_history ----
create policy "Project viewers can read history"
on public.change_history for select to authenticated
using (project_id in (select private.visible_project_ids()));

create policy "RPC owner reads the caller's history"
on public.change_history for select to atoms_rpc_owner
using (project_id in (select private.visible_project_ids()));

-- ---- private.item_key_counters ----
create policy "RPC owner reads counters of projects the caller edits"
on private.item_key_counters for select to atoms_rpc_owner
using (project_id in (select private.project_ids_with_role('editor')));

create policy "RPC owner creates counters where the caller is editor"
on private.item_key_counters for insert to atoms_rpc_owner
with check (project_id in (select private.project_ids_with_role('editor')));

create policy "RPC owner advances counters where the caller is editor"
on private.item_key_counters for update to atoms_rpc_owner
using (project_id in (select private.project_ids_with_role('editor')))
with check (project_id in (select private.project_ids_with_role('editor')));
