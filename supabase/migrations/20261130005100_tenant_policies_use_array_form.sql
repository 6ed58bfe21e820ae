-- Organisation, membership and project policies in the `= any(array(select ...))` form (fix forward of the
-- rls_policies migration).
-- Objects: the SELECT policies of organizations, organization_members and projects (same names, same meaning).
-- Why: `id in (select private.visible_project_ids())` plans as a hashed subplan filtering a scan of every
--   project, so atoms_list_projects cost grew with the number of tenants (10,000 projects: 13.5 ms for the count
--   alone). `id = any(array(select ...))` evaluates the helper once as an initPlan and drives an index scan on
--   the caller's few ids (1.5 ms), the form Supabase's RLS performance guide recommends for set-returning helpers.
-- Security: the rows each policy admits are exactly the same; only the plan changes.

-- ---- organizations ----
alter policy "Members can read their organisations" on public.organizations
using (id = any(array(select private.visible_org_ids())));

alter policy "RPC owner reads the caller's organisations" on public.organizations
using (id = any(array(select private.visible_org_ids())));

-- ---- organization_members ----
alter policy "Members can read the membership of their organisations" on public.organization_members
using (org_id = any(array(select private.visible_org_ids())));

alter policy "RPC owner reads the membership of the caller's organisations" on public.organization_members
using (org_id = any(array(select private.visible_org_ids())));

-- ---- projects ----
alter policy "Members can read their organisations' projects" on public.projects
using (id = any(array(select private.visible_project_ids())));

alter policy "RPC owner reads the caller's projects" on public.projects
using (id = any(array(select private.visible_project_ids())));
