-- Reads that show verification status and suspect links.
-- Objects (replaced, same signatures; bodies start from their current definitions):
--   public.atoms_get_coverage (adds verified_count, verified_percent, by_status {status: {count, items}}),
--   public.atoms_project_summary (coverage adds verified_count, verified_percent and by_status counts),
--   public.atoms_get_item (adds suspect_links; a requirement adds verification_status).
-- Latest result: latest by when the test ran, coalesce(run_at, recorded_at) (runs recorded before run_at existed
--   ran when recorded), the expression of test_results_item_id_run_at_idx; get_item's test results carry run_at,
--   build, executed_by, evidence and the recorder's name and email as they were, and a soft-deleted item is PT404
--   with {id, deleted_at, deleted_by} for members; project_summary counts each test case's latest run.
-- Coverage keeps its meaning (covered = a live test case verifies it, as the ATOMS catalogue has it); verified is
--   the stricter one (private.requirement_statuses).
-- Security: as before (get_coverage and get_item security invoker; project_summary security definer owned by
--   atoms_rpc_owner).

create or replace function public.atoms_get_coverage(
  project_id text,
  domain text default null,
  level text default null
) returns jsonb
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
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
    filter_level := private.require_enum(atoms_get_coverage.level, 'level', null::public.item_level)::public.item_level;
  end if;
  return private.coverage_of(pid, filter_domain, filter_level, true)
    || private.verification_of(pid, filter_domain, filter_level, true);
end;
$$;

comment on function public.atoms_get_coverage(text, text, text) is
'atoms tool atoms_get_coverage (viewer; security invoker): requirement coverage of a project in both meanings, optionally by domain and level: covered = at least one live test case verifies it over a live link; verified = the status verified (every verifying test''s latest result by run_at passed after the requirement''s last normative change, no suspect link; private.requirement_status). Returns {covered, uncovered, total, coverage_percent (1 decimal, 0.0 without requirements), uncovered_items: [{id, title, type, domains, level}] (oldest first, at most 500), verified_count, verified_percent (1 decimal), by_status: {status: {count, items (first 50 keys, oldest first)}}}.';
revoke execute on function public.atoms_get_coverage(text, text, text) from public, anon;
grant execute on function public.atoms_get_coverage(text, text, text) to authenticated;

create or replace function public.atoms_project_summary(
  project_id text
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_project_summary.project_id, 'project_id');
  project_info jsonb;
  counts jsonb;
  tests jsonb;
  changes jsonb;
begin
  perform private.require_project_role(pid, 'viewer');

  select jsonb_build_object('id', p.id, 'name', p.name, 'org_name', o.name) into project_info
  from public.projects as p
  inner join public.organizations as o on p.org_id = o.id
  where p.id = pid;

  select jsonb_build_object(
    'requirement', count(*) filter (where i.item_type = 'requirement'),
    'test-case', count(*) filter (where i.item_type = 'test-case'),
    'note', count(*) filter (where i.item_type = 'note')
  ) into counts
  from public.items as i
  where i.project_id = pid and i.deleted_at is null;

  -- Each live test case counted once, by its latest result by when it ran (never run: no result at all).
  select jsonb_build_object(
    'passed', count(*) filter (where lr.result = 'passed'),
    'failed', count(*) filter (where lr.result = 'failed'),
    'blocked', count(*) filter (where lr.result = 'blocked'),
    'not-run', count(*) filter (where lr.result = 'not-run'),
    'never_run', count(*) filter (where lr.result is null)
  ) into tests
  from public.items as t
  left join lateral (
    select r.result
    from public.test_results as r
    where r.item_id = t.id
    order by coalesce(r.run_at, r.recorded_at) desc, r.id desc
    limit 1
  ) as lr on true
  where t.project_id = pid and t.deleted_at is null and t.item_type = 'test-case';

  -- The project's last 10 history events in chain order; item_id is the key (soft-deleted items included).
  select coalesce(jsonb_agg(
    private.history_event(h) || jsonb_build_object('item_id', i.key) order by h.chain_seq desc
  ), '[]'::jsonb)
  into changes
  from (
    select ch.*
    from public.change_history as ch
    where ch.scope = 'project' and ch.scope_id = pid
    order by ch.chain_seq desc
    limit 10
  ) as h
  left join public.items as i on h.item_id = i.id;

  return jsonb_build_object(
    'project', project_info,
    'counts', counts,
    'coverage', private.coverage_of(pid, null, null, false) || private.verification_of(pid, null, null, false),
    'tests', tests,
    'recent_changes', changes,
    'history_intact', private.history_chain_intact('project', pid)
  );
end;
$$;

