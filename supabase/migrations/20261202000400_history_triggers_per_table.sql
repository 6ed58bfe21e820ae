-- One history trigger function per audited table, so each is checked (plpgsql_check) against the one table whose
-- NEW and OLD it reads; the former shared function private.record_change branched on tg_table_name, which no static
-- check can follow. Bodies are the branches of private.record_change unchanged: the same change_history rows.
-- Objects: private.record_item_change, private.record_link_change, private.record_test_result_change; the triggers
--   items_record_change, item_links_record_change, test_results_record_change now call them; private.record_change
--   is dropped.
-- Security: security definer (they write change_history through private.append_history), EXECUTE for no API role.

-- ---- trigger functions ----
create or replace function private.record_item_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  before_values jsonb;
  after_values jsonb;
  changed text[];
  field text;
begin
  after_values := private.item_snapshot(new);
  if tg_op = 'INSERT' then
    perform private.append_history(new.org_id, new.project_id, new.id, 'created', '{}'::text[], null, after_values);
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
    changed := '{}'::text[];
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
  return null;
end;
$$;

comment on function private.record_item_change() is
'atoms: AFTER row trigger on items: appends the change_history row of a create, an update of title/summary/body/domains/level, a soft delete or a restore.';
revoke execute on function private.record_item_change() from public, anon, authenticated;

create or replace function private.record_link_change() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  after_values jsonb;
  src public.items;
  tgt public.items;
begin
  select * into src from public.items as i where i.id = new.source_item_id;
  select * into tgt from public.items as i where i.id = new.target_item_id;
  after_values := jsonb_build_object(
    'link_id', new.id, 'link_kind', new.link_kind, 'source_id', src.key, 'target_id', tgt.key,
    'source_item_id', new.source_item_id, 'target_item_id', new.target_item_id
  );
  if tg_op = 'INSERT' and new.deleted_at is null then
    perform private.append_history(new.org_id, new.project_id, new.source_item_id, 'linked', '{}'::text[], null, after_values);
  elsif tg_op = 'UPDATE' and old.deleted_at is null and new.deleted_at is not null then
    perform private.append_history(
      new.org_id, new.project_id, new.source_item_id, 'unlinked', array['deleted_at'], after_values,
      jsonb_build_object('deleted_at', new.deleted_at, 'deleted_by', new.deleted_by)
    );
  end if;
  return null;
end;
$$;

comment on function private.record_link_change() is
'atoms: AFTER row trigger on item_links: appends the change_history row of a new live link (linked) or a soft-deleted one (unlinked); item_id is the link''s source item.';
revoke execute on function private.record_link_change() from public, anon, authenticated;

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
      'id', src.key, 'result_id', new.id, 'result', new.result, 'note', new.note, 'recorded_at', new.recorded_at
    )
  );
  return null;
end;
$$;

comment on function private.record_test_result_change() is
'atoms: AFTER INSERT row trigger on test_results: appends the change_history row of a recorded run (test_recorded).';
revoke execute on function private.record_test_result_change() from public, anon, authenticated;

-- ---- history triggers ----
create or replace trigger items_record_change
after insert or update on public.items
for each row execute function private.record_item_change();

create or replace trigger item_links_record_change
after insert or update on public.item_links
for each row execute function private.record_link_change();

create or replace trigger test_results_record_change
after insert on public.test_results
for each row execute function private.record_test_result_change();

drop function private.record_change();
