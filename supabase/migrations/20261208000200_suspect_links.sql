-- Suspect links: when an item's normative content changes, the live links whose evidence or derivation it may
-- invalidate are flagged until an editor reviews them and clears the flag with a reason.
-- Rule: a change of title, summary, body or level (not domains, not a delete or restore) of a live item flags
--   - the hierarchy links to its children (a changed parent; a changed child leaves its parent link alone), and
--   - its verification links, from either end (a changed requirement, or a changed test case whose evidence may no
--     longer apply).
--   A link already flagged stays flagged with its first cause. Each flag records the change that caused it: the
--   item, the fields and the change_history row of the update.
-- Objects: items.content_changed_at (+ the trigger that stamps it); table public.link_suspicions with its guards,
--   history trigger, policies and indexes; the trigger items_suspect_links_on_change that flags links.
-- Security: link_suspicions is read by project members (RLS) and written only by the flagging trigger (definer) and
--   by atoms_clear_suspect (the RPC owner's update policy: the caller must be editor); rows are never deleted, a
--   flag is cleared once and never changed afterwards.

-- ---- last normative change of an item ----
alter table public.items add column if not exists content_changed_at timestamptz;

comment on column public.items.content_changed_at is
'When title, summary, body or level last changed (its normative content; domains are tags, not content); null: not since it was created. A verifying result that ran before it is stale.';

create or replace function private.stamp_content_change() returns trigger
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  new.content_changed_at := now();
  return new;
end;
$$;

comment on function private.stamp_content_change() is
'atoms: BEFORE UPDATE row trigger on items (fired only when title, summary, body or level changes): sets content_changed_at to the transaction time.';
revoke execute on function private.stamp_content_change() from public, anon, authenticated;

create or replace trigger items_stamp_content_change
before update on public.items
for each row
when (
  old.title is distinct from new.title
  or old.summary is distinct from new.summary
  or old.body is distinct from new.body
  or old.level is distinct from new.level
)
execute function private.stamp_content_change();

comment on trigger items_stamp_content_change on public.items is
'atoms: a change of normative content (title, summary, body, level) stamps content_changed_at.';

-- ---- link_suspicions ----
create table if not exists public.link_suspicions (
  id uuid not null default gen_random_uuid(),
  org_id uuid not null,
  project_id uuid not null,
  link_id uuid not null,
  cause_item_id uuid not null,
  cause_fields text[] not null,
  cause_history_id bigint,
  marked_at timestamptz not null default now(),
  cleared_at timestamptz,
  cleared_by uuid,
  clear_reason text,
  constraint link_suspicions_pkey primary key (id),
  constraint link_suspicions_project_id_org_id_fkey foreign key (project_id, org_id) references public.projects (id, org_id),
  constraint link_suspicions_link_id_fkey foreign key (link_id) references public.item_links (id),
  constraint link_suspicions_cause_item_fkey foreign key (project_id, cause_item_id) references public.items (project_id, id),
  constraint link_suspicions_cause_history_id_fkey foreign key (cause_history_id) references public.change_history (id),
  constraint link_suspicions_cause_fields_check check (cardinality(cause_fields) between 1 and 4),
  constraint link_suspicions_cleared_check check ((cleared_at is null) = (clear_reason is null)),
  constraint link_suspicions_clear_reason_check check (char_length(clear_reason) between 1 and 1000)
);

-- At most one open flag per link; the flagging trigger and atoms_clear_suspect find it through this index.
create unique index if not exists link_suspicions_open_link_key on public.link_suspicions (link_id)
where cleared_at is null;
-- atoms_list_suspect_links: a project's open flags, oldest first.
create index if not exists link_suspicions_open_project_idx on public.link_suspicions (project_id, marked_at, id)
where cleared_at is null;
create index if not exists link_suspicions_project_id_idx on public.link_suspicions (project_id);
create index if not exists link_suspicions_org_id_idx on public.link_suspicions (org_id);
create index if not exists link_suspicions_cause_item_id_idx on public.link_suspicions (cause_item_id);
create index if not exists link_suspicions_cause_history_id_idx on public.link_suspicions (cause_history_id);

comment on table public.link_suspicions is
'atoms: suspect flags of links. A row opens when a change of normative content at one end makes a live link suspect (a changed parent: its child links; a changed requirement or test case: its verification links) and is closed by atoms_clear_suspect with a reason; never deleted.';
comment on column public.link_suspicions.link_id is 'The suspect link (public.item_links).';
comment on column public.link_suspicions.cause_item_id is 'The item whose change made the link suspect.';
comment on column public.link_suspicions.cause_fields is 'The normative fields that changed (title, summary, body, level).';
comment on column public.link_suspicions.cause_history_id is 'The change_history row (updated) of the change that made the link suspect.';
comment on column public.link_suspicions.marked_at is 'Suspect since (the time of the causing change).';
comment on column public.link_suspicions.cleared_at is 'When an editor cleared the flag (atoms_clear_suspect); null while suspect.';
comment on column public.link_suspicions.cleared_by is 'Who cleared the flag.';
comment on column public.link_suspicions.clear_reason is 'Why the link is no longer suspect (1-1000 characters, required to clear).';

grant select on table public.link_suspicions to authenticated;
grant select on table public.link_suspicions to service_role;
grant select, update on table public.link_suspicions to atoms_rpc_owner;
alter table public.link_suspicions enable row level security;

create policy "Project viewers can read suspect flags"
on public.link_suspicions for select to authenticated
using (project_id = any(array(select private.visible_project_ids())));

create policy "RPC owner reads the caller's suspect flags"
on public.link_suspicions for select to atoms_rpc_owner
using (project_id = any(array(select private.visible_project_ids())));

create policy "RPC owner clears suspect flags where the caller is editor"
on public.link_suspicions for update to atoms_rpc_owner
using (project_id = any(array(select private.project_ids_with_role('editor'))))
with check (project_id = any(array(select private.project_ids_with_role('editor'))));

-- ---- guards: never removed; a flag is cleared once, and nothing else of it changes ----
create or replace function private.guard_suspicion_clear() returns trigger
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  if
    old.cleared_at is not null
    or new.cleared_at is null
    or (new.id, new.org_id, new.project_id, new.link_id, new.cause_item_id, new.cause_fields, new.cause_history_id, new.marked_at)
    is distinct from
    (old.id, old.org_id, old.project_id, old.link_id, old.cause_item_id, old.cause_fields, old.cause_history_id, old.marked_at)
  then
    raise exception 'a suspect flag can only be cleared, once; its cause and time never change'
      using errcode = '42501';
  end if;
  return new;
end;
$$;

comment on function private.guard_suspicion_clear() is
'atoms: BEFORE UPDATE row trigger on link_suspicions: the only permitted update clears an open flag (cleared_at, cleared_by, clear_reason); anything else is 42501 for every role.';
revoke execute on function private.guard_suspicion_clear() from public, anon, authenticated;

create or replace trigger link_suspicions_guard_clear
before update on public.link_suspicions
for each row execute function private.guard_suspicion_clear();

create or replace trigger link_suspicions_refuse_delete
before delete on public.link_suspicions
for each row execute function private.refuse_physical_delete();

create or replace trigger link_suspicions_refuse_truncate
before truncate on public.link_suspicions
for each statement execute function private.refuse_physical_delete();

comment on trigger link_suspicions_guard_clear on public.link_suspicions is 'atoms: a suspect flag is cleared once and otherwise never changes.';
comment on trigger link_suspicions_refuse_delete on public.link_suspicions is 'atoms: suspect flags are cleared, never removed.';
comment on trigger link_suspicions_refuse_truncate on public.link_suspicions is 'atoms: suspect flags are never removed, not even in bulk.';

-- ---- history of suspect flags ----
-- Stored under the link's target item (the requirement a test verifies, the child a parent derives), the end whose
-- verification or derivation is in question; the values name both ends and the cause.
create or replace function private.record_suspicion_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  link public.item_links;
  src public.items;
  tgt public.items;
  cause public.items;
  values_now jsonb;
begin
  select * into link from public.item_links as l where l.id = new.link_id;
  select * into src from public.items as i where i.id = link.source_item_id;
  select * into tgt from public.items as i where i.id = link.target_item_id;
  select * into cause from public.items as i where i.id = new.cause_item_id;
  values_now := jsonb_build_object(
    'link_id', link.id, 'link_kind', link.link_kind, 'source_id', src.key, 'target_id', tgt.key,
    'source_item_id', link.source_item_id, 'target_item_id', link.target_item_id,
    'cause_id', cause.key, 'cause_fields', to_jsonb(new.cause_fields), 'cause_history_id', new.cause_history_id
  );
  if tg_op = 'INSERT' then
    perform private.append_history(
      new.org_id, new.project_id, link.target_item_id, 'suspect_marked', array['suspect'], null,
      values_now || jsonb_build_object('suspect', true)
    );
  elsif old.cleared_at is null and new.cleared_at is not null then
    perform private.append_history(
      new.org_id, new.project_id, link.target_item_id, 'suspect_cleared', array['suspect'],
      values_now || jsonb_build_object('suspect', true),
      values_now || jsonb_build_object('suspect', false, 'cleared_by', new.cleared_by)
    );
  end if;
  return null;
end;
$$;

comment on function private.record_suspicion_change() is
'atoms: AFTER row trigger on link_suspicions: appends suspect_marked (a new flag) or suspect_cleared (a cleared one; the reason comes with the clearing call) to change_history under the link''s target item.';
revoke execute on function private.record_suspicion_change() from public, anon, authenticated;

create or replace trigger link_suspicions_record_change
after insert or update on public.link_suspicions
for each row execute function private.record_suspicion_change();

-- ---- flagging ----
-- Fires after items_record_change (trigger order is by name), so the update's change_history row exists.
create or replace function private.mark_suspect_links() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  changed text[] := '{}'::text[];
  history_id bigint;
begin
  if old.title is distinct from new.title then
    changed := changed || 'title'::text;
  end if;
  if old.summary is distinct from new.summary then
    changed := changed || 'summary'::text;
  end if;
  if old.body is distinct from new.body then
    changed := changed || 'body'::text;
  end if;
  if old.level is distinct from new.level then
    changed := changed || 'level'::text;
  end if;

  select h.id into history_id
  from public.change_history as h
  where h.item_id = new.id and h.event_type = 'updated'
  order by h.changed_at desc, h.id desc
  limit 1;

  insert into public.link_suspicions (org_id, project_id, link_id, cause_item_id, cause_fields, cause_history_id)
  select l.org_id, l.project_id, l.id, new.id, changed, history_id
  from public.item_links as l
  where
    l.deleted_at is null
    and (
      (l.source_item_id = new.id and l.link_kind in ('hierarchy', 'verification'))
      or (l.target_item_id = new.id and l.link_kind = 'verification')
    )
  order by l.id
  on conflict (link_id) where cleared_at is null do nothing;
  return null;
end;
$$;

comment on function private.mark_suspect_links() is
'atoms: AFTER UPDATE row trigger on items (fired only for a live item whose title, summary, body or level changed): flags its live child links and its live verification links (either end) as suspect, recording the item, the fields and the update''s change_history row; a link already flagged keeps its first cause.';
revoke execute on function private.mark_suspect_links() from public, anon, authenticated;

create or replace trigger items_suspect_links_on_change
after update on public.items
for each row
when (
  new.deleted_at is null
  and (
    old.title is distinct from new.title
    or old.summary is distinct from new.summary
    or old.body is distinct from new.body
    or old.level is distinct from new.level
  )
)
execute function private.mark_suspect_links();

comment on trigger items_suspect_links_on_change on public.items is
'atoms: a change of normative content flags the item''s child links and verification links as suspect (private.mark_suspect_links).';
