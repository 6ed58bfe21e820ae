-- The tools of verification status: the suspect links of a project, clearing a suspect flag with a reason, and
-- the traceability matrix (requirement -> verifying tests -> latest result, with status and suspect flags).
-- Objects: private.suspect_link_row, public.atoms_list_suspect_links, public.atoms_clear_suspect,
--   public.atoms_trace_matrix.
-- Security: the reads are security invoker (the tables' policies for the caller) and check viewer first;
--   atoms_clear_suspect is security definer owned by atoms_rpc_owner (no BYPASSRLS: its update policy needs the
--   caller to be editor) and checks editor first. EXECUTE for authenticated only.

create or replace function private.suspect_link_row(suspicion public.link_suspicions) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'from_id', src.key,
    'to_id', tgt.key,
    'type', case when l.link_kind = 'verification' then 'verifies' else 'child' end,
    'link_kind', l.link_kind,
    'suspect_since', private.iso_utc(suspect_link_row.suspicion.marked_at),
    'cause', jsonb_build_object(
      'item_id', cause.key,
      'fields_changed', to_jsonb(suspect_link_row.suspicion.cause_fields),
      'changed_at', private.iso_utc(coalesce(h.changed_at, suspect_link_row.suspicion.marked_at)),
      'changed_by', h.changed_by,
      'reason', h.reason
    )
  )
  from public.item_links as l
  inner join public.items as src on l.source_item_id = src.id
  inner join public.items as tgt on l.target_item_id = tgt.id
  inner join public.items as cause on cause.id = suspect_link_row.suspicion.cause_item_id
  left join public.change_history as h on h.id = suspect_link_row.suspicion.cause_history_id
  where l.id = suspect_link_row.suspicion.link_id
$$;

comment on function private.suspect_link_row(public.link_suspicions) is
'atoms: one open suspect flag as the tools show it: {from_id, to_id, type (the link word: verifies | child), link_kind, suspect_since, cause: {item_id, fields_changed, changed_at, changed_by, reason}}.';
revoke execute on function private.suspect_link_row(public.link_suspicions) from public, anon;
grant execute on function private.suspect_link_row(public.link_suspicions) to authenticated, atoms_rpc_owner;

-- ---- atoms_list_suspect_links ----
create or replace function public.atoms_list_suspect_links(
  project_id text,
  item_id text default null,
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_list_suspect_links.project_id, 'project_id');
  page_limit integer;
  page_offset integer;
  end_item public.items;
  total bigint;
  page jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  page_limit := private.require_int_range(atoms_list_suspect_links."limit", 'limit', 1, 200);
  page_offset := private.require_int_range(atoms_list_suspect_links."offset", 'offset', 0, 2147483647);
  if atoms_list_suspect_links.item_id is not null then
    select i.* into end_item
    from public.items as i
    where
      i.project_id = pid
      and i.key = private.require_item_key(atoms_list_suspect_links.item_id, 'item_id')
      and i.deleted_at is null;
    if end_item.id is null then
      perform private.raise_item_not_found(pid, atoms_list_suspect_links.item_id, 'item');
    end if;
  end if;

  -- Open flags of live links between live items; with item_id, those where it is either end.
  select count(*) into total
  from public.link_suspicions as s
  inner join public.item_links as l on s.link_id = l.id
  inner join public.items as src on l.source_item_id = src.id
  inner join public.items as tgt on l.target_item_id = tgt.id
  where
    s.project_id = pid
    and s.cleared_at is null
    and l.deleted_at is null
    and src.deleted_at is null
    and tgt.deleted_at is null
    and (end_item.id is null or end_item.id in (l.source_item_id, l.target_item_id));

  select coalesce(jsonb_agg(private.suspect_link_row(p.s) order by p.marked_at, p.from_key, p.to_key), '[]'::jsonb) into page
  from (
    select s, s.marked_at, src.key as from_key, tgt.key as to_key
    from public.link_suspicions as s
    inner join public.item_links as l on s.link_id = l.id
    inner join public.items as src on l.source_item_id = src.id
    inner join public.items as tgt on l.target_item_id = tgt.id
    where
      s.project_id = pid
      and s.cleared_at is null
      and l.deleted_at is null
      and src.deleted_at is null
      and tgt.deleted_at is null
      and (end_item.id is null or end_item.id in (l.source_item_id, l.target_item_id))
    order by s.marked_at, src.key, tgt.key
    limit page_limit offset page_offset
  ) as p;

  return private.page_envelope(page, total, page_limit, page_offset);
