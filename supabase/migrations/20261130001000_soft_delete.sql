-- Soft delete only: rows of the traceability record are never physically removed.
-- Objects: private.refuse_physical_delete() (reusable trigger function), BEFORE DELETE row triggers and
--   BEFORE TRUNCATE statement triggers on items, item_links, test_results and change_history.
-- Security: triggers fire for every role, the table owner and service_role included (only a superuser
--   who switches session_replication_role to replica can bypass them, which is itself an audited act).
--   Other branches attach the same function to their append-only tables (e.g. mcp_audit_log).

-- ---- helpers ----
create or replace function private.refuse_physical_delete() returns trigger
language plpgsql volatile security invoker set search_path = ''
as $$
begin
  raise exception '% on %.% is not allowed: atoms keeps every row (use the soft-delete RPCs, e.g. atoms_delete_item)',
    lower(tg_op), tg_table_schema, tg_table_name
    using errcode = '42501',
    hint = 'Items and links are soft-deleted (deleted_at/deleted_by); test results and history are append-only.';
end;
$$;

comment on function private.refuse_physical_delete() is
'atoms: trigger function that refuses DELETE (row trigger) and TRUNCATE (statement trigger) with 42501 for every role. Attach it to any append-only or soft-delete table.';
revoke execute on function private.refuse_physical_delete() from public, anon;

-- ---- triggers ----
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

comment on trigger items_refuse_delete on public.items is 'atoms: items are soft-deleted (atoms_delete_item), never removed.';
comment on trigger items_refuse_truncate on public.items is 'atoms: items are never removed, not even in bulk.';
comment on trigger item_links_refuse_delete on public.item_links is 'atoms: links are soft-deleted (atoms_link_items action remove), never removed.';
comment on trigger item_links_refuse_truncate on public.item_links is 'atoms: links are never removed, not even in bulk.';
comment on trigger test_results_refuse_delete on public.test_results is 'atoms: test results are append-only.';
comment on trigger test_results_refuse_truncate on public.test_results is 'atoms: test results are append-only.';
comment on trigger change_history_refuse_delete on public.change_history is 'atoms: history is append-only.';
comment on trigger change_history_refuse_truncate on public.change_history is 'atoms: history is append-only.';
