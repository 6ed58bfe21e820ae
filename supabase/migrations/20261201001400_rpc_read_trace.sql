-- Read RPCs that walk the links: atoms_trace and atoms_export_mermaid (+ private.mermaid_label).
-- Trace: a breadth-first recursive CTE with one row per depth level carrying the level's frontier and the set
--   of items already visited, so every item appears once, at its smallest depth, and a hierarchy cycle that
--   slipped into the data cannot loop; depth 1-10 and at most 200 items bound the work (a level never pulls
--   more items than the cap leaves room for). Only live links between live items are followed.
-- Escaping (Mermaid): user text never reaches the diagram raw. Node ids are derived from keys (REQ-001 ->
--   REQ_001); in labels every character outside [A-Za-z0-9 space . , : _ / ( ) + ? ! = ' -] becomes a Mermaid
--   entity code #<decimal code point>; (" -> #34;, # -> #35;, < -> #60;, unicode too), and tab/CR/LF become a
--   space, so quotes, brackets, pipes, markup and newlines can never end a label or start a statement.
-- Security: security invoker; the authenticated policies scope every row to the caller's projects.

create or replace function public.atoms_trace(
  project_id text,
  item_id text,
  direction text,
  depth integer default 5,
  relationship_types text[] default null
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

create or replace function private.mermaid_label(value text) returns text
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select coalesce(string_agg(
    case
      when c.ch ~ '^[A-Za-z0-9 .,:_/()+?!=''-]$' then c.ch
      when c.ch in (E'\t', E'\n', E'\r') then ' '
      else '#' || pg_catalog.ascii(c.ch)::text || ';'
    end,
    '' order by c.position
  ), '')
  from regexp_split_to_table(mermaid_label.value, '') with ordinality as c (ch, position)
$$;

comment on function private.mermaid_label(text) is
'atoms: text made safe inside a Mermaid ["..."] label: allowed characters kept, tab/CR/LF -> space, everything else -> #<code point>; (Mermaid entity code).';
revoke execute on function private.mermaid_label(text) from public, anon;
grant execute on function private.mermaid_label(text) to authenticated, atoms_rpc_owner;

create or replace function public.atoms_export_mermaid(
  project_id text,
  root_item_id text default null,
  depth integer default 3,
  include_tests boolean default true
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_export_mermaid.project_id, 'project_id');
  max_nodes constant integer := 1000;
  root_key text;
  root_id uuid;
  max_depth integer;
  with_tests boolean;
  node_ids uuid[];
  node_keys text[];
  truncated boolean;
  node_lines text[];
  edge_lines text[];
  diagram text;
begin
  perform private.require_project_role(pid, 'viewer');
  if atoms_export_mermaid.root_item_id is not null then
    root_key := private.require_item_key(atoms_export_mermaid.root_item_id, 'root_item_id');
  end if;
  max_depth := private.require_int_range(atoms_export_mermaid.depth, 'depth', 1, 10);
  if atoms_export_mermaid.include_tests is null then
    raise exception 'include_tests must be true or false' using errcode = '22023';
  end if;
  with_tests := atoms_export_mermaid.include_tests;

  if root_key is not null then
    select i.id into root_id
    from public.items as i
    where i.project_id = pid and i.key = root_key and i.deleted_at is null;
    if root_id is null then
      raise exception 'item % not found in project %', root_key, pid
        using errcode = 'PT404', hint = 'Call atoms_list_items or atoms_search to find item keys.';
    end if;

    -- The root and its live hierarchy descendants down to max_depth levels, breadth first, each item once.
    with recursive walk (depth, frontier, visited) as (
      select 0, array[root_id], array[root_id]
      union all
      select w.depth + 1, n.ids, w.visited || n.ids
      from walk as w
      cross join lateral (
        select array_agg(c.id order by c.key) as ids
        from (
          select distinct o.id, o.key
          from public.item_links as l
          inner join public.items as o on l.target_item_id = o.id
          where
            l.source_item_id = any(w.frontier)
            and l.deleted_at is null
            and l.link_kind = 'hierarchy'
            and o.project_id = pid
            and o.deleted_at is null
            and not (o.id = any(w.visited))
          order by o.key
          limit max_nodes + 1 - cardinality(w.visited)
        ) as c
      ) as n
      where w.depth < max_depth and cardinality(w.visited) <= max_nodes and n.ids is not null
    )

    select array_agg(f.id order by w.depth, f.position) into node_ids
    from walk as w
    cross join lateral unnest(w.frontier) with ordinality as f (id, position);

    -- Test cases verifying the diagram's items join it as leaves (not counted as a depth level).
    if with_tests then
      node_ids := node_ids || array(
        select t.id
        from (
          select distinct o.id, o.key
          from public.item_links as l
          inner join public.items as o on l.source_item_id = o.id
          where
            l.target_item_id = any(node_ids)
            and l.deleted_at is null
            and l.link_kind = 'verification'
            and o.project_id = pid
            and o.deleted_at is null
            and not (o.id = any(node_ids))
        ) as t
        order by t.key
        limit greatest(max_nodes + 1 - cardinality(node_ids), 0)
      );
    end if;
  else
    -- No root: every live item of the project (test cases only with include_tests), oldest first.
    node_ids := array(
      select i.id
      from public.items as i
      where
        i.project_id = pid
        and i.deleted_at is null
        and (with_tests or i.item_type <> 'test-case')
      order by i.created_at, i.key
      limit max_nodes + 1
    );
  end if;

  truncated := cardinality(node_ids) > max_nodes;
  node_ids := node_ids[1:max_nodes];

  -- Keys and node lines in node order, read by primary key (= any keeps the lookup on the index).
  select
    coalesce(array_agg(o.key order by array_position(node_ids, o.id)), '{}'),
    coalesce(array_agg(
      '    ' || replace(o.key, '-', '_') || '["' || private.mermaid_label(o.title) || '"]'
      order by array_position(node_ids, o.id)
    ), '{}')
  into node_keys, node_lines
  from public.items as o
  where o.id = any(node_ids) and o.project_id = pid;

  -- Live edges with both ends in the diagram; endpoint keys come from node_keys (aligned with node_ids).
  select coalesce(array_agg(e.line order by e.kind, e.source_key, e.target_key), '{}')
  into edge_lines
  from (
    select
      k.kind,
      k.source_key,
      k.target_key,
      case k.kind
        when 'hierarchy' then '    ' || replace(k.source_key, '-', '_') || ' --> ' || replace(k.target_key, '-', '_')
        else '    ' || replace(k.source_key, '-', '_') || ' -.->|verifies| ' || replace(k.target_key, '-', '_')
      end as line
    from (
      select
        l.link_kind as kind,
        node_keys[array_position(node_ids, l.source_item_id)] as source_key,
        node_keys[array_position(node_ids, l.target_item_id)] as target_key
      from public.item_links as l
      where
        l.source_item_id = any(node_ids)
        and l.target_item_id = any(node_ids)
        and l.project_id = pid
        and l.deleted_at is null
        and (l.link_kind = 'hierarchy' or (with_tests and l.link_kind = 'verification'))
    ) as k
  ) as e;

  diagram := array_to_string(
    array['graph TD']
    || case when truncated then array['%% truncated: the first ' || max_nodes || ' items are shown'] else '{}'::text[] end
    || node_lines
    || edge_lines,
    E'\n'
  );

  return jsonb_build_object(
    'mermaid', diagram,
    'node_count', cardinality(node_lines),
    'edge_count', cardinality(edge_lines)
  );
end;
$$;

comment on function public.atoms_export_mermaid(text, text, integer, boolean) is
'atoms tool atoms_export_mermaid (STABLE): {mermaid, node_count, edge_count}. graph TD; nodes KEY_NNN["escaped title"]; hierarchy A --> B; verification TC -.->|verifies| REQ. With root_item_id: the root and its hierarchy descendants down to depth (1-10, 3) levels, plus (include_tests) the test cases verifying them; without: every live item. At most 1000 nodes (a %% comment line says when cut). Security invoker.';
revoke execute on function public.atoms_export_mermaid(text, text, integer, boolean) from public, anon;
grant execute on function public.atoms_export_mermaid(text, text, integer, boolean) to authenticated;