end;
$$;

comment on function public.atoms_list_suspect_links(text, text, integer, integer) is
'atoms tool atoms_list_suspect_links (viewer; security invoker): the project''s suspect links (live links between live items whose flag is open), oldest flag first, then by from and to key; item_id keeps those where that item is either end; limit 1-200 (50), offset >= 0. Returns {data: [{from_id, to_id, type, link_kind, suspect_since, cause: {item_id, fields_changed, changed_at, changed_by, reason}}], meta: {total_count, limit, offset, has_more}}.';
revoke execute on function public.atoms_list_suspect_links(text, text, integer, integer) from public, anon;
grant execute on function public.atoms_list_suspect_links(text, text, integer, integer) to authenticated;

-- ---- atoms_clear_suspect ----
create or replace function public.atoms_clear_suspect(
  project_id text,
  from_id text,
  to_id text,
  reason text
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_clear_suspect.project_id, 'project_id');
  source_item public.items;
  target_item public.items;
  cleared public.link_suspicions;
  link public.item_links;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_clear_suspect.from_id, 'from_id');
  perform private.require_item_key(atoms_clear_suspect.to_id, 'to_id');
  if atoms_clear_suspect.reason is null then
    raise exception 'reason is required to clear a suspect link (1 to 1000 characters)'
      using errcode = '22023', hint = 'Say why the link still holds (what you reviewed); it is kept in the history.';
  end if;
  perform private.require_text(atoms_clear_suspect.reason, 'reason', 1, 1000);
  perform pg_catalog.set_config('atoms.change_reason', atoms_clear_suspect.reason, true);

  perform private.lock_project_for_write(project);
  source_item := private.find_item(project, atoms_clear_suspect.from_id, 'from item');
  target_item := private.find_item(project, atoms_clear_suspect.to_id, 'to item');

  select l.* into link
  from public.item_links as l
  where
    l.source_item_id = source_item.id
    and l.target_item_id = target_item.id
    and l.link_kind in ('hierarchy', 'verification')
    and l.deleted_at is null;
  if link.id is null then
    raise exception 'no link from % to %', source_item.key, target_item.key
      using
        errcode = 'PT404',
        hint = 'A verification link goes from the test case to the requirement, a hierarchy link from the parent to the child; atoms_list_suspect_links lists suspect links.';
  end if;

  update public.link_suspicions as s
  set cleared_at = now(), cleared_by = (select private.caller_id()), clear_reason = atoms_clear_suspect.reason
  where s.link_id = link.id and s.cleared_at is null
  returning s.* into cleared;
  if cleared.id is null then
    raise exception 'the link from % to % is not suspect', source_item.key, target_item.key
      using errcode = 'PT409', hint = 'atoms_list_suspect_links lists the suspect links.';
  end if;

  return jsonb_build_object(
    'from_id', source_item.key,
    'to_id', target_item.key,
    'type', case when link.link_kind = 'verification' then 'verifies' else 'child' end,
    'link_kind', link.link_kind,
    'cleared', true,
    'suspect_since', private.iso_utc(cleared.marked_at),
    'reason', cleared.clear_reason,
    'message', format(
      'Suspect flag cleared: %s %s %s',
      source_item.key,
      case when link.link_kind = 'verification' then 'verifies' else 'is parent of' end,
      target_item.key
    )
  );
end;
$$;

