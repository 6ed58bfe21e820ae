-- atoms_trace: "both" is the union of the upstream and the downstream walks, every item says which item it was
-- reached from (via) and over which kind of link, and related links are followed related_depth hops.
-- Objects: private.trace_walk (one directed walk); public.atoms_trace(text, text, text, integer, text[], integer)
--   replaces public.atoms_trace(text, text, text, integer, text[]).
-- Walk: breadth first, level by level; each item once, at its smallest depth, reached from the first frontier
--   item by (hierarchy, verification, related) then by key; a visited set makes a cycle that slipped into the data
--   harmless. Upstream follows parent + verifies, downstream child + verified_by: a walk never turns around, so a
--   sibling (reached through a shared parent) and a sibling's tests never appear. Related links are followed in
--   both directions from the root and the items reached over hierarchy or verification, and from an item reached
--   over related only further related links: a path holds at most related_depth related hops. depth 1-10 and at
--   most 200 items bound the work; only live links between live items are followed, each read by its endpoint
--   index.
-- Security: security invoker; the authenticated policies scope every row to the caller's projects.

create or replace function private.trace_walk(
  project_id uuid,
  root_id uuid,
  follow text[],
  max_depth integer,
  related_depth integer,
  max_items integer
) returns table (found_id uuid, via_id uuid, link_word text, found_depth integer)
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  visited uuid[] := array[trace_walk.root_id];
  frontier_ids uuid[] := array[trace_walk.root_id];
  frontier_keys text[];
  frontier_words text[] := array[null::text];
  frontier_hops integer[] := array[0];
  next_ids uuid[];
  next_via uuid[];
  next_keys text[];
  next_words text[];
  next_hops integer[];
  walk_level integer := 0;
begin
  select array[i.key] into frontier_keys from public.items as i where i.id = trace_walk.root_id;
  while walk_level < trace_walk.max_depth and cardinality(visited) <= trace_walk.max_items loop
    walk_level := walk_level + 1;
    select
      array_agg(s.id order by s.key),
      array_agg(s.via order by s.key),
      array_agg(s.key order by s.key),
      array_agg(s.word order by s.key),
      array_agg(s.hops order by s.key)
    into next_ids, next_via, next_keys, next_words, next_hops
    from (
      -- the first items of this level by key, as many as the cap leaves room for
      select r.id, r.via, r.key, r.word, r.hops
      from (
        -- each new item once: the strongest kind of link, then the frontier item with the smallest key
        select distinct on (e.id) e.id, e.via, o.key, e.word, e.hops
        from unnest(frontier_ids, frontier_keys, frontier_words, frontier_hops) as f (id, key, word, hops)
        cross join lateral (
          select l.source_item_id as id, f.id as via, f.key as via_key, 'parent' as word, 0 as hops, 1 as priority
          from public.item_links as l
          where
            l.target_item_id = f.id and l.deleted_at is null and l.link_kind = 'hierarchy'
            and 'parent' = any(trace_walk.follow) and f.word is distinct from 'related'
          union all
          select l.target_item_id, f.id, f.key, 'child', 0, 1
          from public.item_links as l
          where
            l.source_item_id = f.id and l.deleted_at is null and l.link_kind = 'hierarchy'
            and 'child' = any(trace_walk.follow) and f.word is distinct from 'related'
          union all
          select l.target_item_id, f.id, f.key, 'verifies', 0, 2
          from public.item_links as l
          where
            l.source_item_id = f.id and l.deleted_at is null and l.link_kind = 'verification'
            and 'verifies' = any(trace_walk.follow) and f.word is distinct from 'related'
          union all
          select l.source_item_id, f.id, f.key, 'verified_by', 0, 2
          from public.item_links as l
          where
            l.target_item_id = f.id and l.deleted_at is null and l.link_kind = 'verification'
            and 'verified_by' = any(trace_walk.follow) and f.word is distinct from 'related'
          union all
          select l.target_item_id, f.id, f.key, 'related', f.hops + 1, 3
          from public.item_links as l
          where
            l.source_item_id = f.id and l.deleted_at is null and l.link_kind = 'related'
            and 'related' = any(trace_walk.follow) and f.hops < trace_walk.related_depth
          union all
          select l.source_item_id, f.id, f.key, 'related', f.hops + 1, 3
          from public.item_links as l
          where
            l.target_item_id = f.id and l.deleted_at is null and l.link_kind = 'related'
            and 'related' = any(trace_walk.follow) and f.hops < trace_walk.related_depth
        ) as e
        inner join public.items as o on e.id = o.id
        where o.project_id = trace_walk.project_id and o.deleted_at is null and not (e.id = any(visited))
        order by e.id, e.priority, e.via_key
      ) as r
      order by r.key
      limit trace_walk.max_items + 1 - cardinality(visited)
    ) as s;
    exit when next_ids is null;

    return query
    select n.id, n.via, n.word, walk_level
    from unnest(next_ids, next_via, next_words) as n (id, via, word);

    visited := visited || next_ids;
    frontier_ids := next_ids;
    frontier_keys := next_keys;
    frontier_words := next_words;
    frontier_hops := next_hops;
  end loop;
end;
$$;

