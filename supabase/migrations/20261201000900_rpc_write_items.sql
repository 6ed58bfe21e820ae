-- Item RPCs: create, update, soft delete, restore, bulk import.
-- Objects: public.atoms_create_item, public.atoms_update_item, public.atoms_delete_item, public.atoms_restore_item,
--   public.atoms_bulk_import.
-- Security: security definer owned by atoms_rpc_owner (no BYPASSRLS: the tables' policies still apply with the
--   caller's auth.uid()), EXECUTE for authenticated only; each validates every argument (22023) and calls
--   private.require_project_role(project, 'editor') (restore: 'admin') right after parsing the project id.

create or replace function public.atoms_create_item(
  project_id text,
  type text,
  title text,
  body text default null,
  summary text default null,
  domains text[] default null,
  level text default null,
  parent_ids text[] default null
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_create_item.project_id, 'project_id');
  org uuid;
  tags text[];
  parent_key text;
  parent_keys text[] := '{}';
  parents public.items[] := '{}';
  parent public.items;
  created public.items;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_enum(atoms_create_item.type, 'type', null::public.item_type);
  perform private.require_text(atoms_create_item.title, 'title', 1, 500);
  perform private.require_text(atoms_create_item.summary, 'summary', 0, 2000);
  perform private.require_text(atoms_create_item.body, 'body', 0, 100000);
  tags := private.normalize_domains(atoms_create_item.domains, 'domains');
  if atoms_create_item.level is not null then
    perform private.require_enum(atoms_create_item.level, 'level', null::public.item_level);
  end if;
  if atoms_create_item.parent_ids is not null then
    if cardinality(atoms_create_item.parent_ids) > 50 then
      raise exception 'parent_ids must have at most 50 keys, got %', cardinality(atoms_create_item.parent_ids)
        using errcode = '22023';
    end if;
    foreach parent_key in array atoms_create_item.parent_ids loop
      perform private.require_item_key(parent_key, 'parent_ids element');
      if not (parent_key = any(parent_keys)) then
        parent_keys := parent_keys || parent_key;
      end if;
    end loop;
  end if;

  org := private.lock_project_for_write(project);
  foreach parent_key in array parent_keys loop
    parents := parents || private.find_item(project, parent_key, 'parent item');
  end loop;
  created := private.insert_item(
    org, project, atoms_create_item.type::public.item_type, atoms_create_item.title, atoms_create_item.summary,
    atoms_create_item.body, tags, atoms_create_item.level::public.item_level
  );
  foreach parent in array parents loop
    perform private.add_link(org, project, parent, created, 'child');
  end loop;
  return jsonb_build_object('id', created.key, 'type', created.item_type, 'title', created.title, 'project_id', created.project_id);
end;
$$;

comment on function public.atoms_create_item(text, text, text, text, text, text[], text, text[]) is
'atoms tool atoms_create_item (editor): creates an item with the next key of its type and links each parent in parent_ids (live items of the same project) as its parent, in one transaction. Returns {id, type, title, project_id}.';
alter function public.atoms_create_item(text, text, text, text, text, text[], text, text[]) owner to atoms_rpc_owner;
revoke execute on function public.atoms_create_item(text, text, text, text, text, text[], text, text[]) from public, anon;
grant execute on function public.atoms_create_item(text, text, text, text, text, text[], text, text[]) to authenticated;

create or replace function public.atoms_update_item(
  project_id text,
  item_id text,
  title text default null,
  body text default null,
  summary text default null,
  domains text[] default null,
  level text default null,
  status text default null
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_update_item.project_id, 'project_id');
  org uuid;
  tags text[];
  given text[] := '{}';
  target public.items;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_update_item.item_id, 'item_id');
  if atoms_update_item.title is not null then
    perform private.require_text(atoms_update_item.title, 'title', 1, 500);
    given := given || 'title'::text;
  end if;
  if atoms_update_item.body is not null then
    perform private.require_text(atoms_update_item.body, 'body', 0, 100000);
    given := given || 'body'::text;
  end if;
  if atoms_update_item.summary is not null then
    perform private.require_text(atoms_update_item.summary, 'summary', 0, 2000);
    given := given || 'summary'::text;
  end if;
  if atoms_update_item.domains is not null then
    tags := private.normalize_domains(atoms_update_item.domains, 'domains');
    given := given || 'domains'::text;
  end if;
  if atoms_update_item.level is not null then
    perform private.require_enum(atoms_update_item.level, 'level', null::public.item_level);
    given := given || 'level'::text;
  end if;
  if atoms_update_item.status is not null then
    perform private.require_enum(atoms_update_item.status, 'status', null::public.test_result);
    given := given || 'status'::text;
  end if;
  if cardinality(given) = 0 then
    raise exception 'nothing to update: give at least one of title, body, summary, domains, level, status'
      using errcode = '22023';
  end if;

  org := private.lock_project_for_write(project);
  target := private.find_item(project, atoms_update_item.item_id, 'item');
  if atoms_update_item.status is not null and target.item_type <> 'test-case' then
    raise exception 'status applies to test cases only; % is a %', target.key, target.item_type
      using errcode = '22023', hint = 'Give status only when updating a test case (TC-...).';
  end if;

  if given <> array['status'] then
    update public.items as i
    set
      title = coalesce(atoms_update_item.title, i.title),
      body = coalesce(atoms_update_item.body, i.body),
      summary = coalesce(atoms_update_item.summary, i.summary),
      domains = coalesce(tags, i.domains),
      level = coalesce(atoms_update_item.level::public.item_level, i.level),
      updated_by = (select private.caller_id()),
      updated_at = now()
    where i.id = target.id
    returning * into target;
  end if;
  if atoms_update_item.status is not null then
    insert into public.test_results (org_id, project_id, item_id, result, recorded_by, actor)
    values (org, project, target.id, atoms_update_item.status::public.test_result, (select private.caller_id()), private.current_actor());
  end if;
  return jsonb_build_object('id', target.key, 'title', target.title, 'type', target.item_type, 'updated_fields', to_jsonb(given));