alter function public.atoms_project_summary(text) owner to atoms_rpc_owner;
comment on function public.atoms_project_summary(text) is
'atoms tool atoms_project_summary (viewer; security definer): a project at a glance; definer so that recent_changes can name soft-deleted items and it may call private.history_chain_intact. Returns {project: {id, name, org_name}, counts, coverage: {covered, uncovered, total, coverage_percent, verified_count, verified_percent, by_status: {status: {count}}}, tests: {passed, failed, blocked, not-run, never_run} (each live test case''s latest result by run_at), recent_changes (last 10 history events, newest first, with item_id = key), history_intact}.';
revoke execute on function public.atoms_project_summary(text) from public, anon;
grant execute on function public.atoms_project_summary(text) to authenticated;

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
  suspects jsonb;
  req_status public.requirement_status;
begin
  perform private.require_project_role(pid, 'viewer');
  item_key := private.require_item_key(atoms_get_item.item_id, 'item_id');

  select i.* into it
  from public.items as i
  where i.project_id = pid and i.key = item_key and i.deleted_at is null;
  if not found then
    -- A deleted item is still not found; a member is told when and by whom it was deleted (error details).
    perform private.raise_item_not_found(pid, item_key, 'item');
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
    -- Newest run first (by when it ran; runs recorded before run_at existed ran when recorded); the 100 most
    -- recent runs (the full record stays in test_results and change_history).
    select coalesce(jsonb_agg(
      jsonb_build_object(
        'result', r.result,
        'note', r.note,
        'run_at', private.iso_utc(r.ran_at),
        'build', r.build,
        'executed_by', r.executed_by,
        'executed_by_id', r.executed_by_id,
        'evidence', r.evidence,
        'recorded_at', private.iso_utc(r.recorded_at),
        'recorded_by', r.recorded_by,
        'recorded_by_name', r.recorded_by_name,
        'recorded_by_email', r.recorded_by_email,
        'actor', r.actor
      ) order by r.ran_at desc, r.id desc
    ), '[]'::jsonb)
    into results
    from (
      select t.*, coalesce(t.run_at, t.recorded_at) as ran_at
      from public.test_results as t
      where t.item_id = it.id and t.project_id = pid
      order by coalesce(t.run_at, t.recorded_at) desc, t.id desc
      limit 100
    ) as r;
    latest := case
      when jsonb_array_length(results) > 0 then
        jsonb_build_object(
          'result', results -> 0 -> 'result',
          'note', results -> 0 -> 'note',
          'run_at', results -> 0 -> 'run_at',
          'build', results -> 0 -> 'build',
          'executed_by', results -> 0 -> 'executed_by',
          'evidence', results -> 0 -> 'evidence',
          'recorded_at', results -> 0 -> 'recorded_at'
        )
    end;
    doc := doc || jsonb_build_object(
      'status', latest -> 'result',
      'latest_result', latest,
      'test_results', results
    );
  end if;

  -- Open suspect flags of live links between live items where this item is either end.
  select coalesce(jsonb_agg(private.suspect_link_row(s) order by s.marked_at, o.key), '[]'::jsonb)
  into suspects
  from public.link_suspicions as s
  inner join public.item_links as l on s.link_id = l.id
  inner join public.items as o
    on o.id = case when l.source_item_id = it.id then l.target_item_id else l.source_item_id end
  where
    (l.source_item_id = it.id or l.target_item_id = it.id)
    and l.deleted_at is null
    and o.deleted_at is null
    and s.cleared_at is null;
  doc := doc || jsonb_build_object('suspect_links', suspects);

  if it.item_type = 'requirement' then
    req_status := private.requirement_status(it);
    doc := doc || jsonb_build_object('verification_status', req_status);
  end if;

  return doc;
end;
$$;

comment on function public.atoms_get_item(text, text) is
'atoms tool atoms_get_item (viewer; security invoker): one live item with tags, ownership, relationships (keys of live linked items), links [] (atoms stores no external links) and status (test case: latest result by run_at, else null); another tenant''s item is PT404, a soft-deleted one PT404 with {id, deleted_at, deleted_by} as DETAIL for members. Returns the item; test cases add latest_result and test_results (newest run first by run_at, at most 100, each with run_at, build, executed_by, executed_by_id, evidence, recorded_at, recorded_by, actor). Every item adds suspect_links [{from_id, to_id, type, link_kind, suspect_since, cause}] (open flags of its live links); a requirement adds verification_status (public.requirement_status); each test result names recorded_by with its recorded_by_name and recorded_by_email as they were.';
revoke execute on function public.atoms_get_item(text, text) from public, anon;
grant execute on function public.atoms_get_item(text, text) to authenticated;
