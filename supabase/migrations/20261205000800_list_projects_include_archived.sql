-- atoms_list_projects gains include_archived: archived projects leave the list unless asked for.
-- Objects: public.atoms_list_projects(integer, integer) is replaced by public.atoms_list_projects(integer, integer,
--   boolean) (from rpc_read_items, with its api_comment_template comment; the body adds the archived filter and the
--   archived / archived_at fields).
-- Security: unchanged: security invoker, RLS on projects, organizations and items does the scoping.

drop function if exists public.atoms_list_projects(integer, integer);

create or replace function public.atoms_list_projects(
  "limit" integer default 50,
  "offset" integer default 0,
  include_archived boolean default false
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  page_limit integer;
  page_offset integer;
  with_archived boolean := coalesce(atoms_list_projects.include_archived, false);
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
  select count(*) into total from public.projects as p where with_archived or p.archived_at is null;

  select coalesce(jsonb_agg(
    jsonb_build_object(
      'id', pg.id,
      'name', pg.name,
      'description', pg.description,
      'org_id', pg.org_id,
      'org_name', pg.org_name,
      'role', pg.role,
      'item_counts', pg.item_counts,
      'updated_at', private.iso_utc(pg.updated_at),
      'archived', pg.archived_at is not null,
      'archived_at', private.iso_utc(pg.archived_at)
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
      p.updated_at,
      p.archived_at
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
    where with_archived or p.archived_at is null
    order by p.name, p.id
    limit page_limit offset page_offset
  ) as pg;

  return private.page_envelope(page, total, page_limit, page_offset);
end;
$$;

comment on function public.atoms_list_projects(integer, integer, boolean) is
'atoms tool atoms_list_projects (any signed-in user; security invoker): the projects of the caller''s organisations, by name, with the caller''s role, live item counts and whether archived; archived projects only with include_archived; RLS on projects, organizations and items does the scoping, a user in no organisation gets an empty list and no signed-in user 28000. Returns {data: [project], meta: {total_count, limit, offset, has_more}}.';
revoke execute on function public.atoms_list_projects(integer, integer, boolean) from public, anon;
grant execute on function public.atoms_list_projects(integer, integer, boolean) to authenticated;
