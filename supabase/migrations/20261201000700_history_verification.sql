-- Verification of the history hash chains.
-- Objects: private.history_chain_checks (every row of a chain with its check), private.history_first_break (the
--   first broken link), private.history_chain_intact. public.atoms_verify_history (rpc_read_summary migration) is
--   the API entry point.
-- Method: the chain of (scope, scope_id) is walked from chain_seq 1 through its unique index, every row's hash
--   recomputed (dispatching on its hash_version) from the recomputed hash of the row before it, never from the
--   stored prev_hash: one altered row breaks its own check and every later row's. The chain head then tells
--   whether rows are missing at the end.
-- Security: security invoker: they read change_history and history_chain_heads under the caller's RLS (members of
--   the project's organisation; the RPC owner with the caller's auth.uid(); owner/superuser all rows).

-- ---- helpers ----
create or replace function private.history_chain_checks(scope public.history_scope, scope_id uuid)
returns table (chain_seq bigint, id bigint, changed_at timestamptz, expected_hash text, reason text)
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  with recursive walk (position, row_id, expected_prev, expected_hash) as (
    select 1::bigint, h.id, repeat('0', 64), private.history_row_hash(repeat('0', 64), h)
    from public.change_history as h
    where h.scope = history_chain_checks.scope and h.scope_id = history_chain_checks.scope_id and h.chain_seq = 1
    union all
    select w.position + 1, h.id, w.expected_hash, private.history_row_hash(w.expected_hash, h)
    from walk as w
    inner join public.change_history as h
      on
        h.scope = history_chain_checks.scope
        and h.scope_id = history_chain_checks.scope_id
        and h.chain_seq = w.position + 1
  ),

  walked as (
    select coalesce(max(w.position), 0) as last_position from walk as w
  )

  select
    h.chain_seq,
    h.id,
    h.changed_at,
    w.expected_hash,
    case
      when w.row_id is null then 'chain_seq gap: expected ' || (k.last_position + 1)
      when w.expected_prev is null then 'follows a row whose hash could not be recomputed'
      when h.prev_hash <> w.expected_prev then 'prev_hash does not match the previous row''s recomputed row_hash'
      when w.expected_hash is null then 'hash_version ' || h.hash_version || ' is not known to this database'
      when h.row_hash <> w.expected_hash then 'row_hash does not match the row''s contents'
    end as reason
  from public.change_history as h
  cross join walked as k
  left join walk as w on h.id = w.row_id
  where h.scope = history_chain_checks.scope and h.scope_id = history_chain_checks.scope_id
  order by h.chain_seq
$$;

comment on function private.history_chain_checks(public.history_scope, uuid) is
'atoms: every row of the chain (scope, scope_id) in chain order with its recomputed hash and, when it fails, why (gap, unknown hash_version, prev_hash, row_hash). Hashes are recomputed from the recomputed predecessor, so a tampered row fails and so does every row after it. Security invoker.';
revoke execute on function private.history_chain_checks(public.history_scope, uuid) from public, anon;
grant execute on function private.history_chain_checks(public.history_scope, uuid) to authenticated, service_role, atoms_rpc_owner;

create or replace function private.history_first_break(scope public.history_scope, scope_id uuid)
returns table (checked_rows bigint, chain_seq bigint, id bigint, changed_at timestamptz, reason text)
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  with checks as materialized (
    select c.chain_seq, c.id, c.changed_at, c.expected_hash, c.reason
    from private.history_chain_checks(history_first_break.scope, history_first_break.scope_id) as c
  ),

  first_break as (
    select c.chain_seq, c.id, c.changed_at, c.reason
    from checks as c
    where c.reason is not null
    order by c.chain_seq
    limit 1
  ),

  tail as (
    select c.chain_seq, c.expected_hash from checks as c order by c.chain_seq desc limit 1
  ),

  tail_break as (
    select
      coalesce(t.chain_seq, 0) + 1 as chain_seq,
      null::bigint as id,
      null::timestamptz as changed_at,
      'rows missing at the end of the chain: the chain head records ' || hd.last_seq || ' rows' as reason
    from private.history_chain_heads as hd
    left join tail as t on true
    where
      hd.scope = history_first_break.scope
      and hd.scope_id = history_first_break.scope_id
      and (hd.last_seq <> coalesce(t.chain_seq, 0) or hd.last_hash <> coalesce(t.expected_hash, repeat('0', 64)))
  )

  select
    (select count(*) from checks) as checked_rows,
    x.chain_seq,
    x.id,
    x.changed_at,
    x.reason
  from (select 1) as one
  left join lateral (
    select f.chain_seq, f.id, f.changed_at, f.reason from first_break as f
    union all
    select tb.chain_seq, tb.id, tb.changed_at, tb.reason from tail_break as tb
    where not exists (select 1 from first_break)
  ) as x on true
$$;

comment on function private.history_first_break(public.history_scope, uuid) is
'atoms: verifies the chain (scope, scope_id) (private.history_chain_checks, then the chain head) and returns the rows checked and the first broken link (all null when intact). Security invoker.';
revoke execute on function private.history_first_break(public.history_scope, uuid) from public, anon;
grant execute on function private.history_first_break(public.history_scope, uuid) to authenticated, service_role, atoms_rpc_owner;

create or replace function private.history_chain_intact(scope public.history_scope, scope_id uuid) returns boolean
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select b.reason is null from private.history_first_break(history_chain_intact.scope, history_chain_intact.scope_id) as b
$$;

comment on function private.history_chain_intact(public.history_scope, uuid) is
'atoms: true when the chain (scope, scope_id) verifies end to end (see private.history_first_break). Security invoker: call it from an RPC owned by atoms_rpc_owner.';
revoke execute on function private.history_chain_intact(public.history_scope, uuid) from public, anon;
grant execute on function private.history_chain_intact(public.history_scope, uuid) to authenticated, service_role, atoms_rpc_owner;
