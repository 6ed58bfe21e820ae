-- Read RPCs, fixed forward: filters normalise domain tags exactly as stored tags are normalised, and a blank
--   search query is refused.
-- Objects: public.atoms_list_items, public.atoms_search, public.atoms_get_coverage (create or replace; same
--   signatures, security, owners and grants as in the rpc_read_items and rpc_summary migrations).
-- Changes: domain goes through private.normalize_domains (trimmed, lower-case, 1-64 characters after trimming, so
--   "  " is 22023 instead of matching nothing); query is trimmed of blanks, tabs and line breaks and must keep at
--   least one character (22023).

-- ---- RPCs ----
create or replace function public.atoms_list_items(
  project_id text,
  type text default null,
  domain text default null,
  level text default null,
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security invoker set search_path = ''
as $$
declare
  pid uuid := private.require_uuid(atoms_list_items.project_id, 'project_id');
  filter_type public.item_type;
  filter_domain text;
  filter_level public.item_level;
  page_limit integer;
  page_offset integer;
  total bigint := 0;
  page jsonb := '[]'::jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  if atoms_list_items.type is not null then
    perform private.require_choice(atoms_list_items.type, 'type', array['requirement', 'test-case', 'note', 'table']);
    -- 'table' is accepted as a filter value for compatibility; atoms stores no tables, so it matches nothing.
    if atoms_list_items.type <> 'table' then
      filter_type := atoms_list_items.type::public.item_type;
    end if;
  end if;
  if atoms_list_items.domain is not null then
    -- Same normalisation as stored tags (trimmed, lower-case, 1-64 characters).
    filter_domain := (private.normalize_domains(array[atoms_list_items.domain], 'domain'))[1];
  end if;
  if atoms_list_items.level is not null then
    filter_level := private.require_choice(atoms_list_items.level, 'level', array['System', 'Subsystem', 'Component'])::public.item_level;
  end if;
  page_limit := private.require_int_range(atoms_list_items."limit", 'limit', 1, 200);
  page_offset := private.require_int_range(atoms_list_items."offset", 'offset', 0, 2147483647);

  if atoms_list_items.type is distinct from 'table' then
    select count(*) into total
    from public.items as i
    where
      i.project_id = pid
      and i.deleted_at is null
      and (filter_type is null or i.item_type = filter_type)
      and (filter_domain is null or filter_domain = any(i.domains))
      and (filter_level is null or i.level = filter_level);

    select coalesce(jsonb_agg(private.item_summary(pg) order by pg.created_at, pg.key), '[]'::jsonb) into page
    from (
      select i.*
      from public.items as i
      where
        i.project_id = pid
        and i.deleted_at is null
        and (filter_type is null or i.item_type = filter_type)
        and (filter_domain is null or filter_domain = any(i.domains))
        and (filter_level is null or i.level = filter_level)
      order by i.created_at, i.key
      limit page_limit offset page_offset
    ) as pg;
  end if;

  return jsonb_build_object(
    'data', page,
    'meta', jsonb_build_object(
      'total_count', total,
      'limit', page_limit,
      'offset', page_offset,
      'has_more', page_offset + jsonb_array_length(page) < total
    )
  );
end;
$$;

comment on function public.atoms_list_items(text, text, text, text, integer, integer) is
'atoms tool atoms_list_items (STABLE): live items of a project, filters type/domain/level AND-ed, ordered by created_at then key; type ''table'' matches nothing. {data:[ItemSummary], meta {total_count, limit, offset, has_more}}. Security invoker: the authenticated policies hide other tenants and soft-deleted rows.';
revoke execute on function public.atoms_list_items(text, text, text, text, integer, integer) from public, anon;
grant execute on function public.atoms_list_items(text, text, text, text, integer, integer) to authenticated;

create or replace function public.atoms_search(
  project_id text,
  query text,
  type text default null,
  "limit" integer default 25
) returns jsonb
language plpgsql stable security definer set search_path = ''
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
    perform private.require_choice(atoms_search.type, 'type', array['requirement', 'test-case', 'note', 'table']);
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

create or replace function public.atoms_get_coverage(
  project_id text,
  domain text default null,
  level text default null
) returns jsonb
language plpgsql stable security invoker set search_path = ''
as $$
declare
  pid uuid := private.require_uuid(atoms_get_coverage.project_id, 'project_id');
  filter_domain text;
  filter_level public.item_level;
begin
  perform private.require_project_role(pid, 'viewer');
  if atoms_get_coverage.domain is not null then
    -- Same normalisation as stored tags (trimmed, lower-case, 1-64 characters).
    filter_domain := (private.normalize_domains(array[atoms_get_coverage.domain], 'domain'))[1];
  end if;
  if atoms_get_coverage.level is not null then
    filter_level := private.require_choice(atoms_get_coverage.level, 'level', array['System', 'Subsystem', 'Component'])::public.item_level;
  end if;
  return private.coverage_of(pid, filter_domain, filter_level, true);
end;
$$;

comment on function public.atoms_get_coverage(text, text, text) is
'atoms tool atoms_get_coverage (STABLE): {covered, uncovered, total, coverage_percent (1 decimal, 0.0 without requirements), uncovered_items [{id, title, type, domains, level}] (oldest first, at most 500)}. Covered = at least one live test case verifies it over a live link. Security invoker.';
revoke execute on function public.atoms_get_coverage(text, text, text) from public, anon;
grant execute on function public.atoms_get_coverage(text, text, text) to authenticated;
