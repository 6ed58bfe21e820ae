-- Read RPCs for projects and items: atoms_list_projects, atoms_list_items, atoms_browse, atoms_get_item,
--   atoms_get_history.
-- Security: each RPC validates every argument (22023) and calls private.require_project_role(project, 'viewer')
--   first (28000 / PT404, so another tenant's project is "not found"). Most run as security invoker under the
--   authenticated policies (soft-deleted items and links hidden by RLS and by explicit filters);
--   atoms_get_history is security definer owned by atoms_rpc_owner, whose policies are keyed on the caller.
-- Results: jsonb shaped exactly as the catalogue's data (paginated tools: {data, meta}); timestamps ISO-8601 UTC.

create or replace function public.atoms_list_projects(
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  page_limit integer;
  page_offset integer;
  total bigint;
  page jsonb;
begin
  if (select auth.uid()) is null then
    raise exception 'not authenticated: this call needs a signed-in user'
      using errcode = '28000', hint = 'Sign in (atoms login) or pass a valid access token.';
  end if;
  page_limit := private.require_int_range(atoms_list_projects."limit", 'limit', 1, 200);
  page_offset := private.require_int_range(atoms_list_projects."offset", 'offset', 0, 2147483647);

  -- RLS (projects: visible_project_ids) limits both statements to the caller's organisations.
  select count(*) into total from public.projects as p;

  select coalesce(jsonb_agg(
    jsonb_build_object(
      'id', pg.id,
      'name', pg.name,
      'description', pg.description,
      'org_id', pg.org_id,
      'org_name', pg.org_name,
      'role', pg.role,
      'item_counts', pg.item_counts,
      'updated_at', private.iso_utc(pg.updated_at)
    ) order by pg.name, pg.id
  ), '[]'::jsonb)
  into page
  from (
    select
      p.id,
      p.name,
      p.description,
      p.org_id,
      o.name as org_name,
      private.project_role(p.id) as role,
      c.item_counts,
      p.updated_at
    from public.projects as p
    inner join public.organizations as o on p.org_id = o.id
    cross join lateral (
      select jsonb_build_object(
        'requirement', count(*) filter (where i.item_type = 'requirement'),
        'test-case', count(*) filter (where i.item_type = 'test-case'),
        'note', count(*) filter (where i.item_type = 'note')
      ) as item_counts
      from public.items as i
      where i.project_id = p.id and i.deleted_at is null
    ) as c
    order by p.name, p.id
    limit page_limit offset page_offset
  ) as pg;

  return private.page_envelope(page, total, page_limit, page_offset);
end;
$$;

comment on function public.atoms_list_projects(integer, integer) is
'atoms tool atoms_list_projects (STABLE): the projects of the caller''s organisations, by name, with role and live item counts. {data, meta {total_count, limit, offset, has_more}}. Security invoker: RLS on projects/organizations/items does the scoping; a user in no organisation gets an empty list; no signed-in user -> 28000.';
revoke execute on function public.atoms_list_projects(integer, integer) from public, anon;
grant execute on function public.atoms_list_projects(integer, integer) to authenticated;

create or replace function public.atoms_list_items(
  project_id text,
  type text default null,
  domain text default null,
  level text default null,
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
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
    perform private.require_choice(atoms_list_items.type, 'type', pg_catalog.enum_range(null::public.item_type)::text[] || 'table'::text);
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
    filter_level := private.require_enum(atoms_list_items.level, 'level', null::public.item_level)::public.item_level;
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

  return private.page_envelope(page, total, page_limit, page_offset);
end;
$$;

comment on function public.atoms_list_items(text, text, text, text, integer, integer) is
'atoms tool atoms_list_items (STABLE): live items of a project, filters type/domain/level AND-ed, ordered by created_at then key; type ''table'' matches nothing. {data:[ItemSummary], meta {total_count, limit, offset, has_more}}. Security invoker: the authenticated policies hide other tenants and soft-deleted rows.';
revoke execute on function public.atoms_list_items(text, text, text, text, integer, integer) from public, anon;
grant execute on function public.atoms_list_items(text, text, text, text, integer, integer) to authenticated;

create or replace function public.atoms_browse(
  project_id text,
  type text default null,
  domain text default null,
  level text default null,
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select public.atoms_list_items(
    project_id => atoms_browse.project_id,
    type => atoms_browse.type,
    domain => atoms_browse.domain,
    level => atoms_browse.level,
    "limit" => atoms_browse."limit",
    "offset" => atoms_browse."offset"
  )
$$;

comment on function public.atoms_browse(text, text, text, text, integer, integer) is
'atoms tool atoms_browse (STABLE): same arguments and result as atoms_list_items (the shim adds an interactive viewer). Security invoker, like atoms_list_items.';
revoke execute on function public.atoms_browse(text, text, text, text, integer, integer) from public, anon;
grant execute on function public.atoms_browse(text, text, text, text, integer, integer) to authenticated;

create or replace function public.atoms_get_item(
  project_id text,
  item_id text
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_get_item.project_id, 'project_id');
  item_key text;
  it public.items;
  rels jsonb;
  results jsonb;
  latest jsonb;
  owner_info jsonb;
  doc jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  item_key := private.require_item_key(atoms_get_item.item_id, 'item_id');

  select i.* into it
  from public.items as i
  where i.project_id = pid and i.key = item_key and i.deleted_at is null;
  if not found then
    raise exception 'item % not found in project %', item_key, pid
      using errcode = 'PT404', hint = 'Call atoms_list_items or atoms_search to find item keys.';
  end if;

  -- Live links to live items, read in both directions through the per-endpoint indexes.
  select jsonb_build_object(
    'parents', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'hierarchy' and l.target_item_id = it.id), '[]'::jsonb),
    'children', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'hierarchy' and l.source_item_id = it.id), '[]'::jsonb),
    'related', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'related'), '[]'::jsonb),
    'verifies', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'verification' and l.source_item_id = it.id), '[]'::jsonb),
    'verified_by', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'verification' and l.target_item_id = it.id), '[]'::jsonb)
  ) into rels
  from public.item_links as l
  inner join public.items as o
    on o.id = case when l.source_item_id = it.id then l.target_item_id else l.source_item_id end
  where
    (l.source_item_id = it.id or l.target_item_id = it.id)
    and l.project_id = pid
    and l.deleted_at is null
    and o.project_id = pid
    and o.deleted_at is null;

  owner_info := jsonb_build_object(
    'created_by', it.created_by,
    'created_at', private.iso_utc(it.created_at),
    'updated_by', it.updated_by,
    'updated_at', private.iso_utc(it.updated_at)
  );
  doc := jsonb_build_object(
    'id', it.key,
    'type', it.item_type,
    'title', it.title,
    'summary', it.summary,
    'body', it.body,
    'tags', jsonb_build_object('domains', to_jsonb(it.domains), 'level', it.level),
    'ownership', owner_info,
    'relationships', rels,
    'links', '[]'::jsonb,
    'status', null,
    'metadata', owner_info
  );

  if it.item_type = 'test-case' then
    -- Newest first; the 100 most recent runs (the full record stays in test_results and change_history).
    select coalesce(jsonb_agg(
      jsonb_build_object(
        'result', r.result,
        'note', r.note,
        'recorded_at', private.iso_utc(r.recorded_at),
        'recorded_by', r.recorded_by,
        'actor', r.actor
      ) order by r.recorded_at desc, r.id desc
    ), '[]'::jsonb)
    into results
    from (
      select t.*
      from public.test_results as t
      where t.item_id = it.id and t.project_id = pid
      order by t.recorded_at desc, t.id desc
      limit 100
    ) as r;
    latest := case
      when jsonb_array_length(results) > 0 then
        jsonb_build_object('result', results -> 0 -> 'result', 'note', results -> 0 -> 'note', 'recorded_at', results -> 0 -> 'recorded_at')
    end;
    doc := doc || jsonb_build_object(
      'status', latest -> 'result',
      'latest_result', latest,
      'test_results', results
    );
  end if;

  return doc;
