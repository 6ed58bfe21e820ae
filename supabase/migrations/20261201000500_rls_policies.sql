-- Every row level security policy, ordered by table (row level security itself is enabled in core_tables).
-- Objects: one permissive policy per table x command x role, always `to` a named role, never `for all`.
-- Security: authenticated may only SELECT rows of organisations it belongs to (soft-deleted items and links
--   hidden; MCP audit records to the organisation's admins only). atoms_rpc_owner (the RPCs' owner, not BYPASSRLS)
--   gets its own policies keyed on the caller's (select auth.uid()): it reads the caller's projects (deleted rows
--   included, for history and restore) and writes only where the caller is editor or admin, so a faulty RPC still
--   cannot touch another tenant's rows.
-- Form: `col = any(array(select private.<helper>()))` evaluates the helper once per statement as an initPlan and
--   drives an index scan on the caller's few ids (a hashed `in (select ...)` subplan filters a scan instead); every
--   filtered column is indexed (core_tables). The rate-limit buckets differ because their key is one value (the
--   caller's id), compared with `=` to a scalar initPlan.

-- ---- organizations ----
create policy "Members can read their organisations"
on public.organizations for select to authenticated
using (id = any(array(select private.visible_org_ids())));

create policy "RPC owner reads the caller's organisations"
on public.organizations for select to atoms_rpc_owner
using (id = any(array(select private.visible_org_ids())));

-- ---- organization_members ----
create policy "Members can read the membership of their organisations"
on public.organization_members for select to authenticated
using (org_id = any(array(select private.visible_org_ids())));

create policy "RPC owner reads the membership of the caller's organisations"
on public.organization_members for select to atoms_rpc_owner
using (org_id = any(array(select private.visible_org_ids())));

-- ---- projects ----
create policy "Members can read their organisations' projects"
on public.projects for select to authenticated
using (id = any(array(select private.visible_project_ids())));

create policy "RPC owner reads the caller's projects"
on public.projects for select to atoms_rpc_owner
using (id = any(array(select private.visible_project_ids())));

create policy "RPC owner touches projects the caller edits"
on public.projects for update to atoms_rpc_owner
using (id = any(array(select private.project_ids_with_role('editor'))))
with check (id = any(array(select private.project_ids_with_role('editor'))));

-- ---- items ----
create policy "Project viewers can read live items"
on public.items for select to authenticated
using (project_id = any(array(select private.visible_project_ids())) and deleted_at is null);

create policy "RPC owner reads the caller's items, deleted included"
on public.items for select to atoms_rpc_owner
using (project_id = any(array(select private.visible_project_ids())));

create policy "RPC owner inserts items where the caller is editor"
on public.items for insert to atoms_rpc_owner
with check (project_id = any(array(select private.project_ids_with_role('editor'))));

create policy "RPC owner updates items where the caller is editor"
on public.items for update to atoms_rpc_owner
using (project_id = any(array(select private.project_ids_with_role('editor'))))
with check (project_id = any(array(select private.project_ids_with_role('editor'))));

-- ---- item_links ----
create policy "Project viewers can read live links"
on public.item_links for select to authenticated
using (project_id = any(array(select private.visible_project_ids())) and deleted_at is null);

create policy "RPC owner reads the caller's links, deleted included"
on public.item_links for select to atoms_rpc_owner
using (project_id = any(array(select private.visible_project_ids())));

create policy "RPC owner inserts links where the caller is editor"
on public.item_links for insert to atoms_rpc_owner
with check (project_id = any(array(select private.project_ids_with_role('editor'))));

create policy "RPC owner updates links where the caller is editor"
on public.item_links for update to atoms_rpc_owner
using (project_id = any(array(select private.project_ids_with_role('editor'))))
with check (project_id = any(array(select private.project_ids_with_role('editor'))));

-- ---- test_results ----
create policy "Project viewers can read test results"
on public.test_results for select to authenticated
using (project_id = any(array(select private.visible_project_ids())));

create policy "RPC owner reads the caller's test results"
on public.test_results for select to atoms_rpc_owner
using (project_id = any(array(select private.visible_project_ids())));

create policy "RPC owner records test results where the caller is editor"
on public.test_results for insert to atoms_rpc_owner
with check (project_id = any(array(select private.project_ids_with_role('editor'))));

-- ---- change_history ----
create policy "Project viewers can read history"
on public.change_history for select to authenticated
using (project_id = any(array(select private.visible_project_ids())));

create policy "RPC owner reads the caller's history"
on public.change_history for select to atoms_rpc_owner
using (project_id = any(array(select private.visible_project_ids())));

-- ---- mcp_audit_log ----
create policy "Organisation admins can read their projects' MCP audit records"
on public.mcp_audit_log for select to authenticated
using (org_id = any(array(select private.admin_org_ids())));

-- ---- private.history_chain_heads ----
create policy "Project viewers can read chain heads"
on private.history_chain_heads for select to authenticated
using (scope = 'project' and scope_id = any(array(select private.visible_project_ids())));

create policy "RPC owner reads the caller's chain heads"
on private.history_chain_heads for select to atoms_rpc_owner
using (scope = 'project' and scope_id = any(array(select private.visible_project_ids())));

-- ---- private.item_key_counters ----
create policy "RPC owner reads counters of projects the caller edits"
on private.item_key_counters for select to atoms_rpc_owner
using (project_id = any(array(select private.project_ids_with_role('editor'))));

create policy "RPC owner creates counters where the caller is editor"
on private.item_key_counters for insert to atoms_rpc_owner
with check (project_id = any(array(select private.project_ids_with_role('editor'))));

create policy "RPC owner advances counters where the caller is editor"
on private.item_key_counters for update to atoms_rpc_owner
using (project_id = any(array(select private.project_ids_with_role('editor'))))
with check (project_id = any(array(select private.project_ids_with_role('editor'))));

-- ---- private.rate_limit_buckets (the RPC owner touches only the calling user's buckets) ----
create policy "RPC owner reads the caller's rate-limit buckets"
on private.rate_limit_buckets for select to atoms_rpc_owner
using (user_id = (select private.caller_id()));

create policy "RPC owner creates the caller's rate-limit buckets"
on private.rate_limit_buckets for insert to atoms_rpc_owner
with check (user_id = (select private.caller_id()));

create policy "RPC owner updates the caller's rate-limit buckets"
on private.rate_limit_buckets for update to atoms_rpc_owner
using (user_id = (select private.caller_id()))
with check (user_id = (select private.caller_id()));

create policy "RPC owner removes the caller's idle rate-limit buckets"
on private.rate_limit_buckets for delete to atoms_rpc_owner
using (user_id = (select private.caller_id()));
