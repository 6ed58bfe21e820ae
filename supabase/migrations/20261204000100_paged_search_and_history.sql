-- atoms_search and atoms_get_history page like every other list tool: limit/offset in, and
-- {data, meta {total_count, limit, offset, has_more}} out.
-- Objects: public.atoms_search, public.atoms_get_history (each replaced by a version with an "offset" argument;
--   the old signatures are dropped so that a call by name stays unambiguous).
-- Security: unchanged: both validate every argument and call private.require_project_role(project, 'viewer')
--   first; both stay security definer owned by atoms_rpc_owner, executable by authenticated only.

drop function public.atoms_search(text, text, text, integer);

create or replace function public.atoms_search(
  project_id text,
  query text,
  type text default null,
  "limit" integer default 25,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_search.project_id, 'project_id');
  search_text text;
  filter_type public.item_type;
  page_limit integer;
  page_offset integer;
  tsq tsquery;
  exact_key text;
  total bigint := 0;
  page jsonb := '[]'::jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  search_text := btrim(private.require_text(atoms_search.query, 'query', 1, 1000), E' \t\r\n');
  if search_text = '' then
    raise exception 'query must contain at least one non-blank character' using errcode = '22023';
  end if;
  if atoms_search.type is not null then
    perform private.require_choice(atoms_search.type, 'type', pg_catalog.enum_range(null::public.item_type)::text[] || 'table'::text);
    if atoms_search.type <> 'table' then
      filter_type := atoms_search.type::public.item_type;
    end if;
  end if;
  page_limit := private.require_int_range(atoms_search."limit", 'limit', 1, 100);
  page_offset := private.require_int_range(atoms_search."offset", 'offset', 0, 2147483647);

  -- 'table' is accepted as a filter value for compatibility; atoms stores no tables, so it matches nothing.
  if atoms_search.type is distinct from 'table' then
    -- Same letter-digit hyphen rule as the generated column public.items.search_vector.
    tsq := websearch_to_tsquery(
      'private.atoms_text'::regconfig, regexp_replace(search_text, '([[:alpha:]])-([[:digit:]])', '\1 \2', 'g')
    );
    if upper(search_text) ~ '^[A-Z]+-[0-9]{3,}$' then
      exact_key := upper(search_text);
    end if;

    with candidates as (
      select m.item_id, m.rank, false as exact
      from private.search_item_matches(pid, tsq, filter_type) as m
      where numnode(tsq) > 0
      union all
      select i.id, null::real, true
      from public.items as i
      where
        i.project_id = pid
        and i.key = exact_key
        and i.deleted_at is null
        and (filter_type is null or i.item_type = filter_type)
    ),

    matches as (
      select c.item_id, max(c.rank) as rank, bool_or(c.exact) as exact
      from candidates as c
      group by c.item_id
    ),

    -- Rows re-read by primary key under RLS (the caller's policies for atoms_rpc_owner), numbered in rank order.
    ranked as (
      select
        i as item,
        count(*) over () as total_count,
        row_number() over (order by m.exact desc, m.rank desc nulls last, i.created_at, i.key) as position
      from matches as m
      inner join public.items as i on m.item_id = i.id
      where i.project_id = pid and i.deleted_at is null
    )

    select
      coalesce(max(r.total_count), 0),
      coalesce(
        jsonb_agg(private.item_summary(r.item) order by r.position)
          filter (where r.position > page_offset and r.position <= page_offset::bigint + page_limit),
        '[]'::jsonb
      )
    into total, page
    from ranked as r;
  end if;

  return jsonb_build_object(
    'data', page,
    'meta', jsonb_build_object(
      'total_count', total,
      'limit', page_limit,
      'offset', page_offset,
      'has_more', page_offset::bigint + page_limit < total
    )
  );
end;
$$;

alter function public.atoms_search(text, text, text, integer, integer) owner to atoms_rpc_owner;
comment on function public.atoms_search(text, text, text, integer, integer) is
'atoms tool atoms_search (viewer; security definer): websearch_to_tsquery syntax ("phrase", OR, -word) over title > summary > body of live items, ranked by ts_rank_cd; a query that is an item key (any case) puts that item first; limit 1-100 (25) rows from offset. Definer so that it alone may call private.search_item_matches (the GIN-backed finder); rows are re-read under the RPC owner''s caller-keyed policies. Returns {data: [ItemSummary], meta: {total_count, limit, offset, has_more}}.';
revoke execute on function public.atoms_search(text, text, text, integer, integer) from public, anon;
grant execute on function public.atoms_search(text, text, text, integer, integer) to authenticated;

drop function public.atoms_get_history(text, text, integer);

create or replace function public.atoms_get_history(
  project_id text,
  item_id text,
  "limit" integer default 20,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_get_history.project_id, 'project_id');
  item_key text;
  page_limit integer;
  page_offset integer;
  iid uuid;
  total bigint;
  events jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  item_key := private.require_item_key(atoms_get_history.item_id, 'item_id');
  page_limit := private.require_int_range(atoms_get_history."limit", 'limit', 1, 100);
  page_offset := private.require_int_range(atoms_get_history."offset", 'offset', 0, 2147483647);

  -- Soft-deleted items included: the RPC owner's policy reads the caller's items, deleted or not.
  select i.id into iid
  from public.items as i
  where i.project_id = pid and i.key = item_key;
  if iid is null then
    raise exception 'item % not found in project %', item_key, pid
      using errcode = 'PT404', hint = 'Call atoms_list_items or atoms_search to find item keys.';
  end if;

  select count(*) into total
  from public.change_history as ch
  where ch.item_id = iid and ch.project_id = pid;

  select coalesce(jsonb_agg(
    private.history_event(h) order by h.changed_at desc, h.chain_seq desc
  ), '[]'::jsonb)
  into events
  from (
    select ch.*
    from public.change_history as ch
    where ch.item_id = iid and ch.project_id = pid
    order by ch.changed_at desc, ch.chain_seq desc
    limit page_limit offset page_offset
  ) as h;

  return jsonb_build_object(
    'data', events,
    'meta', jsonb_build_object(
      'total_count', total,
      'limit', page_limit,
      'offset', page_offset,
      'has_more', page_offset::bigint + page_limit < total
    )
  );
end;
$$;

alter function public.atoms_get_history(text, text, integer, integer) owner to atoms_rpc_owner;
comment on function public.atoms_get_history(text, text, integer, integer) is
'atoms tool atoms_get_history (viewer; security definer): change history of one item, newest first (chain order within a transaction), limit 1-100 (20) events from offset; works for soft-deleted items, which only the RPC owner''s caller-keyed policy sees. Returns {data: [event], meta: {total_count, limit, offset, has_more}}.';
revoke execute on function public.atoms_get_history(text, text, integer, integer) from public, anon;
grant execute on function public.atoms_get_history(text, text, integer, integer) to authenticated;