end;
$$;

comment on function public.atoms_update_item(text, text, text, text, text, text[], text, text) is
'atoms tool atoms_update_item (editor): changes only the given fields of a live item (domains replaces the list); status records a test result (test cases only). Nothing given -> 22023. Returns {id, title, type, updated_fields}.';
alter function public.atoms_update_item(text, text, text, text, text, text[], text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_update_item(text, text, text, text, text, text[], text, text) from public, anon;
grant execute on function public.atoms_update_item(text, text, text, text, text, text[], text, text) to authenticated;

create or replace function public.atoms_delete_item(project_id text, item_id text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_delete_item.project_id, 'project_id');
  target public.items;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_delete_item.item_id, 'item_id');
  perform private.lock_project_for_write(project);
  -- A deleted item is not found (deleting twice -> PT404), exactly as every read tool sees it.
  target := private.find_item(project, atoms_delete_item.item_id, 'item');
  update public.items as i
  set deleted_at = now(), deleted_by = (select private.caller_id())
  where i.id = target.id;
  return jsonb_build_object(
    'id', target.key, 'title', target.title, 'type', target.item_type, 'deleted', true,
    'message', 'Item ' || target.key || ' has been soft-deleted'
  );
end;
$$;

comment on function public.atoms_delete_item(text, text) is
'atoms tool atoms_delete_item (editor): soft-deletes a live item (deleted_at/deleted_by; its links stay stored but leave every view). Deleting an already deleted item -> PT404. Returns {id, title, type, deleted, message}.';
alter function public.atoms_delete_item(text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_delete_item(text, text) from public, anon;
grant execute on function public.atoms_delete_item(text, text) to authenticated;

create or replace function public.atoms_restore_item(project_id text, item_id text) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_restore_item.project_id, 'project_id');
  target public.items;
begin
  perform private.require_project_role(project, 'admin');
  perform private.require_item_key(atoms_restore_item.item_id, 'item_id');
  perform private.lock_project_for_write(project);
  target := private.find_item(project, atoms_restore_item.item_id, 'item', true);
  if target.deleted_at is null then
    raise exception 'item % is not deleted, nothing to restore', target.key
      using errcode = 'PT409', hint = 'Only soft-deleted items can be restored.';
  end if;
  update public.items as i
  set deleted_at = null, deleted_by = null, updated_by = (select private.caller_id()), updated_at = now()
  where i.id = target.id;
  return jsonb_build_object(
    'id', target.key, 'title', target.title, 'type', target.item_type, 'restored', true,
    'message', 'Item ' || target.key || ' has been restored'
  );
end;
$$;

comment on function public.atoms_restore_item(text, text) is
'atoms admin RPC atoms_restore_item: undoes a soft delete (history event restored). Restoring a live item -> PT409. Returns {id, title, type, restored, message}.';
alter function public.atoms_restore_item(text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_restore_item(text, text) from public, anon;
grant execute on function public.atoms_restore_item(text, text) to authenticated;

create or replace function public.atoms_bulk_import(project_id text, items jsonb) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_bulk_import.project_id, 'project_id');
  org uuid;
  entry jsonb;
  idx integer;
  field text;
  entry_type text;
  entry_title text;
  entry_domains text[];
  entry_level text;
  parent_ref text;
  parent public.items;
  created public.items;
  created_keys text[] := '{}';
  done jsonb := '[]';
  failed jsonb := '[]';
  err_text text;
