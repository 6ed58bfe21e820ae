-- History: reasons in every row a call writes, results' evidence in test_recorded events, and an item's history
-- read from both ends of its links, paginated.
-- Objects (replaced): private.append_history (copies atoms.change_reason into reason), private.record_test_result_change
--   (run_at, build, executed_by, evidence in new_values), private.history_event (reason), public.atoms_get_history
--   (link events where the item is the target too; limit/offset with the {data, meta} envelope).
-- Security: as before. append_history runs with the rights of the definer history triggers; atoms_get_history is
--   security definer owned by atoms_rpc_owner (its caller-keyed policies see soft-deleted items).

create or replace function private.append_history(
  org_id uuid,
  project_id uuid,
  item_id uuid,
  event_type public.history_event_type,
  fields_changed text[],
  old_values jsonb,
  new_values jsonb
) returns void
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  entry public.change_history;
begin
  entry.scope := 'project';
  entry.scope_id := append_history.project_id;
  entry.org_id := append_history.org_id;
  entry.project_id := append_history.project_id;
  entry.item_id := append_history.item_id;
  entry.event_type := append_history.event_type;
  entry.changed_by := (select auth.uid());
  entry.actor := private.current_actor();
  entry.session_id := private.current_session_id();
  entry.client_name := private.current_client_name();
  entry.fields_changed := append_history.fields_changed;
  entry.old_values := append_history.old_values;
  entry.new_values := append_history.new_values;
  -- Set by the write RPC in its own body (private.require_change_reason); '' or unset: no reason.
  entry.reason := nullif(current_setting('atoms.change_reason', true), '');
  entry.hash_version := 1;

  -- A missing head (first write, or rows loaded directly) continues from the chain's stored tail.
  insert into private.history_chain_heads (scope, scope_id, last_seq, last_hash)
  select entry.scope, entry.scope_id, coalesce(t.chain_seq, 0), coalesce(t.row_hash, repeat('0', 64))
  from (select 1) as one
  left join lateral (
    select h.chain_seq, h.row_hash
    from public.change_history as h
    where h.scope = entry.scope and h.scope_id = entry.scope_id
    order by h.chain_seq desc
    limit 1
  ) as t on true
  on conflict on constraint history_chain_heads_pkey do nothing;

  -- The head's row lock serialises the chain's writers: one order per chain, gap-free, in commit order.
  select c.last_seq + 1, c.last_hash into entry.chain_seq, entry.prev_hash
  from private.history_chain_heads as c
  where c.scope = entry.scope and c.scope_id = entry.scope_id
  for update;

  -- Taken after the head lock: changed_at follows chain (= commit) order.
  entry.changed_at := clock_timestamp();
  entry.id := nextval(pg_get_serial_sequence('public.change_history', 'id')::regclass);
  entry.row_hash := private.history_row_hash(entry.prev_hash, entry);
  -- Every column of the hashed row is inserted as it was hashed.
  insert into public.change_history overriding system value select (entry).*;

  update private.history_chain_heads as c
  set last_seq = entry.chain_seq, last_hash = entry.row_hash
  where c.scope = entry.scope and c.scope_id = entry.scope_id;
end;
$$;

comment on function private.append_history(uuid, uuid, uuid, public.history_event_type, text[], jsonb, jsonb) is
'atoms: the only writer of change_history (security invoker; runs with the rights of the definer history triggers). Locks the chain head of (project, project_id), appends the next row (actor, session and client from the session; reason from atoms.change_reason, which a write RPC sets locally in its own body after private.require_change_reason; hash_version 1) and advances the head. Called by the history triggers only.';

create or replace function private.record_test_result_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  src public.items;
begin
  select * into src from public.items as i where i.id = new.item_id;
  perform private.append_history(
    new.org_id, new.project_id, new.item_id, 'test_recorded', array['result'], null,
    jsonb_build_object(
      'id', src.key, 'result_id', new.id, 'result', new.result, 'note', new.note, 'recorded_at', new.recorded_at,
      'run_at', new.run_at, 'build', new.build, 'executed_by', new.executed_by, 'executed_by_id', new.executed_by_id,
      'evidence', new.evidence
    )
  );
  return null;
end;
$$;

