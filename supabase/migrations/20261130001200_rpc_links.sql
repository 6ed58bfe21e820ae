-- Write-path helpers shared by every write RPC, and the link RPC.
-- Objects: private.caller_id, private.lock_project_for_write, private.find_item, private.link_phrase, private.add_link,
--   public.atoms_link_items.
-- Security: helpers are security invoker and executable by atoms_rpc_owner only, so they run with the RPC
--   owner's rights (table privileges, no BYPASSRLS, policies keyed on the caller's auth.uid()). The RPC is
--   security definer owned by atoms_rpc_owner and calls private.require_project_role(project, 'editor') first.
-- Lock order (no deadlocks between writers): project row -> key counters -> history chain head.

-- ---- helpers ----
create or replace function private.caller_id() returns uuid
language sql stable security definer set search_path = ''
as $$
  select auth.uid()
$$;

comment on function private.caller_id() is
'atoms: auth.uid() for code running as atoms_rpc_owner (which has no USAGE on schema auth): the verified user the RPC acts for.';
revoke execute on function private.caller_id() from public, anon;
grant execute on function private.caller_id() to authenticated, atoms_rpc_owner;

create or replace function private.lock_project_for_write(project_id uuid) returns uuid
language plpgsql volatile security invoker set search_path = ''
as $$
declare
  owner_org uuid;
