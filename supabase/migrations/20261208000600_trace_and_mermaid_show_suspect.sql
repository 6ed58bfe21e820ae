-- atoms_trace and atoms_export_mermaid show suspect links.
-- Objects (replaced, same signatures; bodies start from their current definitions): public.atoms_trace (each item
--   adds suspect: the link it was reached over is suspect), public.atoms_export_mermaid (a suspect edge is labelled
--   suspect: A -->|suspect| B, TC -.->|verifies, suspect| REQ).
-- Security: as before (security invoker: the caller's policies, link_suspicions' included).

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
      'depth', u.found_depth,
      -- The link the item was reached over is suspect (hierarchy and verification links only).
      'suspect', exists (
        select 1
        from public.item_links as l
        inner join public.link_suspicions as s on l.id = s.link_id and s.cleared_at is null
        where
          l.project_id = pid
          and l.deleted_at is null
          and l.link_kind = case when u.link_word in ('parent', 'child') then 'hierarchy' else 'verification' end::public.link_kind
          and l.source_item_id = case when u.link_word in ('parent', 'verified_by') then u.found_id else u.via_id end
          and l.target_item_id = case when u.link_word in ('parent', 'verified_by') then u.via_id else u.found_id end
          and u.link_word <> 'related'
      )
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
'atoms tool atoms_trace (viewer; security invoker): items reachable from item_id over live links between live items; upstream follows parent + verifies, downstream child + verified_by, both is the union of those two walks (never a sibling through a shared parent, nor its tests); related links both ways, at most related_depth (0-10, 1) related hops per path, and from an item reached over related only related links; relationship_types narrows the link words followed; each item once at its smallest depth (ties: hierarchy, verification, related, then the smaller via key), depth 1-10 (5), at most 200 items (total_count = items returned; 200 means the walk hit the cap). Returns {root, direction, items: [{id, title, type, relationship, link_kind, via, depth, suspect}], total_count}: via is the key the item was reached from, so the items rebuild the tree, and suspect says whether the link from via is suspect (public.link_suspicions); ordered by depth, then key.';
revoke execute on function public.atoms_trace(text, text, text, integer, text[], integer) from public, anon;
grant execute on function public.atoms_trace(text, text, text, integer, text[], integer) to authenticated;

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
      case
        when k.kind = 'hierarchy' and k.suspect then
          '    ' || replace(k.source_key, '-', '_') || ' -->|suspect| ' || replace(k.target_key, '-', '_')
        when k.kind = 'hierarchy' then '    ' || replace(k.source_key, '-', '_') || ' --> ' || replace(k.target_key, '-', '_')
        when k.suspect then '    ' || replace(k.source_key, '-', '_') || ' -.->|verifies, suspect| ' || replace(k.target_key, '-', '_')
        else '    ' || replace(k.source_key, '-', '_') || ' -.->|verifies| ' || replace(k.target_key, '-', '_')
      end as line
    from (
      select
        l.link_kind as kind,
        node_keys[array_position(node_ids, l.source_item_id)] as source_key,
        node_keys[array_position(node_ids, l.target_item_id)] as target_key,
        exists (
          select 1 from public.link_suspicions as s where s.link_id = l.id and s.cleared_at is null
        ) as suspect
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
'atoms tool atoms_export_mermaid (viewer; security invoker): a Mermaid graph TD: nodes KEY_NNN["escaped title"], hierarchy A --> B, verification TC -.->|verifies| REQ; a suspect link is labelled: A -->|suspect| B, TC -.->|verifies, suspect| REQ. With root_item_id the root and its hierarchy descendants down to depth (1-10, 3) levels plus (include_tests) the test cases verifying them; without it every live item; at most 1000 nodes (a %% comment line says when cut). Returns {mermaid, node_count, edge_count}.';
revoke execute on function public.atoms_export_mermaid(text, text, integer, boolean) from public, anon;
grant execute on function public.atoms_export_mermaid(text, text, integer, boolean) to authenticated;
