-- Helpers shared by the write RPCs: the project lock, item lookup, links and human keys.
-- Objects: private.lock_project_for_write, private.find_item, private.link_phrase, private.add_link,
--   private.next_item_key, private.insert_item.
-- Security: security invoker and executable by atoms_rpc_owner only, so they run with the RPC owner's rights
--   (table privileges, no BYPASSRLS, policies keyed on the caller's auth.uid()).
-- Lock order (no deadlocks between writers): project row -> key counters -> history chain head.

create or replace function private.lock_project_for_write(project_id uuid) returns uuid
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
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
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
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
language sql immutable security invoker set search_path = pg_catalog, pg_temp
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
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
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

create or replace function private.next_item_key(project_id uuid, item_type public.item_type) returns text
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  issued integer;
begin
  -- The upsert row-locks the (project, type) counter until commit: concurrent creators queue, numbers are
  -- contiguous and a rolled-back create gives its number back (nothing committed is ever reused).
  insert into private.item_key_counters as c (project_id, item_type, last_number)
  values (next_item_key.project_id, next_item_key.item_type, 1)
  on conflict on constraint item_key_counters_pkey do update set last_number = c.last_number + 1
  returning c.last_number into issued;
  -- At least 3 digits, never truncated: REQ-001 ... REQ-999, REQ-1000.
  return case next_item_key.item_type when 'requirement' then 'REQ' when 'test-case' then 'TC' else 'NOTE' end
    || '-' || lpad(issued::text, greatest(3, char_length(issued::text)), '0');
end;
$$;

comment on function private.next_item_key(uuid, public.item_type) is
'atoms: the next human key of a (project, type): REQ/TC/NOTE-<n>, zero-padded to at least 3 digits, from the row-locked private.item_key_counters.';
revoke execute on function private.next_item_key(uuid, public.item_type) from public, anon;
grant execute on function private.next_item_key(uuid, public.item_type) to atoms_rpc_owner;

create or replace function private.insert_item(
  org_id uuid,
  project_id uuid,
  item_type public.item_type,
  title text,
  summary text,
  body text,
  domains text[],
  level public.item_level
) returns public.items
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  created public.items;
  who uuid := (select private.caller_id());
begin
  insert into public.items (org_id, project_id, key, item_type, title, summary, body, domains, level, created_by, updated_by)
  values (
    insert_item.org_id, insert_item.project_id, private.next_item_key(insert_item.project_id, insert_item.item_type),
    insert_item.item_type, insert_item.title, coalesce(insert_item.summary, ''), coalesce(insert_item.body, ''),
    coalesce(insert_item.domains, '{}'), insert_item.level, who, who
  )
  returning * into created;
  return created;
end;
$$;

comment on function private.insert_item(uuid, uuid, public.item_type, text, text, text, text[], public.item_level) is
'atoms: inserts an already validated item with the next key of its type; returns the row.';
revoke execute on function private.insert_item(uuid, uuid, public.item_type, text, text, text, text[], public.item_level) from public, anon;
grant execute on function private.insert_item(uuid, uuid, public.item_type, text, text, text, text[], public.item_level) to atoms_rpc_owner;