begin
  -- Row-locks the project (serialising the project's writers: key order, cycle checks, history order) and
  -- touches updated_at. Runs under the RPC owner's update policy: editors only.
  update public.projects as p
  set updated_at = now()
  where p.id = lock_project_for_write.project_id
  returning p.org_id into owner_org;
  if owner_org is null then
    raise exception 'project % not found', lock_project_for_write.project_id
      using errcode = 'PT404', hint = 'Call atoms_list_projects to see the projects you can use.';
  end if;
  return owner_org;
end;
$$;

comment on function private.lock_project_for_write(uuid) is
'atoms: first write of every write RPC: locks the project row (so a project''s writers are serialised and take locks in one order) and touches projects.updated_at; returns the project''s org_id.';
revoke execute on function private.lock_project_for_write(uuid) from public, anon;
grant execute on function private.lock_project_for_write(uuid) to atoms_rpc_owner;

create or replace function private.find_item(
  project_id uuid,
  item_key text,
  field text,
  include_deleted boolean default false
) returns public.items
language plpgsql stable security invoker set search_path = ''
as $$
declare
  found public.items;
begin
  select * into found
  from public.items as i
  where i.project_id = find_item.project_id and i.key = find_item.item_key;
  if found.id is null or (found.deleted_at is not null and not find_item.include_deleted) then
    raise exception '% % not found in this project%', find_item.field, find_item.item_key,
      case when found.id is not null then ' (it has been deleted)' else '' end
      using errcode = 'PT404', hint = 'Use atoms_list_items or atoms_search to find item keys.';
  end if;
  return found;
end;
$$;

comment on function private.find_item(uuid, text, text, boolean) is
'atoms: the item with a key in a project (live only unless include_deleted), read under the caller''s RLS; PT404 naming the field otherwise.';
revoke execute on function private.find_item(uuid, text, text, boolean) from public, anon;
grant execute on function private.find_item(uuid, text, text, boolean) to atoms_rpc_owner;

create or replace function private.link_phrase(from_key text, link_word text, to_key text) returns text
language sql immutable security invoker set search_path = ''
as $$
  select case link_phrase.link_word
    when 'child' then link_phrase.to_key || ' is a child of ' || link_phrase.from_key
    when 'parent' then link_phrase.to_key || ' is a parent of ' || link_phrase.from_key
    when 'verifies' then link_phrase.from_key || ' verifies ' || link_phrase.to_key
    when 'verified_by' then link_phrase.from_key || ' is verified by ' || link_phrase.to_key
    else link_phrase.from_key || ' is related to ' || link_phrase.to_key
  end
$$;

comment on function private.link_phrase(text, text, text) is 'atoms: a link as a sentence, e.g. TC-012 verifies REQ-001.';
revoke execute on function private.link_phrase(text, text, text) from public, anon;
grant execute on function private.link_phrase(text, text, text) to atoms_rpc_owner;

create or replace function private.add_link(
  org_id uuid,
  project_id uuid,
  from_item public.items,
  to_item public.items,
  link_word text
) returns boolean
language plpgsql volatile security invoker set search_path = ''
as $$
declare
  kind public.link_kind;
  source_item public.items;
  target_item public.items;
  phrase text := private.link_phrase(add_link.from_item.key, add_link.link_word, add_link.to_item.key);
begin
  if add_link.from_item.id = add_link.to_item.id then
    raise exception 'an item cannot be linked to itself (%)', add_link.from_item.key using errcode = '22023';
  end if;
  if add_link.from_item.project_id <> add_link.project_id or add_link.to_item.project_id <> add_link.project_id then
    raise exception 'both items must belong to the same project' using errcode = '22023';
  end if;
  if add_link.from_item.deleted_at is not null or add_link.to_item.deleted_at is not null then
    raise exception 'cannot link to a deleted item (%)', phrase
      using errcode = '22023', hint = 'An admin can restore the item with atoms_restore_item first.';
  end if;

  -- The five link words map onto three canonical kinds.
  case add_link.link_word
    when 'child' then kind := 'hierarchy'; source_item := add_link.from_item; target_item := add_link.to_item;
    when 'parent' then kind := 'hierarchy'; source_item := add_link.to_item; target_item := add_link.from_item;
    when 'verifies' then kind := 'verification'; source_item := add_link.from_item; target_item := add_link.to_item;
    when 'verified_by' then kind := 'verification'; source_item := add_link.to_item; target_item := add_link.from_item;
    when 'related' then
      kind := 'related';
      if add_link.from_item.id < add_link.to_item.id then
        source_item := add_link.from_item; target_item := add_link.to_item;
      else
        source_item := add_link.to_item; target_item := add_link.from_item;
      end if;
    else
      raise exception 'type must be one of parent | child | related | verifies | verified_by, got "%"', left(add_link.link_word, 80)
        using errcode = '22023';
  end case;

  if kind = 'verification' and (source_item.item_type <> 'test-case' or target_item.item_type <> 'requirement') then
    raise exception 'verification links go from a test case to a requirement: % is a %, % is a %',
      source_item.key, source_item.item_type, target_item.key, target_item.item_type
      using errcode = '22023', hint = 'Use "verifies" from a test case to a requirement (or "verified_by" the other way).';
  end if;

  if exists (
    select 1 from public.item_links as l
    where l.project_id = add_link.project_id and l.link_kind = kind and l.source_item_id = source_item.id
      and l.target_item_id = target_item.id and l.deleted_at is null
  ) then
    return false;
  end if;

  if kind = 'hierarchy' then
    -- A cycle would appear if the new child is already an ancestor of the new parent (any length). Every live
    -- edge counts, including edges to soft-deleted items, so a later restore cannot close a cycle either.
    if exists (
      with recursive ancestors (id) as (
        select source_item.id
        union
        select l.source_item_id
        from public.item_links as l
        inner join ancestors as a on l.target_item_id = a.id
        where l.project_id = add_link.project_id and l.link_kind = 'hierarchy' and l.deleted_at is null
      )
      select 1 from ancestors as a where a.id = target_item.id
    ) then
      raise exception 'this link would create a hierarchy cycle: % is already an ancestor of %', target_item.key, source_item.key
        using errcode = '22023';
    end if;
  end if;

  insert into public.item_links (org_id, project_id, link_kind, source_item_id, target_item_id, created_by)
  values (add_link.org_id, add_link.project_id, kind, source_item.id, target_item.id, (select private.caller_id()));
  return true;
end;
$$;

comment on function private.add_link(uuid, uuid, public.items, public.items, text) is
'atoms: adds the canonical edge for a link word (child/parent -> hierarchy, verifies/verified_by -> verification test case -> requirement, related -> pair with source < target). Refuses self-links, deleted items, wrong verification types and hierarchy cycles (22023). Returns false when the live edge already exists.';
revoke execute on function private.add_link(uuid, uuid, public.items, public.items, text) from public, anon;
grant execute on function private.add_link(uuid, uuid, public.items, public.items, text) to atoms_rpc_owner;

-- ---- RPCs ----
create or replace function public.atoms_link_items(
  project_id text,
  from_id text,
  to_id text,
  type text,
  action text default 'add'
) returns jsonb
language plpgsql volatile security definer set search_path = ''
as $$
declare
  project uuid := private.require_uuid(atoms_link_items.project_id, 'project_id');
  org uuid;
  from_item public.items;
  to_item public.items;
  source_id uuid;
  target_id uuid;
  kind public.link_kind;
  phrase text;
  changed boolean;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_link_items.from_id, 'from_id');
  perform private.require_item_key(atoms_link_items.to_id, 'to_id');
  perform private.require_choice(atoms_link_items.type, 'type', array['parent', 'child', 'related', 'verifies', 'verified_by']);
  perform private.require_choice(atoms_link_items.action, 'action', array['add', 'remove']);
  if atoms_link_items.from_id = atoms_link_items.to_id then
    raise exception 'an item cannot be linked to itself (%)', atoms_link_items.from_id using errcode = '22023';
  end if;

  org := private.lock_project_for_write(project);
  phrase := private.link_phrase(atoms_link_items.from_id, atoms_link_items.type, atoms_link_items.to_id);

  if atoms_link_items.action = 'add' then
    from_item := private.find_item(project, atoms_link_items.from_id, 'from_id');
    to_item := private.find_item(project, atoms_link_items.to_id, 'to_id');
    changed := private.add_link(org, project, from_item, to_item, atoms_link_items.type);
    return jsonb_build_object(
      'from_id', atoms_link_items.from_id, 'to_id', atoms_link_items.to_id, 'type', atoms_link_items.type,
      'action', 'add', 'changed', changed,
      'message', case when changed then 'Relationship added: ' else 'Relationship already exists: ' end || phrase
    );
  end if;

  -- remove: the items may since have been deleted; removing a link to them is still allowed.
  from_item := private.find_item(project, atoms_link_items.from_id, 'from_id', true);
  to_item := private.find_item(project, atoms_link_items.to_id, 'to_id', true);
  case atoms_link_items.type
    when 'child' then kind := 'hierarchy'; source_id := from_item.id; target_id := to_item.id;
    when 'parent' then kind := 'hierarchy'; source_id := to_item.id; target_id := from_item.id;
    when 'verifies' then kind := 'verification'; source_id := from_item.id; target_id := to_item.id;
    when 'verified_by' then kind := 'verification'; source_id := to_item.id; target_id := from_item.id;
    else kind := 'related'; source_id := least(from_item.id, to_item.id); target_id := greatest(from_item.id, to_item.id);
  end case;

  update public.item_links as l
  set deleted_at = now(), deleted_by = (select private.caller_id())
  where l.project_id = project and l.link_kind = kind and l.source_item_id = source_id
    and l.target_item_id = target_id and l.deleted_at is null;
  changed := found;
  return jsonb_build_object(
    'from_id', atoms_link_items.from_id, 'to_id', atoms_link_items.to_id, 'type', atoms_link_items.type,
    'action', 'remove', 'changed', changed,
    'message', case when changed then 'Relationship removed: ' else 'Relationship not found, nothing to remove: ' end || phrase
  );
end;
$$;

comment on function public.atoms_link_items(text, text, text, text, text) is
'atoms tool atoms_link_items (editor): add or remove (soft delete) a relationship between two items of a project. Adding an existing link and removing a missing one succeed without change. Returns {from_id, to_id, type, action, changed, message}.';
alter function public.atoms_link_items(text, text, text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_link_items(text, text, text, text, text) from public, anon;
grant execute on function public.atoms_link_items(text, text, text, text, text) to authenticated;