begin
  perform private.require_project_role(project, 'editor');
  if atoms_bulk_import.items is null or jsonb_typeof(atoms_bulk_import.items) <> 'array' then
    raise exception 'items must be a JSON array of 1 to 100 items, got %', coalesce(jsonb_typeof(atoms_bulk_import.items), 'null')
      using errcode = '22023';
  end if;
  if jsonb_array_length(atoms_bulk_import.items) not between 1 and 100 then
    raise exception 'items must have 1 to 100 items, got %', jsonb_array_length(atoms_bulk_import.items)
      using errcode = '22023', hint = 'Split larger imports into calls of at most 100 items.';
  end if;

  org := private.lock_project_for_write(project);
  for idx in 0 .. jsonb_array_length(atoms_bulk_import.items) - 1 loop
    entry := atoms_bulk_import.items -> idx;
    entry_title := case when jsonb_typeof(entry -> 'title') = 'string' then entry ->> 'title' end;
    created_keys := created_keys || null::text;
    -- One sub-transaction per item: a failing item leaves nothing behind (not even its key number).
    begin
      if jsonb_typeof(entry) <> 'object' then
        raise exception 'item must be a JSON object, got %', jsonb_typeof(entry) using errcode = '22023';
      end if;
      select f into field from jsonb_object_keys(entry) as f
      where f not in ('type', 'title', 'body', 'summary', 'domains', 'level', 'parent_id')
      limit 1;
      if field is not null then
        raise exception 'unknown field "%" (allowed: type, title, body, summary, domains, level, parent_id)', left(field, 80)
          using errcode = '22023';
      end if;
      foreach field in array array['type', 'title', 'body', 'summary', 'level', 'parent_id'] loop
        if coalesce(jsonb_typeof(entry -> field), 'null') not in ('string', 'null') then
          raise exception '% must be a string, got %', field, jsonb_typeof(entry -> field) using errcode = '22023';
        end if;
      end loop;
      entry_type := private.require_enum(entry ->> 'type', 'type', null::public.item_type);
      perform private.require_text(entry_title, 'title', 1, 500);
      perform private.require_text(entry ->> 'summary', 'summary', 0, 2000);
      perform private.require_text(entry ->> 'body', 'body', 0, 100000);
      entry_domains := null;
      if coalesce(jsonb_typeof(entry -> 'domains'), 'null') <> 'null' then
        if jsonb_typeof(entry -> 'domains') <> 'array'
          or exists (select 1 from jsonb_array_elements(entry -> 'domains') as d where jsonb_typeof(d) <> 'string') then
          raise exception 'domains must be an array of strings' using errcode = '22023';
        end if;
        if jsonb_array_length(entry -> 'domains') > 20 then
          raise exception 'domains must have at most 20 tags, got %', jsonb_array_length(entry -> 'domains') using errcode = '22023';
        end if;
        entry_domains := private.normalize_domains(array(select jsonb_array_elements_text(entry -> 'domains')), 'domains');
      end if;
      entry_level := entry ->> 'level';
      if entry_level is not null then
        perform private.require_enum(entry_level, 'level', null::public.item_level);
      end if;
      parent_ref := entry ->> 'parent_id';
      parent := null;
      if parent_ref is not null then
        -- "#<n>" names the item at index n earlier in this call; otherwise a key (possibly created earlier here).
        if parent_ref ~ '^#[0-9]{1,3}$' then
          if substr(parent_ref, 2)::integer >= idx or created_keys[substr(parent_ref, 2)::integer + 1] is null then
            raise exception 'parent_id % must name an item created earlier in this call', parent_ref using errcode = '22023';
          end if;
          parent_ref := created_keys[substr(parent_ref, 2)::integer + 1];
        end if;
        perform private.require_item_key(parent_ref, 'parent_id');
        parent := private.find_item(project, parent_ref, 'parent_id');
      end if;

      created := private.insert_item(
        org, project, entry_type::public.item_type, entry_title, entry ->> 'summary', entry ->> 'body',
        entry_domains, entry_level::public.item_level
      );
      if parent.id is not null then
        perform private.add_link(org, project, parent, created, 'child');
      end if;
      created_keys[idx + 1] := created.key;
      done := done || jsonb_build_array(jsonb_build_object('id', created.key, 'type', created.item_type, 'title', created.title));
    exception
      when sqlstate '22023' or sqlstate 'PT404' or check_violation then
        get stacked diagnostics err_text = message_text;
        failed := failed || jsonb_build_array(jsonb_build_object('index', idx, 'title', entry_title, 'error', err_text));
    end;
  end loop;
  return jsonb_build_object('created', jsonb_array_length(done), 'items', done, 'errors', failed);
end;
$$;

comment on function public.atoms_bulk_import(text, jsonb) is
'atoms tool atoms_bulk_import (editor): creates 1-100 items, each independently (a failing item is rolled back alone and reported as {index, title, error}). parent_id is a key (also one created earlier in the call) or "#<index>" of an earlier item of the call. Returns {created, items, errors}.';
alter function public.atoms_bulk_import(text, jsonb) owner to atoms_rpc_owner;
revoke execute on function public.atoms_bulk_import(text, jsonb) from public, anon;
grant execute on function public.atoms_bulk_import(text, jsonb) to authenticated;
