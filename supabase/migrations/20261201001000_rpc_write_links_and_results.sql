-- Link and test-result RPCs.
-- Objects: public.atoms_link_items, public.atoms_record_test_result.
-- Security: security definer owned by atoms_rpc_owner (RLS applies with the caller's auth.uid()), EXECUTE for
--   authenticated only; each calls private.require_project_role(project, 'editor') first and validates every
--   argument (22023). The history trigger writes the linked / unlinked / test_recorded events; actor is 'user'
--   unless the MCP gateway set it.

create or replace function public.atoms_link_items(
  project_id text,
  from_id text,
  to_id text,
  type text,
  action text default 'add'
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_link_items.project_id, 'project_id');
  org uuid;
  from_item public.items;
  to_item public.items;
  source_id uuid;
  target_id uuid;
  kind public.link_kind;
  phrase text;
  changed boolean;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_link_items.from_id, 'from_id');
  perform private.require_item_key(atoms_link_items.to_id, 'to_id');
  perform private.require_choice(atoms_link_items.type, 'type', array['parent', 'child', 'related', 'verifies', 'verified_by']);
  perform private.require_choice(atoms_link_items.action, 'action', array['add', 'remove']);
  if atoms_link_items.from_id = atoms_link_items.to_id then
    raise exception 'an item cannot be linked to itself (%)', atoms_link_items.from_id using errcode = '22023';
  end if;

  org := private.lock_project_for_write(project);
  phrase := private.link_phrase(atoms_link_items.from_id, atoms_link_items.type, atoms_link_items.to_id);

  if atoms_link_items.action = 'add' then
    from_item := private.find_item(project, atoms_link_items.from_id, 'from_id');
    to_item := private.find_item(project, atoms_link_items.to_id, 'to_id');
    changed := private.add_link(org, project, from_item, to_item, atoms_link_items.type);
    return jsonb_build_object(
      'from_id', atoms_link_items.from_id, 'to_id', atoms_link_items.to_id, 'type', atoms_link_items.type,
      'action', 'add', 'changed', changed,
      'message', case when changed then 'Relationship added: ' else 'Relationship already exists: ' end || phrase
    );
  end if;

  -- remove: the items may since have been deleted; removing a link to them is still allowed.
  from_item := private.find_item(project, atoms_link_items.from_id, 'from_id', true);
  to_item := private.find_item(project, atoms_link_items.to_id, 'to_id', true);
  case atoms_link_items.type
    when 'child' then kind := 'hierarchy'; source_id := from_item.id; target_id := to_item.id;
    when 'parent' then kind := 'hierarchy'; source_id := to_item.id; target_id := from_item.id;
    when 'verifies' then kind := 'verification'; source_id := from_item.id; target_id := to_item.id;
    when 'verified_by' then kind := 'verification'; source_id := to_item.id; target_id := from_item.id;
    else kind := 'related'; source_id := least(from_item.id, to_item.id); target_id := greatest(from_item.id, to_item.id);
  end case;

  update public.item_links as l
  set deleted_at = now(), deleted_by = (select private.caller_id())
  where l.project_id = project and l.link_kind = kind and l.source_item_id = source_id
    and l.target_item_id = target_id and l.deleted_at is null;
  changed := found;
  return jsonb_build_object(
    'from_id', atoms_link_items.from_id, 'to_id', atoms_link_items.to_id, 'type', atoms_link_items.type,
    'action', 'remove', 'changed', changed,
    'message', case when changed then 'Relationship removed: ' else 'Relationship not found, nothing to remove: ' end || phrase
  );
end;
$$;

comment on function public.atoms_link_items(text, text, text, text, text) is
'atoms tool atoms_link_items (editor): add or remove (soft delete) a relationship between two items of a project. Adding an existing link and removing a missing one succeed without change. Returns {from_id, to_id, type, action, changed, message}.';
alter function public.atoms_link_items(text, text, text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_link_items(text, text, text, text, text) from public, anon;
grant execute on function public.atoms_link_items(text, text, text, text, text) to authenticated;

create or replace function public.atoms_record_test_result(
  project_id text,
  item_id text,
  result text,
  note text default null
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_record_test_result.project_id, 'project_id');
  org uuid;
  target public.items;
  recorded public.test_results;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_record_test_result.item_id, 'item_id');
  perform private.require_enum(atoms_record_test_result.result, 'result', null::public.test_result);
  perform private.require_text(atoms_record_test_result.note, 'note', 0, 1000);

  org := private.lock_project_for_write(project);
  target := private.find_item(project, atoms_record_test_result.item_id, 'item');
  if target.item_type <> 'test-case' then
    raise exception 'test results are recorded for test cases only; % is a %', target.key, target.item_type
      using errcode = '22023', hint = 'Pass the key of a test case (TC-...).';
  end if;

  insert into public.test_results (org_id, project_id, item_id, result, note, recorded_by, actor)
  values (
    org, project, target.id, atoms_record_test_result.result::public.test_result,
    coalesce(atoms_record_test_result.note, ''), (select private.caller_id()), private.current_actor()
  )
  returning * into recorded;
  return jsonb_build_object(
    'item_id', target.key,
    'result', recorded.result,
    'run_at', recorded.recorded_at,
    'run_by', recorded.recorded_by,
    'note', recorded.note,
    'message', 'Test result recorded for ' || target.key
  );
end;
$$;

comment on function public.atoms_record_test_result(text, text, text, text) is
'atoms tool atoms_record_test_result (editor): appends a run (passed | failed | blocked | not-run, note <= 1000) of a live test case. Returns {item_id, result, run_at, run_by, note, message}.';
alter function public.atoms_record_test_result(text, text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_record_test_result(text, text, text, text) from public, anon;
grant execute on function public.atoms_record_test_result(text, text, text, text) to authenticated;
