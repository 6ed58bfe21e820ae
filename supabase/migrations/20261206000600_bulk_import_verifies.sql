-- atoms_bulk_import: a test case of the import may carry verifies, so a bulk import carries verification links.
-- Objects: public.atoms_bulk_import(text, json) (replaced; same signature).
-- verifies: up to 50 keys of requirements, each an existing key or "#<index>" of an item created earlier in the same
--   call (like parent_id); the links are made in the item's own sub-transaction, so a bad reference fails that item
--   alone (reported with its index) and creates nothing of it.
-- Security: as before: security definer owned by atoms_rpc_owner, EXECUTE for authenticated only, the caller's role
--   checked first.

create or replace function public.atoms_bulk_import(project_id text, items json) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_bulk_import.project_id, 'project_id');
  org uuid;
  item_json json;
  entry jsonb;
  unreadable text;
  idx integer;
  field text;
  entry_type text;
  entry_title text;
  entry_domains text[];
  entry_level text;
  parent_ref text;
  parent public.items;
  verify_ref text;
  verified public.items[];
  verified_item public.items;
  created public.items;
  created_keys text[] := '{}'::text[];
  done jsonb := '[]'::jsonb;
  failed jsonb := '[]'::jsonb;
  err_text text;
begin
  perform private.require_project_role(project, 'editor');
  if atoms_bulk_import.items is null or json_typeof(atoms_bulk_import.items) <> 'array' then
    raise exception 'items must be a JSON array of 1 to 100 items, got %', coalesce(json_typeof(atoms_bulk_import.items), 'null')
      using errcode = '22023';
  end if;
  if json_array_length(atoms_bulk_import.items) not between 1 and 100 then
    raise exception 'items must have 1 to 100 items, got %', json_array_length(atoms_bulk_import.items)
      using errcode = '22023', hint = 'Split larger imports into calls of at most 100 items.';
  end if;

  org := private.lock_project_for_write(project);
  for item_json, idx in
    select e.value, (e.position - 1)::integer
    from json_array_elements(atoms_bulk_import.items) with ordinality as e (value, position)
  loop
    -- An item jsonb cannot read (U+0000, an unpaired surrogate) fails alone; its title is read from the raw text.
    unreadable := null;
    begin
      entry := item_json::jsonb;
    exception
      when untranslatable_character or invalid_text_representation then
        entry := null;
        unreadable := private.unstorable_json_text(item_json);
    end;
    entry_title := case when jsonb_typeof(entry -> 'title') = 'string' then entry ->> 'title' end;
    if unreadable is not null then
      begin
        entry_title := private.raw_json_member(item_json, 'title')::jsonb #>> '{}';
      exception
        when untranslatable_character or invalid_text_representation then
          entry_title := null;
      end;
    end if;
    created_keys := created_keys || null::text;
    -- One sub-transaction per item: a failing item leaves nothing behind (not even its key number).
    begin
      if unreadable is not null then
        raise exception '%', unreadable using errcode = '22023';
      end if;
      if jsonb_typeof(entry) <> 'object' then
        raise exception 'item must be a JSON object, got %', jsonb_typeof(entry) using errcode = '22023';
      end if;
      select f into field from jsonb_object_keys(entry) as f
      where f not in ('type', 'title', 'body', 'summary', 'domains', 'level', 'parent_id', 'verifies')
      limit 1;
      if field is not null then
        raise exception 'unknown field "%" (allowed: type, title, body, summary, domains, level, parent_id, verifies)', left(field, 80)
          using errcode = '22023';
      end if;
      foreach field in array array['type', 'title', 'body', 'summary', 'level', 'parent_id'] loop
        if coalesce(jsonb_typeof(entry -> field), 'null') not in ('string', 'null') then
          raise exception '% must be a string, got %', field, jsonb_typeof(entry -> field) using errcode = '22023';
        end if;
      end loop;
      entry_type := private.require_enum(entry ->> 'type', 'type', null::public.item_type);
      perform private.require_single_line_text(entry_title, 'title', 1, 500);
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
      -- verifies: requirements this test case verifies, each a key or "#<n>" of an item created earlier in this call.
      verified := '{}'::public.items[];
      if coalesce(jsonb_typeof(entry -> 'verifies'), 'null') <> 'null' then
        if jsonb_typeof(entry -> 'verifies') <> 'array'
          or exists (select 1 from jsonb_array_elements(entry -> 'verifies') as v where jsonb_typeof(v) <> 'string') then
          raise exception 'verifies must be an array of item keys or #index references' using errcode = '22023';
        end if;
        if jsonb_array_length(entry -> 'verifies') > 50 then
          raise exception 'verifies must have at most 50 entries, got %', jsonb_array_length(entry -> 'verifies')
            using errcode = '22023';
        end if;
        for verify_ref in select jsonb_array_elements_text(entry -> 'verifies') loop
          if verify_ref ~ '^#[0-9]{1,3}$' then
            if substr(verify_ref, 2)::integer >= idx or created_keys[substr(verify_ref, 2)::integer + 1] is null then
              raise exception 'verifies % must name an item created earlier in this call', verify_ref using errcode = '22023';
            end if;
            verify_ref := created_keys[substr(verify_ref, 2)::integer + 1];
          end if;
          perform private.require_item_key(verify_ref, 'verifies element');
          verified := verified || private.find_item(project, verify_ref, 'verifies element');
        end loop;
      end if;

      created := private.insert_item(
        org, project, entry_type::public.item_type, entry_title, entry ->> 'summary', entry ->> 'body',
        entry_domains, entry_level::public.item_level
      );
      if parent.id is not null then
        perform private.add_link(org, project, parent, created, 'child');
      end if;
      foreach verified_item in array verified loop
        perform private.add_link(org, project, created, verified_item, 'verifies');
      end loop;
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

comment on function public.atoms_bulk_import(text, json) is
'atoms tool atoms_bulk_import (editor; security definer): creates 1-100 items, each independently: a failing item (a bad value, or text PostgreSQL cannot store such as U+0000) is rolled back alone and reported with its index; parent_id is a key (also one created earlier in the call) or "#<index>" of an earlier item of the call; verifies (test cases, up to 50) lists requirements the item verifies, each such a key or "#<index>". Returns {created, items, errors: [{index, title, error}]}.';
alter function public.atoms_bulk_import(text, json) owner to atoms_rpc_owner;
revoke execute on function public.atoms_bulk_import(text, json) from public, anon;
grant execute on function public.atoms_bulk_import(text, json) to authenticated;