comment on function private.record_test_result_change() is
'atoms: AFTER INSERT row trigger on test_results: appends the change_history row of a recorded run (test_recorded) with its result, note, recorded_at and the evidence fields run_at, build, executed_by(_id), evidence.';

create or replace function private.history_event(h public.change_history) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'event_type', h.event_type,
    'changed_by', h.changed_by,
    'changed_at', private.iso_utc(h.changed_at),
    'actor', h.actor,
    'session_id', h.session_id,
    'fields_changed', to_jsonb(h.fields_changed),
    'old_values', h.old_values,
    'new_values', h.new_values,
    'reason', h.reason
  )
$$;

comment on function private.history_event(public.change_history) is
'atoms: one change_history row as the history tools show it (event_type, changed_by, changed_at in UTC, actor, session_id, fields_changed, old_values, new_values, reason).';

drop function if exists public.atoms_get_history(text, text, integer);

create or replace function public.atoms_get_history(
  project_id text,
  item_id text,
  "limit" integer default 20,
  "offset" integer default 0
) returns jsonb
language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  pid uuid := private.require_uuid(atoms_get_history.project_id, 'project_id');
  item_key text;
  page_limit integer;
  page_offset integer;
  iid uuid;
  total bigint;
  events jsonb;
begin
  perform private.require_project_role(pid, 'viewer');
  item_key := private.require_item_key(atoms_get_history.item_id, 'item_id');
  page_limit := private.require_int_range(atoms_get_history."limit", 'limit', 1, 100);
  page_offset := private.require_int_range(atoms_get_history."offset", 'offset', 0, 2147483647);

  -- Soft-deleted items included: the RPC owner's policy reads the caller's items, deleted or not.
  select i.id into iid
  from public.items as i
  where i.project_id = pid and i.key = item_key;
  if iid is null then
    raise exception 'item % not found in project %', item_key, pid
      using errcode = 'PT404', hint = 'Call atoms_list_items or atoms_search to find item keys.';
  end if;

  -- The item's own rows (links are stored under their source) and the link events where it is the target.
  select count(*) into total
  from (
    select ch.id
    from public.change_history as ch
    where ch.item_id = iid and ch.project_id = pid
    union all
    select ch.id
    from public.change_history as ch
    where
      coalesce(ch.new_values ->> 'target_item_id', ch.old_values ->> 'target_item_id') = iid::text
      and ch.event_type in ('linked', 'unlinked')
      and ch.project_id = pid
  ) as e;

  select coalesce(jsonb_agg(
    private.history_event(h) order by h.changed_at desc, h.chain_seq desc
  ), '[]'::jsonb)
  into events
  from (
    select e.*
    from (
      (
        select ch.*
        from public.change_history as ch
        where ch.item_id = iid and ch.project_id = pid
        order by ch.changed_at desc, ch.chain_seq desc
        limit page_limit::bigint + page_offset
      )
      union all
      (
        select ch.*
        from public.change_history as ch
        where
          coalesce(ch.new_values ->> 'target_item_id', ch.old_values ->> 'target_item_id') = iid::text
          and ch.event_type in ('linked', 'unlinked')
          and ch.project_id = pid
        order by ch.changed_at desc, ch.chain_seq desc
        limit page_limit::bigint + page_offset
      )
    ) as e
    order by e.changed_at desc, e.chain_seq desc
    limit page_limit offset page_offset
  ) as h;

  return private.page_envelope(events, total, page_limit, page_offset);
end;
$$;

alter function public.atoms_get_history(text, text, integer, integer) owner to atoms_rpc_owner;
comment on function public.atoms_get_history(text, text, integer, integer) is
'atoms tool atoms_get_history (viewer; security definer): change history of one item, newest first (chain order within a transaction): its own events and the link events where it is either end (a link is stored under its source item), each with its reason; works for soft-deleted items, which only the RPC owner''s caller-keyed policy sees; limit 1-100 (20), offset >= 0. Returns {data: [event], meta: {total_count, limit, offset, has_more}}.';
revoke execute on function public.atoms_get_history(text, text, integer, integer) from public, anon;
grant execute on function public.atoms_get_history(text, text, integer, integer) to authenticated;
