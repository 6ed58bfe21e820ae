-- Change history (actor-tagged, append-only, hash-chained per project) and the append-only guards of every table
-- that keeps the record.
-- Objects: private.refuse_physical_delete and private.refuse_update (the one pair of guard trigger functions) and
--   their triggers on items, item_links, test_results, change_history, mcp_audit_log and history_chain_heads;
--   private.history_row_hash, private.append_history, private.item_snapshot, private.record_change and its row
--   triggers on items, item_links and test_results. Verification of the chain: the history_verification migration.
-- Security: the guards fire for every role, the table owner and service_role included (only a superuser who
--   switches session_replication_role to replica can bypass them, which is itself an audited act). record_change
--   is security definer (owned by the migration runner) so it writes history and the chain head whatever the
--   caller's RLS; nobody else holds INSERT on change_history. actor is 'user' unless the session logged in as
--   atoms_mcp_gateway (only that path may claim mcp_<client>).

-- ---- append-only guards ----
create or replace function private.refuse_physical_delete() returns trigger
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception '% on %.% is not allowed: atoms keeps every row (use the soft-delete RPCs, e.g. atoms_delete_item)',
    lower(tg_op), tg_table_schema, tg_table_name
    using errcode = '42501',
    hint = 'Items and links are soft-deleted (deleted_at/deleted_by); test results, history and audit records are append-only.';
end;
$$;

comment on function private.refuse_physical_delete() is
'atoms: trigger function that refuses DELETE (row or statement trigger) and TRUNCATE (statement trigger) with 42501 for every role. Attach it to any append-only or soft-delete table.';
revoke execute on function private.refuse_physical_delete() from public, anon;

create or replace function private.refuse_update() returns trigger
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  raise exception 'update on %.% is not allowed: rows are append-only', tg_table_schema, tg_table_name
    using errcode = '42501', hint = 'Record a new row instead (e.g. atoms_record_test_result).';
end;
$$;

comment on function private.refuse_update() is 'atoms: trigger function that refuses UPDATE with 42501 for every role (append-only tables).';
revoke execute on function private.refuse_update() from public, anon;

-- items and item_links: soft-deleted, never removed.
create or replace trigger items_refuse_delete
before delete on public.items
for each row execute function private.refuse_physical_delete();

create or replace trigger items_refuse_truncate
before truncate on public.items
for each statement execute function private.refuse_physical_delete();

create or replace trigger item_links_refuse_delete
before delete on public.item_links
for each row execute function private.refuse_physical_delete();

create or replace trigger item_links_refuse_truncate
before truncate on public.item_links
for each statement execute function private.refuse_physical_delete();

comment on trigger items_refuse_delete on public.items is 'atoms: items are soft-deleted (atoms_delete_item), never removed.';
comment on trigger items_refuse_truncate on public.items is 'atoms: items are never removed, not even in bulk.';
comment on trigger item_links_refuse_delete on public.item_links is 'atoms: links are soft-deleted (atoms_link_items action remove), never removed.';
comment on trigger item_links_refuse_truncate on public.item_links is 'atoms: links are never removed, not even in bulk.';

-- test_results, change_history and history_chain_heads: append-only.
create or replace trigger test_results_refuse_delete
before delete on public.test_results
for each row execute function private.refuse_physical_delete();

create or replace trigger test_results_refuse_truncate
before truncate on public.test_results
for each statement execute function private.refuse_physical_delete();

create or replace trigger change_history_refuse_delete
before delete on public.change_history
for each row execute function private.refuse_physical_delete();

create or replace trigger change_history_refuse_truncate
before truncate on public.change_history
for each statement execute function private.refuse_physical_delete();

create or replace trigger change_history_refuse_update
before update on public.change_history
for each row execute function private.refuse_update();

create or replace trigger test_results_refuse_update
before update on public.test_results
for each row execute function private.refuse_update();

create or replace trigger history_chain_heads_refuse_delete
before delete on private.history_chain_heads
for each row execute function private.refuse_physical_delete();

create or replace trigger history_chain_heads_refuse_truncate
before truncate on private.history_chain_heads
for each statement execute function private.refuse_physical_delete();

comment on trigger test_results_refuse_delete on public.test_results is 'atoms: test results are append-only.';
comment on trigger test_results_refuse_truncate on public.test_results is 'atoms: test results are append-only.';
comment on trigger change_history_refuse_delete on public.change_history is 'atoms: history is append-only.';
comment on trigger change_history_refuse_truncate on public.change_history is 'atoms: history is append-only.';

comment on trigger change_history_refuse_update on public.change_history is 'atoms: history is append-only, for every role.';
comment on trigger test_results_refuse_update on public.test_results is 'atoms: test results are append-only, for every role.';
comment on trigger history_chain_heads_refuse_delete on private.history_chain_heads is
'atoms: a chain head is never removed (it is what detects a truncated history tail).';
comment on trigger history_chain_heads_refuse_truncate on private.history_chain_heads is 'atoms: chain heads are never removed.';

