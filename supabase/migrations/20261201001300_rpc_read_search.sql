-- Read RPC atoms_search: full-text search over items (title, summary, body) through the GIN indexes.
-- Objects: private.search_item_matches (index-backed candidate finder), public.atoms_search.
-- Security: atoms_search validates every argument and calls private.require_project_role(project, 'viewer') first;
--   it is security definer owned by atoms_rpc_owner, the only role that may call private.search_item_matches.

-- ---- helpers ----
-- Why a helper owned by the table owner: under row level security the planner may only use a leakproof
-- operator as an index condition ahead of the policies' quals, and tsvector @@ tsquery is not leakproof, so
-- every search through RLS would scan the whole project. This function runs as the tables' owner (RLS does
-- not apply to the owner), returns only ids and ranks, checks the caller's project role itself, and is
-- executable by atoms_rpc_owner alone; atoms_search then re-reads every row by primary key under RLS.
create or replace function private.search_item_matches(
  project_id uuid,
  query tsquery,
  item_type public.item_type default null
) returns table (item_id uuid, rank real)
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select
    i.id as item_id,
    pg_catalog.ts_rank_cd(i.search_vector, search_item_matches.query) as rank
  from public.items as i
  where
    i.project_id = search_item_matches.project_id
    and i.deleted_at is null
    and i.search_vector @@ search_item_matches.query
    and (search_item_matches.item_type is null or i.item_type = search_item_matches.item_type)
    and (select private.has_project_role(search_item_matches.project_id, 'viewer'))
$$;

comment on function private.search_item_matches(uuid, tsquery, public.item_type) is
'atoms: ids and ts_rank_cd of the live items of a project matching a tsquery, through the GIN index. Runs as the table owner (see the migration) but returns nothing unless the calling user can read the project; only atoms_rpc_owner may execute it.';
revoke execute on function private.search_item_matches(uuid, tsquery, public.item_type) from public, anon, authenticated;
grant execute on function private.search_item_matches(uuid, tsquery, public.item_type) to atoms_rpc_owner;

create or replace function public.atoms_search(
  project_id text,
  query text,
  type text default null,
  "limit" integer default 25
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_search.project_id, 'project_id');
  search_text text;
  filter_type public.item_type;
  page_limit integer;
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

    -- Rows re-read by primary key under RLS (the caller's policies for atoms_rpc_owner).
    ranked as (
      select i as item, i.created_at, i.key, m.rank, m.exact, count(*) over () as total_count
      from matches as m
      inner join public.items as i on m.item_id = i.id
      where i.project_id = pid and i.deleted_at is null
      order by m.exact desc, m.rank desc nulls last, i.created_at, i.key
      limit page_limit
    )

    select
      coalesce(max(r.total_count), 0),
      coalesce(jsonb_agg(
        private.item_summary(r.item) order by r.exact desc, r.rank desc nulls last, r.created_at, r.key
      ), '[]'::jsonb)
    into total, page
    from ranked as r;
  end if;

  return jsonb_build_object('data', page, 'meta', jsonb_build_object('total_count', total, 'limit', page_limit));
end;
$$;

alter function public.atoms_search(text, text, text, integer) owner to atoms_rpc_owner;
comment on function public.atoms_search(text, text, text, integer) is
'atoms tool atoms_search (STABLE): websearch_to_tsquery syntax ("phrase", OR, -word) over title > summary > body of live items, ranked by ts_rank_cd; a query that is an item key (any case) puts that item first. {data:[ItemSummary], meta {total_count, limit}}. Security definer owned by atoms_rpc_owner: it alone may call private.search_item_matches (the GIN-backed finder, see the item_search migration); rows are re-read under the RPC owner''s caller-keyed policies.';
revoke execute on function public.atoms_search(text, text, text, integer) from public, anon;
grant execute on function public.atoms_search(text, text, text, integer) to authenticated;