comment on function private.trace_walk(uuid, uuid, text[], integer, integer, integer) is
'atoms: one breadth-first trace walk from root_id over the link words in follow (parent, child, verifies, verified_by, related): rows (found_id, via_id, link_word, found_depth), each item once at its smallest depth, at most max_items. From an item reached over related only related links are followed, and a path holds at most related_depth related hops. Live links between live items of project_id only; security invoker (the caller''s RLS).';
revoke execute on function private.trace_walk(uuid, uuid, text[], integer, integer, integer) from public, anon;
grant execute on function private.trace_walk(uuid, uuid, text[], integer, integer, integer) to authenticated, atoms_rpc_owner;

drop function if exists public.atoms_trace(text, text, text, integer, text[]);

create or replace function public.atoms_trace(
  project_id text,
  item_id text,
  direction text,
  depth integer default 5,
  relationship_types text[] default null,
  related_depth integer default 1
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_trace.project_id, 'project_id');
  max_items constant integer := 200;
  link_words constant text[] := array['parent', 'child', 'related', 'verifies', 'verified_by'];
  root_key text;
  root_id uuid;
  walk_direction text;
  max_depth integer;
  max_related integer;
  up_words text[] := array['parent', 'verifies', 'related'];
  down_words text[] := array['child', 'verified_by', 'related'];
  word text;
  found_items jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  root_key := private.require_item_key(atoms_trace.item_id, 'item_id');
  walk_direction := private.require_choice(atoms_trace.direction, 'direction', array['upstream', 'downstream', 'both']);
  max_depth := private.require_int_range(atoms_trace.depth, 'depth', 1, 10);
  max_related := private.require_int_range(atoms_trace.related_depth, 'related_depth', 0, 10);
  if atoms_trace.relationship_types is not null then
    if cardinality(atoms_trace.relationship_types) = 0 then
      raise exception 'relationship_types must name at least one of %, or be omitted', array_to_string(link_words, ' | ')
        using errcode = '22023';
    end if;
    foreach word in array atoms_trace.relationship_types loop
      perform private.require_choice(word, 'relationship_types element', link_words);
    end loop;
    -- The filter narrows what each direction follows (upstream with ['child'] follows nothing).
    up_words := array(select f from unnest(up_words) as f where f = any(atoms_trace.relationship_types));
    down_words := array(select f from unnest(down_words) as f where f = any(atoms_trace.relationship_types));
  end if;
  if walk_direction = 'upstream' then
    down_words := '{}'::text[];
  elsif walk_direction = 'downstream' then
    up_words := '{}'::text[];
  end if;

  select i.id into root_id
  from public.items as i
  where i.project_id = pid and i.key = root_key and i.deleted_at is null;
  if root_id is null then
    perform private.raise_item_not_found(pid, root_key, 'item');
  end if;

  -- both: the union of the two walks; an item both walks reach is kept once, where it is nearest (upstream on a tie).
  select coalesce(jsonb_agg(
    jsonb_build_object(
      'id', i.key,
      'title', i.title,
      'type', i.item_type,
      'relationship', u.link_word,
      'link_kind', case u.link_word
        when 'parent' then 'hierarchy' when 'child' then 'hierarchy' when 'related' then 'related' else 'verification'
      end,
      'via', v.key,
      'depth', u.found_depth
    )
    order by u.found_depth, i.key
  ), '[]'::jsonb)
  into found_items
  from (
    select b.found_id, b.via_id, b.link_word, b.found_depth, b.walk
    from (
      select distinct on (w.found_id) w.found_id, w.via_id, w.link_word, w.found_depth, w.walk
      from (
        select t.found_id, t.via_id, t.link_word, t.found_depth, 1 as walk
        from private.trace_walk(pid, root_id, up_words, max_depth, max_related, max_items) as t
        where cardinality(up_words) > 0
        union all
        select t.found_id, t.via_id, t.link_word, t.found_depth, 2 as walk
        from private.trace_walk(pid, root_id, down_words, max_depth, max_related, max_items) as t
        where cardinality(down_words) > 0
      ) as w
      order by w.found_id, w.found_depth, w.walk
    ) as b
    inner join public.items as k on b.found_id = k.id
    order by b.found_depth, k.key
    limit max_items
  ) as u
  inner join public.items as i on u.found_id = i.id
  inner join public.items as v on u.via_id = v.id;

  return jsonb_build_object(
    'root', root_key,
    'direction', walk_direction,
    'items', found_items,
    'total_count', jsonb_array_length(found_items)
  );
end;
$$;

comment on function public.atoms_trace(text, text, text, integer, text[], integer) is
'atoms tool atoms_trace (viewer; security invoker): items reachable from item_id over live links between live items; upstream follows parent + verifies, downstream child + verified_by, both is the union of those two walks (never a sibling through a shared parent, nor its tests); related links both ways, at most related_depth (0-10, 1) related hops per path, and from an item reached over related only related links; relationship_types narrows the link words followed; each item once at its smallest depth (ties: hierarchy, verification, related, then the smaller via key), depth 1-10 (5), at most 200 items (total_count = items returned; 200 means the walk hit the cap). Returns {root, direction, items: [{id, title, type, relationship, link_kind, via, depth}], total_count}: via is the key the item was reached from, so the items rebuild the tree; ordered by depth, then key.';
revoke execute on function public.atoms_trace(text, text, text, integer, text[], integer) from public, anon;
grant execute on function public.atoms_trace(text, text, text, integer, text[], integer) to authenticated;