-- mcp_audit_log: statement-level guards, so even a statement that matches no row is refused.
create or replace trigger mcp_audit_log_refuse_update
before update on public.mcp_audit_log
for each statement execute function private.refuse_update();

create or replace trigger mcp_audit_log_refuse_delete
before delete on public.mcp_audit_log
for each statement execute function private.refuse_physical_delete();

create or replace trigger mcp_audit_log_refuse_truncate
before truncate on public.mcp_audit_log
for each statement execute function private.refuse_physical_delete();

comment on trigger mcp_audit_log_refuse_update on public.mcp_audit_log is 'atoms: audit records are never changed.';
comment on trigger mcp_audit_log_refuse_delete on public.mcp_audit_log is 'atoms: audit records are never removed.';
comment on trigger mcp_audit_log_refuse_truncate on public.mcp_audit_log is 'atoms: the audit log is never emptied.';

-- ---- actor guard ----
create or replace function private.refuse_actor_outside_gateway() returns trigger
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  -- session_user is the login role: set role and set_config cannot change it. The tables' owner (the migration
  -- runner, which could drop this trigger anyway) may load any actor, e.g. seed data.
  if new.actor is not null and new.actor <> 'user' and session_user <> 'atoms_mcp_gateway'
    and not pg_catalog.pg_has_role(
      session_user, (select c.relowner from pg_catalog.pg_class as c where c.oid = tg_relid), 'member'
    ) then
    raise exception 'actor % may only be recorded by the MCP gateway''s login; this session logged in as %', new.actor, session_user
      using errcode = '42501', hint = 'Every session but the MCP gateway''s acts as user.';
  end if;
  return new;
end;
$$;

comment on function private.refuse_actor_outside_gateway() is
'atoms: BEFORE INSERT trigger function: refuses (42501) a row whose actor is anything but user unless the session logged in as atoms_mcp_gateway (or as the table''s owner). The database only trusts what the gateway says about MCP vs CLI vs import.';
revoke execute on function private.refuse_actor_outside_gateway() from public, anon;

create or replace trigger change_history_refuse_actor_outside_gateway
before insert on public.change_history
for each row execute function private.refuse_actor_outside_gateway();

create or replace trigger test_results_refuse_actor_outside_gateway
before insert on public.test_results
for each row execute function private.refuse_actor_outside_gateway();

create or replace trigger mcp_audit_log_refuse_actor_outside_gateway
before insert on public.mcp_audit_log
for each row execute function private.refuse_actor_outside_gateway();

comment on trigger change_history_refuse_actor_outside_gateway on public.change_history is
'atoms: only the MCP gateway''s login records an actor other than user.';
comment on trigger test_results_refuse_actor_outside_gateway on public.test_results is
'atoms: only the MCP gateway''s login records an actor other than user.';
comment on trigger mcp_audit_log_refuse_actor_outside_gateway on public.mcp_audit_log is
'atoms: only the MCP gateway''s login records an actor other than user.';

-- ---- history writing ----
-- Canonical form 1 of a history row: the row as jsonb without id, prev_hash and row_hash, without its null
-- columns (so a column added later, nullable and without a default, leaves every existing row's form and hash
-- as it was, while any value it takes is covered), timestamps rendered in UTC whatever the session's time zone
-- (the function pins timezone). Only top-level null columns are left out: a null inside old_values / new_values
-- is part of the row and stays covered. jsonb's text form is canonical (keys sorted, one spelling per value).
create or replace function private.history_canonical_v1(h public.change_history) returns text
language sql stable security invoker set search_path = pg_catalog, pg_temp set timezone = 'UTC'
as $$
  select coalesce(jsonb_object_agg(c.key, c.value), '{}'::jsonb)::text
  from jsonb_each(to_jsonb(history_canonical_v1.h)) as c (key, value)
  where c.key not in ('id', 'prev_hash', 'row_hash') and jsonb_typeof(c.value) <> 'null'
$$;

comment on function private.history_canonical_v1(public.change_history) is
'atoms: canonical text of a change_history row, hash_version 1: jsonb of every column except id, prev_hash and row_hash, null columns left out, timestamps in UTC (timezone pinned).';
revoke execute on function private.history_canonical_v1(public.change_history) from public, anon;
grant execute on function private.history_canonical_v1(public.change_history) to authenticated, service_role, atoms_rpc_owner;

create or replace function private.history_row_hash(prev_hash text, h public.change_history) returns text
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  -- One branch per hash_version; an unknown version hashes to null, which verification reports.
  select case history_row_hash.h.hash_version
    when 1 then
      encode(
        pg_catalog.sha256(convert_to(history_row_hash.prev_hash || private.history_canonical_v1(history_row_hash.h), 'UTF8')),
        'hex'
      )
  end
$$;