end;
$$;

comment on function public.atoms_get_item(text, text) is
'atoms tool atoms_get_item (STABLE): one live item with tags, ownership, relationships (keys of live linked items), links [] (atoms stores no external links), status (test case: latest result, else null); test cases add latest_result and test_results (newest first, at most 100). Security invoker: a soft-deleted or other-tenant item is PT404.';
revoke execute on function public.atoms_get_item(text, text) from public, anon;
grant execute on function public.atoms_get_item(text, text) to authenticated;

create or replace function public.atoms_get_history(
  project_id text,
  item_id text,
  "limit" integer default 20
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_get_history.project_id, 'project_id');
  item_key text;
  page_limit integer;
  iid uuid;
  events jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  item_key := private.require_item_key(atoms_get_history.item_id, 'item_id');
  page_limit := private.require_int_range(atoms_get_history."limit", 'limit', 1, 100);

  -- Soft-deleted items included: the RPC owner's policy reads the caller's items, deleted or not.
  select i.id into iid
  from public.items as i
  where i.project_id = pid and i.key = item_key;
  if iid is null then
    raise exception 'item % not found in project %', item_key, pid
      using errcode = 'PT404', hint = 'Call atoms_list_items or atoms_search to find item keys.';
  end if;

  select coalesce(jsonb_agg(
    private.history_event(h) order by h.changed_at desc, h.chain_seq desc
  ), '[]'::jsonb)
  into events
  from (
    select ch.*
    from public.change_history as ch
    where ch.item_id = iid and ch.project_id = pid
    order by ch.changed_at desc, ch.chain_seq desc
    limit page_limit
  ) as h;

  return events;
end;
$$;

alter function public.atoms_get_history(text, text, integer) owner to atoms_rpc_owner;
comment on function public.atoms_get_history(text, text, integer) is
'atoms tool atoms_get_history (STABLE): change history of one item, newest first (chain order within a transaction), at most limit rows; works for soft-deleted items. Security definer owned by atoms_rpc_owner: its caller-keyed policy sees soft-deleted items, which the authenticated policy hides.';
revoke execute on function public.atoms_get_history(text, text, integer) from public, anon;
grant execute on function public.atoms_get_history(text, text, integer) to authenticated;
