-- Row level security policies of the team: the RPC owner's writes to organisations, memberships, invitations and
-- projects, each keyed on the caller, and who reads invitations and organisation-level history.
-- Objects: policies on public.organizations, public.organization_members, public.organization_invitations,
--   public.projects, public.change_history and private.history_chain_heads (see each policy's comment).
-- Security: authenticated still writes nothing directly; atoms_rpc_owner (no BYPASSRLS) writes only where the caller
--   administers the organisation, or adds the caller themself to an organisation they founded or were invited to
--   (private.joinable_org_ids). Organisation-level history (scope org) and invitations are readable by the
--   organisation's admins; an invitee reads their own invitations.

-- ---- organizations ----
create policy "RPC owner reads organisations the caller founded"
on public.organizations for select to atoms_rpc_owner
using (created_by = (select private.caller_id()));

create policy "RPC owner reads organisations that invited the caller"
on public.organizations for select to atoms_rpc_owner
using (id = any(array(select private.joinable_org_ids())));

create policy "RPC owner creates organisations founded by the caller"
on public.organizations for insert to atoms_rpc_owner
with check (created_by = (select private.caller_id()));

create policy "RPC owner locks organisations the caller administers"
on public.organizations for update to atoms_rpc_owner
using (id = any(array(select private.admin_org_ids())))
with check (id = any(array(select private.admin_org_ids())));

-- ---- organization_members ----
create policy "RPC owner adds members for admins, or the caller when invited"
on public.organization_members for insert to atoms_rpc_owner
with check (
  org_id = any(array(select private.admin_org_ids()))
  or (user_id = (select private.caller_id()) and org_id = any(array(select private.joinable_org_ids())))
);

create policy "RPC owner changes roles where the caller is admin"
on public.organization_members for update to atoms_rpc_owner
using (org_id = any(array(select private.admin_org_ids())))
with check (org_id = any(array(select private.admin_org_ids())));

create policy "RPC owner removes members where the caller is admin"
on public.organization_members for delete to atoms_rpc_owner
using (org_id = any(array(select private.admin_org_ids())));

-- ---- organization_invitations ----
create policy "Admins and invitees can read invitations"
on public.organization_invitations for select to authenticated
using (
  org_id = any(array(select private.admin_org_ids()))
  or email = any(array(select private.caller_confirmed_emails()))
);

create policy "RPC owner reads administered and own invitations"
on public.organization_invitations for select to atoms_rpc_owner
using (
  org_id = any(array(select private.admin_org_ids()))
  or email = any(array(select private.caller_confirmed_emails()))
);

create policy "RPC owner creates invitations where the caller is admin"
on public.organization_invitations for insert to atoms_rpc_owner
with check (org_id = any(array(select private.admin_org_ids())));

create policy "RPC owner answers own and expires administered invitations"
on public.organization_invitations for update to atoms_rpc_owner
using (
  org_id = any(array(select private.admin_org_ids()))
  or email = any(array(select private.caller_confirmed_emails()))
)
with check (
  org_id = any(array(select private.admin_org_ids()))
  or email = any(array(select private.caller_confirmed_emails()))
);

-- ---- projects ----
create policy "RPC owner creates projects where the caller is admin"
on public.projects for insert to atoms_rpc_owner
with check (org_id = any(array(select private.admin_org_ids())));

-- ---- change_history (organisation chain) ----
create policy "Organisation admins can read organisation history"
on public.change_history for select to authenticated
using (scope = 'org' and org_id = any(array(select private.admin_org_ids())));

create policy "RPC owner reads the caller's organisation history"
on public.change_history for select to atoms_rpc_owner
using (scope = 'org' and org_id = any(array(select private.admin_org_ids())));

-- ---- private.history_chain_heads (organisation chain) ----
create policy "Organisation admins can read organisation chain heads"
on private.history_chain_heads for select to authenticated
using (scope = 'org' and scope_id = any(array(select private.admin_org_ids())));

create policy "RPC owner reads the caller's organisation chain heads"
on private.history_chain_heads for select to atoms_rpc_owner
using (scope = 'org' and scope_id = any(array(select private.admin_org_ids())));