comment on function public.atoms_clear_suspect(text, text, text, text) is
'atoms tool atoms_clear_suspect (editor; security definer): clears the open suspect flag of the live link from from_id to to_id (verification: test case -> requirement; hierarchy: parent -> child) after review; reason (1-1000 characters) is required and kept in the suspect_cleared history row. No live link: PT404; not suspect: PT409. Returns {from_id, to_id, type, link_kind, cleared, suspect_since, reason, message}.';
alter function public.atoms_clear_suspect(text, text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_clear_suspect(text, text, text, text) from public, anon;
grant execute on function public.atoms_clear_suspect(text, text, text, text) to authenticated;

-- ---- atoms_trace_matrix ----
create or replace function public.atoms_trace_matrix(
  project_id text,
  level text default null,
  domain text default null,
  status text default null,
  "limit" integer default 50,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_trace_matrix.project_id, 'project_id');
  filter_domain text;
  filter_level public.item_level;
  filter_status public.requirement_status;
  page_limit integer;
  page_offset integer;
  total bigint;
  page jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  if atoms_trace_matrix.domain is not null then
    filter_domain := (private.normalize_domains(array[atoms_trace_matrix.domain], 'domain'))[1];
  end if;
  if atoms_trace_matrix.level is not null then
    filter_level := private.require_enum(atoms_trace_matrix.level, 'level', null::public.item_level)::public.item_level;
  end if;
  if atoms_trace_matrix.status is not null then
    filter_status := private.require_enum(
      atoms_trace_matrix.status, 'status', null::public.requirement_status
    )::public.requirement_status;
  end if;
  page_limit := private.require_int_range(atoms_trace_matrix."limit", 'limit', 1, 200);
  page_offset := private.require_int_range(atoms_trace_matrix."offset", 'offset', 0, 2147483647);

  with rows as materialized (
    select q.*
    from private.requirement_statuses(pid, filter_domain, filter_level) as q
    where filter_status is null or q.status = filter_status
  )

  select
    (select count(*) from rows),
    coalesce((
      select jsonb_agg(
        jsonb_build_object(
          'id', p.key,
          'title', p.title,
          'level', p.level,
          'domains', to_jsonb(p.domains),
          'status', p.status,
          'content_changed_at', private.iso_utc(p.content_changed_at),
          'tests', (
            select coalesce(jsonb_agg(
              jsonb_build_object(
                'id', vt.test_key,
                'title', vt.test_title,
                'suspect', vt.suspect,
                'suspect_since', private.iso_utc(vt.suspect_since),
                'latest_result', case when vt.result is not null then jsonb_build_object(
                  'result', vt.result,
                  'run_at', private.iso_utc(vt.ran_at),
                  'executed_by', vt.executed_by,
                  'build', vt.build
                ) end
              ) order by vt.test_key
            ), '[]'::jsonb)
            from private.verifying_tests(p.item_id) as vt
          )
        ) order by p.created_at, p.key
      )
      from (
        select r.*
        from rows as r
        order by r.created_at, r.key
        limit page_limit offset page_offset
      ) as p
    ), '[]'::jsonb)
  into total, page;

  return private.page_envelope(page, total, page_limit, page_offset);
end;
$$;

comment on function public.atoms_trace_matrix(text, text, text, text, integer, integer) is
'atoms tool atoms_trace_matrix (viewer; security invoker): the traceability matrix of a project''s live requirements (optional level, domain and status filters), oldest first: each requirement with its status, last normative change and verifying test cases (key order), each with its suspect flag and latest result by run_at {result, run_at, executed_by, build} (null: never run); limit 1-200 (50), offset >= 0. Returns {data: [{id, title, level, domains, status, content_changed_at, tests: [{id, title, suspect, suspect_since, latest_result}]}], meta: {total_count, limit, offset, has_more}}.';
revoke execute on function public.atoms_trace_matrix(text, text, text, text, integer, integer) from public, anon;
grant execute on function public.atoms_trace_matrix(text, text, text, text, integer, integer) to authenticated;