comment on function private.history_row_hash(text, public.change_history) is
'atoms: row_hash of a change_history row chained after prev_hash = sha256 hex of prev_hash || the row''s canonical text for its hash_version (1: private.history_canonical_v1); null for an unknown hash_version. The first row of a chain has prev_hash = 64 zeros.';
revoke execute on function private.history_row_hash(text, public.change_history) from public, anon;
grant execute on function private.history_row_hash(text, public.change_history) to authenticated, service_role, atoms_rpc_owner;

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
'atoms: the only writer of change_history (security invoker; runs with the rights of the definer trigger private.record_change). Locks the chain head of (project, project_id), appends the next row (actor, session and client from the session; hash_version 1) and advances the head. Called by the history triggers only.';
revoke execute on function private.append_history(uuid, uuid, uuid, public.history_event_type, text[], jsonb, jsonb) from public, anon, authenticated;

create or replace function private.item_snapshot(item public.items) returns jsonb
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'id', item_snapshot.item.key,
    'type', item_snapshot.item.item_type,
    'title', item_snapshot.item.title,
    'summary', item_snapshot.item.summary,
    'body', item_snapshot.item.body,
    'domains', to_jsonb(item_snapshot.item.domains),
    'level', item_snapshot.item.level
  )
$$;

comment on function private.item_snapshot(public.items) is 'atoms: the user-visible fields of an item as jsonb (history old/new values).';
revoke execute on function private.item_snapshot(public.items) from public, anon;

create or replace function private.record_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  before_values jsonb;
  after_values jsonb;
  changed text[];
  field text;
  src public.items;
  tgt public.items;
begin
  if tg_table_name = 'items' then
    after_values := private.item_snapshot(new);
    if tg_op = 'INSERT' then
      perform private.append_history(new.org_id, new.project_id, new.id, 'created', '{}', null, after_values);
    elsif old.deleted_at is null and new.deleted_at is not null then
      perform private.append_history(
        new.org_id, new.project_id, new.id, 'deleted', array['deleted_at'],
        jsonb_build_object('deleted_at', null), jsonb_build_object('deleted_at', new.deleted_at, 'deleted_by', new.deleted_by)
      );
    elsif old.deleted_at is not null and new.deleted_at is null then
      perform private.append_history(
        new.org_id, new.project_id, new.id, 'restored', array['deleted_at'],
        jsonb_build_object('deleted_at', old.deleted_at, 'deleted_by', old.deleted_by), jsonb_build_object('deleted_at', null)
      );
    else
      before_values := private.item_snapshot(old);
      changed := '{}';
      foreach field in array array['title', 'summary', 'body', 'domains', 'level'] loop
        if before_values -> field is distinct from after_values -> field then
          changed := changed || field;
        end if;
      end loop;
      if cardinality(changed) > 0 then
        perform private.append_history(
          new.org_id, new.project_id, new.id, 'updated', changed,
          (select jsonb_object_agg(f, before_values -> f) from unnest(changed) as f),
          (select jsonb_object_agg(f, after_values -> f) from unnest(changed) as f)
        );
      end if;
    end if;
  elsif tg_table_name = 'item_links' then
    select * into src from public.items as i where i.id = new.source_item_id;
    select * into tgt from public.items as i where i.id = new.target_item_id;
    after_values := jsonb_build_object(
      'link_id', new.id, 'link_kind', new.link_kind, 'source_id', src.key, 'target_id', tgt.key,
      'source_item_id', new.source_item_id, 'target_item_id', new.target_item_id
    );
    if tg_op = 'INSERT' and new.deleted_at is null then
      perform private.append_history(new.org_id, new.project_id, new.source_item_id, 'linked', '{}', null, after_values);
    elsif tg_op = 'UPDATE' and old.deleted_at is null and new.deleted_at is not null then
      perform private.append_history(
        new.org_id, new.project_id, new.source_item_id, 'unlinked', array['deleted_at'], after_values,
        jsonb_build_object('deleted_at', new.deleted_at, 'deleted_by', new.deleted_by)
      );
    end if;
  elsif tg_table_name = 'test_results' then
    select * into src from public.items as i where i.id = new.item_id;
    perform private.append_history(
      new.org_id, new.project_id, new.item_id, 'test_recorded', array['result'], null,
      jsonb_build_object(
        'id', src.key, 'result_id', new.id, 'result', new.result, 'note', new.note, 'recorded_at', new.recorded_at
      )
    );
  end if;
  return null;
end;
$$;

comment on function private.record_change() is
'atoms: AFTER row trigger on items (created, updated, deleted, restored), item_links (linked, unlinked; item_id = the link''s source item) and test_results (test_recorded): appends one change_history row per change.';
revoke execute on function private.record_change() from public, anon, authenticated;

-- ---- history triggers ----
create or replace trigger items_record_change
after insert or update on public.items
for each row execute function private.record_change();

create or replace trigger item_links_record_change
after insert or update on public.item_links
for each row execute function private.record_change();

create or replace trigger test_results_record_change
after insert on public.test_results
for each row execute function private.record_change();

comment on trigger items_record_change on public.items is 'atoms: history events created, updated, deleted, restored.';
comment on trigger item_links_record_change on public.item_links is 'atoms: history events linked, unlinked.';
comment on trigger test_results_record_change on public.test_results is 'atoms: history event test_recorded.';
