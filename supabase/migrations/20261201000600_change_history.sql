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
language plpgsql volatile security invoker set search_path = ''
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
language plpgsql volatile security invoker set search_path = ''
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

-- ---- history writing ----
create or replace function private.history_row_hash(
  prev_hash text,
  project_id uuid,
  chain_seq bigint,
  event_type text,
  item_id uuid,
  changed_by uuid,
  changed_at timestamptz,
  actor text,
  session_id text,
  client_name text,
  fields_changed text[],
  old_values jsonb,
  new_values jsonb
) returns text
language sql immutable security invoker set search_path = ''
as $$
  -- Canonical encoding: a jsonb array (fixed field order, jsonb's own normalised text form, nulls as null),
  -- the timestamp rendered in UTC with microseconds whatever the session TimeZone.
  select encode(
    pg_catalog.sha256(
      convert_to(
        history_row_hash.prev_hash || jsonb_build_array(
          history_row_hash.project_id,
          history_row_hash.chain_seq,
          history_row_hash.event_type,
          history_row_hash.item_id,
          history_row_hash.changed_by,
          to_char(history_row_hash.changed_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
          history_row_hash.actor,
          history_row_hash.session_id,
          history_row_hash.client_name,
          to_jsonb(history_row_hash.fields_changed),
          history_row_hash.old_values,
          history_row_hash.new_values
        )::text,
        'UTF8'
      )
    ),
    'hex'
  )
$$;

comment on function private.history_row_hash(text, uuid, bigint, text, uuid, uuid, timestamptz, text, text, text, text[], jsonb, jsonb) is
'atoms: row_hash of a change_history row = sha256 hex of prev_hash || canonical jsonb array of the row''s fields (changed_at in UTC). The first row of a chain has prev_hash = 64 zeros.';
revoke execute on function private.history_row_hash(
  text, uuid, bigint, text, uuid, uuid, timestamptz, text, text, text, text[], jsonb, jsonb
) from public, anon;
grant execute on function private.history_row_hash(
  text, uuid, bigint, text, uuid, uuid, timestamptz, text, text, text, text[], jsonb, jsonb
) to authenticated, service_role, atoms_rpc_owner;

create or replace function private.append_history(
  org_id uuid,
  project_id uuid,
  item_id uuid,
  event_type text,
  fields_changed text[],
  old_values jsonb,
  new_values jsonb
) returns void
language plpgsql volatile security invoker set search_path = ''
as $$
declare
  seq bigint;
  prev text;
  stamp timestamptz;
  hash text;
  who uuid := (select auth.uid());
  actor_tag text := private.current_actor();
  session_tag text := private.current_session_id();
  client_tag text := private.current_client_name();
begin
  -- A missing head (first write, or rows loaded directly) continues from the chain's stored tail.
  insert into private.history_chain_heads (project_id, last_seq, last_hash)
  select
    append_history.project_id,
    coalesce(t.chain_seq, 0),
    coalesce(t.row_hash, repeat('0', 64))
  from (select 1) as one
  left join lateral (
    select h.chain_seq, h.row_hash
    from public.change_history as h
    where h.project_id = append_history.project_id
    order by h.chain_seq desc
    limit 1
  ) as t on true
  on conflict on constraint history_chain_heads_pkey do nothing;

  select c.last_seq + 1, c.last_hash into seq, prev
  from private.history_chain_heads as c
  where c.project_id = append_history.project_id
  for update;

  -- Taken after the head lock: changed_at follows chain (= commit) order.
  stamp := clock_timestamp();
  hash := private.history_row_hash(
    prev, append_history.project_id, seq, append_history.event_type, append_history.item_id, who, stamp,
    actor_tag, session_tag, client_tag, append_history.fields_changed, append_history.old_values, append_history.new_values
  );
  insert into public.change_history (
    org_id, project_id, item_id, event_type, changed_by, changed_at, actor, session_id, client_name,
    fields_changed, old_values, new_values, chain_seq, prev_hash, row_hash
  ) values (
    append_history.org_id, append_history.project_id, append_history.item_id, append_history.event_type,
    who, stamp, actor_tag, session_tag, client_tag, append_history.fields_changed, append_history.old_values,
    append_history.new_values, seq, prev, hash
  );

  update private.history_chain_heads as c
  set last_seq = seq, last_hash = hash
  where c.project_id = append_history.project_id;
end;
$$;

comment on function private.append_history(uuid, uuid, uuid, text, text[], jsonb, jsonb) is
'atoms: the only writer of change_history (security invoker; runs with the rights of the definer trigger private.record_change). Locks the project''s chain head, appends the next row (actor, session and client from the session) and advances the head. Called by the history triggers only.';
revoke execute on function private.append_history(uuid, uuid, uuid, text, text[], jsonb, jsonb) from public, anon, authenticated;

create or replace function private.item_snapshot(item public.items) returns jsonb
language sql immutable security invoker set search_path = ''
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
language plpgsql volatile security definer set search_path = ''
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
