-- Read RPC atoms_trace: walk the canonical links from one item, upstream, downstream or both.
-- Objects: public.atoms_trace.
-- Walk: a breadth-first recursive CTE with one row per depth level carrying the level's frontier and the set
--   of items already visited, so every item appears once, at its smallest depth, and a hierarchy cycle that
--   slipped into the data cannot loop; depth 1-10 and at most 200 items bound the work (a level never pulls
--   more items than the cap leaves room for). Only live links between live items are followed.
-- Security: security invoker; the authenticated policies scope every row to the caller's projects.

-- ---- RPCs ----
create or replace function public.atoms_trace(
  project_id text,
  item_id text,
  direction text,
  depth integer default 5,
  relationship_types text[] default null
) returns jsonb
language plpgsql stable security invoker set search_path = ''
as $$
declare
  pid uuid := private.require_uuid(atoms_trace.project_id, 'project_id');
  max_items constant integer := 200;
  link_words constant text[] := array['parent', 'child', 'related', 'verifies', 'verified_by'];
  root_key text;
  root_id uuid;
  walk_direction text;
  max_depth integer;
  follow text[];
  word text;
  found_items jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  root_key := private.require_item_key(atoms_trace.item_id, 'item_id');
  walk_direction := private.require_choice(atoms_trace.direction, 'direction', array['upstream', 'downstream', 'both']);
  max_depth := private.require_int_range(atoms_trace.depth, 'depth', 1, 10);
  follow := case walk_direction
    when 'upstream' then array['parent', 'verifies', 'related']
    when 'downstream' then array['child', 'verified_by', 'related']
    else link_words
  end;
  if atoms_trace.relationship_types is not null then
    if cardinality(atoms_trace.relationship_types) = 0 then
      raise exception 'relationship_types must name at least one of %, or be omitted', array_to_string(link_words, ' | ')
        using errcode = '22023';
    end if;
    foreach word in array atoms_trace.relationship_types loop
      perform private.require_choice(word, 'relationship_types element', link_words);
    end loop;
    -- The filter narrows what the direction follows (upstream with ['child'] follows nothing).
    follow := array(select f from unnest(follow) as f where f = any(atoms_trace.relationship_types));
  end if;

  select i.id into root_id
  from public.items as i
  where i.project_id = pid and i.key = root_key and i.deleted_at is null;
  if root_id is null then
    raise exception 'item % not found in project %', root_key, pid
      using errcode = 'PT404', hint = 'Call atoms_list_items or atoms_search to find item keys.';
  end if;

  with recursive walk (depth, frontier, relationships, visited) as (
    select 0, array[root_id], array[null::text], array[root_id]
    union all
    select w.depth + 1, n.ids, n.relationships, w.visited || n.ids
    from walk as w
    cross join lateral (
      select
        array_agg(s.id order by s.key) as ids,
        array_agg(s.relationship order by s.key) as relationships
      from (
        -- the first items of this level by key, as many as the cap leaves room for
        select r.id, r.relationship, r.key
        from (
          -- each new item once, by the strongest relationship that reached it (hierarchy, verification, related)
          select distinct on (e.id) e.id, e.relationship, o.key
          from (
            select l.source_item_id as id, 'parent' as relationship, 1 as priority
            from public.item_links as l
            where l.target_item_id = any(w.frontier) and l.deleted_at is null and l.link_kind = 'hierarchy' and 'parent' = any(follow)
            union all
            select l.target_item_id, 'child', 1
            from public.item_links as l
            where l.source_item_id = any(w.frontier) and l.deleted_at is null and l.link_kind = 'hierarchy' and 'child' = any(follow)
            union all
            select l.target_item_id, 'verifies', 2
            from public.item_links as l
            where l.source_item_id = any(w.frontier) and l.deleted_at is null and l.link_kind = 'verification' and 'verifies' = any(follow)
            union all
            select l.source_item_id, 'verified_by', 2
            from public.item_links as l
            where l.target_item_id = any(w.frontier) and l.deleted_at is null and l.link_kind = 'verification' and 'verified_by' = any(follow)
            union all
            select l.target_item_id, 'related', 3
            from public.item_links as l
            where l.source_item_id = any(w.frontier) and l.deleted_at is null and l.link_kind = 'related' and 'related' = any(follow)
            union all
            select l.source_item_id, 'related', 3
            from public.item_links as l
            where l.target_item_id = any(w.frontier) and l.deleted_at is null and l.link_kind = 'related' and 'related' = any(follow)
          ) as e
          inner join public.items as o on e.id = o.id
          where o.project_id = pid and o.deleted_at is null and not (e.id = any(w.visited))
          order by e.id, e.priority
        ) as r
        order by r.key
        limit max_items + 1 - cardinality(w.visited)
      ) as s
    ) as n
    where w.depth < max_depth and cardinality(w.visited) <= max_items and n.ids is not null
  )

  select coalesce(jsonb_agg(
    jsonb_build_object('id', i.key, 'title', i.title, 'type', i.item_type, 'relationship', f.relationship, 'depth', w.depth)
    order by w.depth, i.key
  ), '[]'::jsonb)
  into found_items
  from walk as w
  cross join lateral unnest(w.frontier, w.relationships) as f (id, relationship)
  inner join public.items as i on f.id = i.id
  where w.depth > 0;

  return jsonb_build_object(
    'root', root_key,
    'direction', walk_direction,
    'items', found_items,
    'total_count', jsonb_array_length(found_items)
  );
end;
$$;

comment on function public.atoms_trace(text, text, text, integer, text[]) is
'atoms tool atoms_trace (STABLE): items reachable from item_id over live links between live items. upstream follows parent + verifies, downstream child + verified_by, related both ways; relationship_types narrows that set. Each item once at its smallest depth (ties: hierarchy, then verification, then related), ordered by depth then key; depth 1-10 (5); at most 200 items (total_count = items returned, 200 means the walk hit the cap). Security invoker.';
revoke execute on function public.atoms_trace(text, text, text, integer, text[]) from public, anon;
grant execute on function public.atoms_trace(text, text, text, integer, text[]) to authenticated;
