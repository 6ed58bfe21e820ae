-- One verification status per requirement, from its verifying test cases' latest results and its suspect links.
-- Rule (first match wins, in the order of the enum):
--   suspect   a live verification link to it is suspect (public.link_suspicions);
--   failing   a verifying test's latest result failed;
--   blocked   ... is blocked;
--   not_run   a verifying test has no result, or its latest is not-run;
--   stale     a verifying test's latest result ran before the requirement's last normative change;
--   verified  it has verifying tests and every one's latest result passed after that change;
--   uncovered no live test case verifies it.
-- "Latest" and "after" use when a run ran: coalesce(run_at, recorded_at) (test_results_item_id_run_at_idx); the
--   last normative change is coalesce(content_changed_at, created_at); a run at that very instant counts as after.
-- Objects: type public.requirement_status; private.verifying_tests (one row per live verifying test case of a
--   requirement, for the matrix), private.statuses_of (the status rule, set-based), private.requirement_status
--   (one requirement), private.requirement_statuses (a project's live requirements with their status),
--   private.verification_of (verified_count, verified_percent, by_status).
-- Security: security invoker, executable by authenticated and the RPC owner: they read under the caller's RLS; the
--   RPCs that call them check the project role first.

do $$
begin
  create type public.requirement_status as enum (
    'suspect', 'failing', 'blocked', 'not_run', 'stale', 'verified', 'uncovered'
  );
exception when duplicate_object then null;
end
$$;

comment on type public.requirement_status is
'atoms: verification status of a requirement, in precedence order (first match wins): suspect, failing, blocked, not_run, stale, verified, uncovered.';

create or replace function private.verifying_tests(requirement_id uuid)
returns table (
  link_id uuid,
  test_id uuid,
  test_key text,
  test_title text,
  suspect boolean,
  suspect_since timestamptz,
  result public.test_result,
  ran_at timestamptz,
  executed_by text,
  build text
)
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select
    l.id,
    t.id,
    t.key,
    t.title,
    s.id is not null,
    s.marked_at,
    lr.result,
    lr.ran_at,
    lr.executed_by,
    lr.build
  from public.item_links as l
  inner join public.items as t on l.source_item_id = t.id
  left join public.link_suspicions as s on l.id = s.link_id and s.cleared_at is null
  left join lateral (
    select r.result, coalesce(r.run_at, r.recorded_at) as ran_at, r.executed_by, r.build
    from public.test_results as r
    where r.item_id = t.id
    order by coalesce(r.run_at, r.recorded_at) desc, r.id desc
    limit 1
  ) as lr on true
  where
    l.target_item_id = verifying_tests.requirement_id
    and l.link_kind = 'verification'
    and l.deleted_at is null
    and t.deleted_at is null
    and t.item_type = 'test-case'
$$;

comment on function private.verifying_tests(uuid) is
'atoms: the live test cases verifying a requirement over live links: link and test ids, key, title, whether the link is suspect (and since when), and the test''s latest result by when it ran (result, ran_at, executed_by, build; null when never run). Index-backed per requirement.';
revoke execute on function private.verifying_tests(uuid) from public, anon;
grant execute on function private.verifying_tests(uuid) to authenticated, atoms_rpc_owner;

create or replace function private.statuses_of(requirement_ids uuid[])
returns table (
  item_id uuid,
  key text,
  title text,
  domains text[],
  level public.item_level,
  created_at timestamptz,
  content_changed_at timestamptz,
  status public.requirement_status
)
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  -- One set-based statement (planned once): per requirement, its live verifying test cases over live links, each
  -- link's open suspect flag and each test's latest run by when it ran, folded into the first matching status.
  select
    r.id,
    r.key,
    r.title,
    r.domains,
    r.level,
    r.created_at,
    coalesce(r.content_changed_at, r.created_at),
    case
      when v.test_count = 0 then 'uncovered'
      when v.any_suspect then 'suspect'
      when v.any_failed then 'failing'
      when v.any_blocked then 'blocked'
      when v.any_not_run then 'not_run'
      when v.any_stale then 'stale'
      else 'verified'
    end::public.requirement_status
  from public.items as r
  cross join lateral (
    select
      count(*) as test_count,
      coalesce(bool_or(s.id is not null), false) as any_suspect,
      coalesce(bool_or(lr.result = 'failed'), false) as any_failed,
      coalesce(bool_or(lr.result = 'blocked'), false) as any_blocked,
      coalesce(bool_or(lr.result is null or lr.result = 'not-run'), false) as any_not_run,
      coalesce(bool_or(lr.ran_at < coalesce(r.content_changed_at, r.created_at)), false) as any_stale
    from public.item_links as l
    inner join public.items as t on l.source_item_id = t.id
    left join public.link_suspicions as s on l.id = s.link_id and s.cleared_at is null
    left join lateral (
      select x.result, coalesce(x.run_at, x.recorded_at) as ran_at
      from public.test_results as x
      where x.item_id = t.id
      order by coalesce(x.run_at, x.recorded_at) desc, x.id desc
      limit 1
    ) as lr on true
    where
      l.target_item_id = r.id
      and l.link_kind = 'verification'
      and l.deleted_at is null
      and t.deleted_at is null
      and t.item_type = 'test-case'
  ) as v
  where r.id = any(statuses_of.requirement_ids) and r.deleted_at is null and r.item_type = 'requirement'
$$;

comment on function private.statuses_of(uuid[]) is
'atoms: the live requirements among requirement_ids with their last normative change coalesce(content_changed_at, created_at) and verification status (public.requirement_status, first match wins: suspect, failing, blocked, not_run, stale, verified, uncovered), from their live verifying test cases, open suspect flags and latest runs by run_at. The one home of the status rule.';
revoke execute on function private.statuses_of(uuid[]) from public, anon;
grant execute on function private.statuses_of(uuid[]) to authenticated, atoms_rpc_owner;

create or replace function private.requirement_status(requirement public.items)
returns public.requirement_status
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select q.status from private.statuses_of(array[requirement_status.requirement.id]) as q
$$;

comment on function private.requirement_status(public.items) is
'atoms: the verification status of one live requirement (private.statuses_of); null for anything else.';
revoke execute on function private.requirement_status(public.items) from public, anon;
grant execute on function private.requirement_status(public.items) to authenticated, atoms_rpc_owner;

create or replace function private.requirement_statuses(
  project_id uuid,
  domain text,
  level public.item_level
)
returns table (
  item_id uuid,
  key text,
  title text,
  domains text[],
  level public.item_level,
  created_at timestamptz,
  content_changed_at timestamptz,
  status public.requirement_status
)
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select q.*
  from private.statuses_of(array(
    select r.id
    from public.items as r
    where
      r.project_id = requirement_statuses.project_id
      and r.deleted_at is null
      and r.item_type = 'requirement'
      and (requirement_statuses.domain is null or requirement_statuses.domain = any(r.domains))
      and (requirement_statuses.level is null or r.level = requirement_statuses.level)
  )) as q
$$;

comment on function private.requirement_statuses(uuid, text, public.item_level) is
'atoms: a project''s live requirements (optional domain / level filter) with their last normative change and verification status (private.statuses_of).';
revoke execute on function private.requirement_statuses(uuid, text, public.item_level) from public, anon;
grant execute on function private.requirement_statuses(uuid, text, public.item_level) to authenticated, atoms_rpc_owner;

create or replace function private.verification_of(
  project_id uuid,
  domain text,
  level public.item_level,
  with_items boolean
) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  with statuses as (
    select q.key, q.created_at, q.status
    from private.requirement_statuses(verification_of.project_id, verification_of.domain, verification_of.level) as q
  ),

  per_status as (
    select
      e.status,
      (select count(*) from statuses as q where q.status = e.status) as n,
      case when verification_of.with_items then (
        select coalesce(jsonb_agg(f.key order by f.created_at, f.key), '[]'::jsonb)
        from (
          select q.key, q.created_at
          from statuses as q
          where q.status = e.status
          order by q.created_at, q.key
          limit 50
        ) as f
      ) end as first_keys
    from unnest(enum_range(null::public.requirement_status)) as e (status)
  ),

  totals as (
    select count(*) filter (where q.status = 'verified') as verified, count(*) as total
    from statuses as q
  )

  select jsonb_build_object(
    'verified_count', t.verified,
    'verified_percent', case when t.total = 0 then 0.0 else round(t.verified * 100.0 / t.total, 1) end,
    'by_status', (
      select jsonb_object_agg(
        p.status,
        jsonb_strip_nulls(jsonb_build_object('count', p.n, 'items', p.first_keys))
      )
      from per_status as p
    )
  )
  from totals as t
$$;

comment on function private.verification_of(uuid, text, public.item_level, boolean) is
'atoms: verification status of a project''s live requirements (optional domain / level filter): {verified_count, verified_percent (1 decimal, 0.0 without requirements), by_status: {status: {count, items?}}} with every status present; with_items adds the first 50 keys per status (oldest first; atoms_trace_matrix pages through the rest).';
revoke execute on function private.verification_of(uuid, text, public.item_level, boolean) from public, anon;
grant execute on function private.verification_of(uuid, text, public.item_level, boolean) to authenticated, atoms_rpc_owner;
