-- Verification of the per-project history hash chain.
-- Objects: private.history_first_break (walks the chain, names the first broken link), private.history_chain_intact.
-- Security: security invoker: they read change_history and history_chain_heads under the caller's RLS (members
--   of the project's organisation; the RPC owner with the caller's auth.uid(); owner/superuser all rows).
--   public.atoms_verify_history (rpc_admin migration) is the API entry point.

-- ---- helpers ----
create or replace function private.history_first_break(project_id uuid)
returns table (checked_rows bigint, chain_seq bigint, id bigint, changed_at timestamptz, reason text)
language sql stable security invoker set search_path = ''
as $$
  -- Security invoker: reads only the rows the caller's RLS lets it see (owner/superuser: all).
  with chain as (
    select
      h.id,
      h.chain_seq,
      h.changed_at,
      h.prev_hash,
      h.row_hash,
      private.history_row_hash(
        h.prev_hash, h.project_id, h.chain_seq, h.event_type, h.item_id, h.changed_by, h.changed_at, h.actor,
        h.session_id, h.client_name, h.fields_changed, h.old_values, h.new_values
      ) as computed_hash,
      lag(h.chain_seq) over w as before_seq,
      lag(h.row_hash) over w as before_hash
    from public.change_history as h
    where h.project_id = history_first_break.project_id
    window w as (order by h.chain_seq)
  ),
  breaks as (
    select
      c.chain_seq,
      c.id,
      c.changed_at,
      case
        when c.chain_seq <> coalesce(c.before_seq, 0) + 1 then 'chain_seq gap: expected ' || (coalesce(c.before_seq, 0) + 1)
        when c.prev_hash <> coalesce(c.before_hash, repeat('0', 64)) then 'prev_hash does not match the previous row''s row_hash'
        when c.row_hash <> c.computed_hash then 'row_hash does not match the row''s contents'
      end as reason
    from chain as c
  ),
  head as (
    select hd.last_seq, hd.last_hash
    from private.history_chain_heads as hd
    where hd.project_id = history_first_break.project_id
  ),
  tail as (
    select c.chain_seq, c.row_hash from chain as c order by c.chain_seq desc limit 1
  ),
  first_break as (
    select b.chain_seq, b.id, b.changed_at, b.reason
    from breaks as b
    where b.reason is not null
    order by b.chain_seq
    limit 1
  ),
  tail_break as (
    select
      coalesce(t.chain_seq, 0) + 1 as chain_seq,
      null::bigint as id,
      null::timestamptz as changed_at,
      'rows missing at the end of the chain: the chain head records ' || hd.last_seq || ' rows' as reason
    from head as hd
    left join tail as t on true
    where hd.last_seq <> coalesce(t.chain_seq, 0) or hd.last_hash <> coalesce(t.row_hash, repeat('0', 64))
  )
  select
    (select count(*) from chain) as checked_rows,
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

comment on function private.history_first_break(uuid) is
'atoms: walks a project''s history chain (gap-free chain_seq, prev_hash links, recomputed row_hash, chain head) and returns the rows checked and the first broken link (all null when intact). Security invoker.';
revoke execute on function private.history_first_break(uuid) from public, anon;
grant execute on function private.history_first_break(uuid) to authenticated, service_role, atoms_rpc_owner;

create or replace function private.history_chain_intact(project_id uuid) returns boolean
language sql stable security invoker set search_path = ''
as $$
  select b.reason is null from private.history_first_break(history_chain_intact.project_id) as b
$$;

comment on function private.history_chain_intact(uuid) is
'atoms: true when the project''s history hash chain verifies end to end (see private.history_first_break). Security invoker: call it from an RPC owned by atoms_rpc_owner.';
revoke execute on function private.history_chain_intact(uuid) from public, anon;
grant execute on function private.history_chain_intact(uuid) to authenticated, service_role, atoms_rpc_owner;
