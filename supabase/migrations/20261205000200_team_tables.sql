-- The team's tables: invitations to an organisation, and the project columns for settings and archiving.
-- Objects: public.organization_invitations (new); public.projects gains settings (one jsonb, validated by
--   private.validate_project_settings) and archived_at / archived_by; grants for the RPC owner's team writes.
-- Security: authenticated gets SELECT only (writes go through the team RPCs); the invitation row keeps the invitee's
--   email in clear (it is needed to match the accepting user) with a per-invitation salt, and history records only
--   the salted digest (private.invitation_email_digest), so erasing an invitation row leaves no readable email in
--   the append-only chain. Row level security is on before the migration commits; policies: team_policies.

-- ---- organization_invitations ----
create table if not exists public.organization_invitations (
  id uuid not null default gen_random_uuid(),
  org_id uuid not null,
  email text not null,
  role public.member_role not null,
  status text not null default 'pending',
  email_salt text not null default replace(gen_random_uuid()::text, '-', ''),
  invited_by uuid not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '14 days',
  responded_by uuid,
  responded_at timestamptz,
  constraint organization_invitations_pkey primary key (id),
  constraint organization_invitations_org_id_fkey foreign key (org_id) references public.organizations (id),
  constraint organization_invitations_email_check check (char_length(email) between 3 and 254 and email = lower(email)),
  constraint organization_invitations_status_check check (status in ('pending', 'accepted', 'declined', 'expired')),
  constraint organization_invitations_email_salt_check check (email_salt ~ '^[0-9a-f]{32}$'),
  constraint organization_invitations_expires_at_check check (expires_at > created_at),
  constraint organization_invitations_responded_check check ((status = 'pending') = (responded_at is null))
);

-- One open invitation per (organisation, email); the RPC owner's policies filter on org_id and email.
create unique index if not exists organization_invitations_org_id_email_pending_key
on public.organization_invitations (org_id, email) where status = 'pending';
create index if not exists organization_invitations_email_idx on public.organization_invitations (email);

comment on table public.organization_invitations is
'atoms: invitations to join an organisation with a role. Pending until the invitee (a user with a confirmed identity for the email) accepts or declines, or until expires_at (default 14 days). Never removed by the API; the email stays here, history keeps only a salted digest.';
comment on column public.organization_invitations.email is 'Invitee email, lower-case; matched case-insensitively against confirmed auth.users emails.';
comment on column public.organization_invitations.status is 'pending | accepted | declined | expired (a pending row past expires_at counts as expired).';
comment on column public.organization_invitations.email_salt is
'Per-invitation random salt of the email digest that change_history records instead of the email (sha256(salt || email)).';

grant select on table public.organization_invitations to authenticated;
grant select, insert, update on table public.organization_invitations to service_role;
grant select, insert, update on table public.organization_invitations to atoms_rpc_owner;
alter table public.organization_invitations enable row level security;

-- ---- projects: settings and archiving ----
alter table public.projects add column if not exists settings jsonb not null default '{}'::jsonb;
alter table public.projects add column if not exists archived_at timestamptz;
alter table public.projects add column if not exists archived_by uuid;
alter table public.projects drop constraint if exists projects_settings_check;
alter table public.projects add constraint projects_settings_check check (
  jsonb_typeof(settings) = 'object' and octet_length(settings::text) <= 8192
);
alter table public.projects drop constraint if exists projects_archived_check;
alter table public.projects add constraint projects_archived_check check ((archived_at is null) = (archived_by is null));

comment on column public.projects.settings is
'Project settings as one jsonb object, keys and types checked by private.validate_project_settings (require_change_reason boolean, default false); absent keys take their defaults (private.project_settings).';
comment on column public.projects.archived_at is 'Set by atoms_archive_project: an archived project is read-only and left out of atoms_list_projects unless include_archived.';

-- ---- the RPC owner's team writes (row level security still applies, keyed on the caller) ----
grant insert on table public.organizations to atoms_rpc_owner;
grant update (name) on table public.organizations to atoms_rpc_owner;
grant insert, delete on table public.organization_members to atoms_rpc_owner;
grant update (role) on table public.organization_members to atoms_rpc_owner;
grant insert on table public.projects to atoms_rpc_owner;
grant update (name, description, settings, archived_at, archived_by) on table public.projects to atoms_rpc_owner;
