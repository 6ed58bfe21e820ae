-- Per-user rate limiter: an exact sliding-window log, one bounded row per (user, limit, window).
-- Objects: private.check_rate_limit (clock as a parameter; RPC owner only), public.atoms_check_rate_limit (callers;
--   wall clock), private.prune_rate_limit_buckets (job). The state table private.rate_limit_buckets: core_tables.
-- Algorithm: the row holds the allowed requests' timestamps newer than now - window, ascending, at most "limit"
--   (pruned in the same call). Allowed iff fewer than "limit" remain; then now is appended. Refused calls store
--   nothing; retry_after_seconds = ceil(oldest + window - now) >= 1. Exact (zero error, unlike a two-window
--   counter), O(limit) bytes per bucket. The row lock is taken before the clock is read, so one user's
--   concurrent calls serialise and no two take the last slot; users never share a row.
-- Security: identity is auth.uid() only. Buckets are keyed by (user, limit, window), so other parameters sent
--   through PostgREST open another bucket of one's own and never reset the one the MCP server enforces; at most
--   8 live buckets per user. UNLOGGED: no WAL and no fsync per check; a crash or failover empties the table, so
--   every window restarts once (ephemeral state, no audit data here).

-- ---- helpers ----
create or replace function private.check_rate_limit(
  out allowed boolean,
  inout "limit" integer,
  window_seconds integer,
  at timestamptz,
  out remaining integer,
  out retry_after_seconds integer
) returns setof record
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
rows 1
as $$
declare
  caller uuid := (select private.caller_id());
  span interval;
  stored timestamptz[];
  live timestamptz[];
  checked_at timestamptz;
  live_count integer;
  bucket_count integer;
begin
  if caller is null then
    raise exception 'not authenticated: the rate limit applies to a signed-in user'
      using errcode = '28000', hint = 'Sign in (atoms login) or pass a valid access token.';
  end if;
  perform private.require_int_range(check_rate_limit."limit", 'limit', 1, 10000);
  perform private.require_int_range(check_rate_limit.window_seconds, 'window_seconds', 1, 86400);
  span := make_interval(secs => check_rate_limit.window_seconds);

  -- Hot path: the bucket exists; its row lock serialises this user's concurrent checks.
  select b.hits into stored
  from private.rate_limit_buckets as b
  where b.user_id = caller
    and b.max_requests = check_rate_limit."limit"
    and b.window_seconds = check_rate_limit.window_seconds
  for update;

  if not found then
    -- First use of this (limit, window): serialise bucket creation per user, drop the user's idle
    -- buckets, enforce the per-user bucket cap, then create and lock the row.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('atoms.rate_limit:' || caller::text, 0));
    checked_at := coalesce(check_rate_limit.at, pg_catalog.clock_timestamp());
    delete from private.rate_limit_buckets as b
    where b.user_id = caller
      and b.newest_hit_at <= checked_at - make_interval(secs => b.window_seconds);
    select count(*)::integer into bucket_count
    from private.rate_limit_buckets as b
    where b.user_id = caller;
    if bucket_count >= 8 then
      raise exception 'rate limited: at most 8 different (limit, window_seconds) policies may be in use per user at once'
        using errcode = 'PT429', hint = 'Use one rate-limit policy; an unused policy frees after its window.';
    end if;
    insert into private.rate_limit_buckets (user_id, max_requests, window_seconds, newest_hit_at)
    values (caller, check_rate_limit."limit", check_rate_limit.window_seconds, checked_at)
    on conflict on constraint rate_limit_buckets_pkey do nothing;
    select b.hits into strict stored
    from private.rate_limit_buckets as b
    where b.user_id = caller
      and b.max_requests = check_rate_limit."limit"
      and b.window_seconds = check_rate_limit.window_seconds
    for update;
  end if;

  -- The clock is read after the lock, so stored hits are never newer than a later caller's "now".
  checked_at := coalesce(check_rate_limit.at, pg_catalog.clock_timestamp());
  live := array(
    select h.hit
    from unnest(stored) with ordinality as h (hit, position)
    where h.hit > checked_at - span
    order by h.position
  );
  live_count := cardinality(live);

  if live_count < check_rate_limit."limit" then
    if live_count > 0 and live[live_count] > checked_at then
      -- Only a clock that went backwards (or an explicit test time) lands here: keep the log sorted.
      live := array(select h.hit from unnest(live || checked_at) as h (hit) order by h.hit);
    else
      live := live || checked_at;
    end if;
    update private.rate_limit_buckets as b
    set hits = live, newest_hit_at = greatest(b.newest_hit_at, checked_at)
    where b.user_id = caller
      and b.max_requests = check_rate_limit."limit"
      and b.window_seconds = check_rate_limit.window_seconds;
    allowed := true;
    remaining := check_rate_limit."limit" - live_count - 1;
    retry_after_seconds := 0;
  else
    if live_count < cardinality(stored) then
      update private.rate_limit_buckets as b
      set hits = live
      where b.user_id = caller
        and b.max_requests = check_rate_limit."limit"
        and b.window_seconds = check_rate_limit.window_seconds;
    end if;
    allowed := false;
    remaining := 0;
    -- The slot frees when the oldest hit that still fills the limit leaves the window.
    retry_after_seconds := greatest(
      1,
      ceil(extract(epoch from live[live_count - check_rate_limit."limit" + 1] + span - checked_at))
    )::integer;
  end if;
  return next;
