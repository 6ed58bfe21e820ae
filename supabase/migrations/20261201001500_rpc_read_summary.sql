-- Read RPCs atoms_get_coverage, atoms_project_summary and atoms_verify_history (+ helper private.coverage_of).
-- Covered = a live requirement with at least one live verification link from a live test case;
--   coverage_percent has one decimal, and a project (or filter) with no requirements is 0.0, not an error.
-- Security: atoms_get_coverage is security invoker (authenticated policies). atoms_project_summary and
--   atoms_verify_history are security definer owned by atoms_rpc_owner: recent_changes must name items that were
--   soft-deleted since (the RPC owner's caller-keyed policy sees them), and the chain is read under the RPC
--   owner's policies (viewer and up) through private.history_first_break.

create or replace function private.coverage_of(
  project_id uuid,
  domain text,
  level public.item_level,
  with_items boolean
) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  with requirements as (
    select
      r.id,
      r.key,
      r.title,
      r.item_type,
      r.domains,
      r.level,
      r.created_at,
      exists (
        select 1
        from public.item_links as l
        inner join public.items as t on l.source_item_id = t.id
        where
          l.target_item_id = r.id
          and l.deleted_at is null
          and l.link_kind = 'verification'
          and t.deleted_at is null
          and t.item_type = 'test-case'
      ) as covered
    from public.items as r
    where
      r.project_id = coverage_of.project_id
      and r.deleted_at is null
      and r.item_type = 'requirement'
      and (coverage_of.domain is null or coverage_of.domain = any(r.domains))
      and (coverage_of.level is null or r.level = coverage_of.level)
  ),

  totals as (
    select
      count(*) filter (where q.covered) as covered,
      count(*) filter (where not q.covered) as uncovered,
      count(*) as total
    from requirements as q
  )

  select jsonb_build_object(
    'covered', s.covered,
    'uncovered', s.uncovered,
    'total', s.total,
    'coverage_percent', case when s.total = 0 then 0.0 else round(s.covered * 100.0 / s.total, 1) end
  )
  || case when coverage_of.with_items then jsonb_build_object('uncovered_items', (
    -- The 500 oldest uncovered requirements; 'uncovered' counts them all.
    select coalesce(jsonb_agg(
      jsonb_build_object('id', u.key, 'title', u.title, 'type', u.item_type, 'domains', to_jsonb(u.domains), 'level', u.level)
      order by u.created_at, u.key
    ), '[]'::jsonb)
    from (
      select q.key, q.title, q.item_type, q.domains, q.level, q.created_at
      from requirements as q
      where not q.covered
      order by q.created_at, q.key
      limit 500
    ) as u
  )) else '{}'::jsonb end
  from totals as s
$$;

comment on function private.coverage_of(uuid, text, public.item_level, boolean) is
'atoms: verification coverage of a project''s live requirements (optional domain / level filter): {covered, uncovered, total, coverage_percent} and, with_items, uncovered_items (the 500 oldest). Security invoker: callers check the project role first.';
revoke execute on function private.coverage_of(uuid, text, public.item_level, boolean) from public, anon;
grant execute on function private.coverage_of(uuid, text, public.item_level, boolean) to authenticated, atoms_rpc_owner;

-- ---- RPCs ----
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
  return private.coverage_of(pid, filter_domain, filter_level, true);
end;
$$;

comment on function public.atoms_get_coverage(text, text, text) is
'atoms tool atoms_get_coverage (STABLE): {covered, uncovered, total, coverage_percent (1 decimal, 0.0 without requirements), uncovered_items [{id, title, type, domains, level}] (oldest first, at most 500)}. Covered = at least one live test case verifies it over a live link. Security invoker.';
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

  -- Each live test case counted once, by its latest result (never run: no result at all).
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
    order by r.recorded_at desc, r.id desc
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
    'coverage', private.coverage_of(pid, null, null, false),
    'tests', tests,
    'recent_changes', changes,
    'history_intact', private.history_chain_intact('project', pid)
  );
end;
$$;

alter function public.atoms_project_summary(text) owner to atoms_rpc_owner;
comment on function public.atoms_project_summary(text) is
'atoms tool atoms_project_summary (STABLE): {project {id, name, org_name}, counts, coverage {covered, uncovered, total, coverage_percent}, tests {passed, failed, blocked, not-run, never_run} by each live test case''s latest result, recent_changes (last 10 history events, newest first, with item_id = key), history_intact}. Security definer owned by atoms_rpc_owner: names soft-deleted items in recent_changes and calls private.history_chain_intact.';
revoke execute on function public.atoms_project_summary(text) from public, anon;
grant execute on function public.atoms_project_summary(text) to authenticated;

create or replace function public.atoms_verify_history(project_id text) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_verify_history.project_id, 'project_id');
  outcome record;
begin
  perform private.require_project_role(project, 'viewer');
  select * into outcome from private.history_first_break('project', project);
  return jsonb_build_object(
    'intact', outcome.reason is null,
    'checked_rows', outcome.checked_rows,
    'first_broken', case when outcome.reason is not null then jsonb_build_object(
      'chain_seq', outcome.chain_seq, 'id', outcome.id, 'changed_at', outcome.changed_at, 'reason', outcome.reason
    ) end
  );
end;
$$;

comment on function public.atoms_verify_history(text) is
'atoms RPC atoms_verify_history (viewer and up): recomputes the project''s history hash chain. Returns {intact, checked_rows, first_broken: null | {chain_seq, id, changed_at, reason}}.';
alter function public.atoms_verify_history(text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_verify_history(text) from public, anon;
grant execute on function public.atoms_verify_history(text) to authenticated;