end;
$$;

comment on function private.check_rate_limit(integer, integer, timestamptz) is
'atoms: exact sliding-window rate limit for the calling user (auth.uid()). Time "at" is for tests; null = clock_timestamp() read after the bucket''s row lock. Records the request when allowed. 28000 unauthenticated, 22023 bad limit/window, PT429 when the user already has 8 live policies.';
revoke execute on function private.check_rate_limit(integer, integer, timestamptz) from public, anon;
grant execute on function private.check_rate_limit(integer, integer, timestamptz) to atoms_rpc_owner;

create or replace function private.prune_rate_limit_buckets() returns integer
language sql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
  with pruned as (
    delete from private.rate_limit_buckets as b
    where b.newest_hit_at <= pg_catalog.clock_timestamp() - make_interval(secs => b.window_seconds)
    returning 1
  )
  select count(*)::integer from pruned
$$;

comment on function private.prune_rate_limit_buckets() is
'atoms: delete rate-limit buckets whose newest hit left their window (users who stopped calling). Owner-only; schedule with pg_cron, e.g. hourly: select cron.schedule(''atoms-prune-rate-limits'', ''17 * * * *'', ''select private.prune_rate_limit_buckets()'').';
revoke execute on function private.prune_rate_limit_buckets() from public, anon;

-- ---- RPCs ----
create or replace function public.atoms_check_rate_limit(
  out allowed boolean,
  inout "limit" integer default 60,
  window_seconds integer default 60,
  out remaining integer,
  out retry_after_seconds integer
) returns setof record
language sql volatile security definer set search_path = pg_catalog, pg_temp
rows 1
as $$
  select r.allowed, r."limit", r.remaining, r.retry_after_seconds
  from private.check_rate_limit(atoms_check_rate_limit."limit", atoms_check_rate_limit.window_seconds, null) as r
$$;

alter function public.atoms_check_rate_limit(integer, integer) owner to atoms_rpc_owner;
comment on function public.atoms_check_rate_limit(integer, integer) is
'atoms: count one request of the calling user against a sliding window of "limit" requests per window_seconds (defaults 60/60) and return (allowed, limit, remaining, retry_after_seconds). Call it in its own transaction before the work it guards (POST through PostgREST: it writes). Wall clock only.';
revoke execute on function public.atoms_check_rate_limit(integer, integer) from public, anon;
grant execute on function public.atoms_check_rate_limit(integer, integer) to authenticated;
