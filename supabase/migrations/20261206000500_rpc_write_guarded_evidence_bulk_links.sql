-- Write RPCs for a trace an auditor can follow: reasons on update, delete and link; the guarded delete; results as
-- evidence; links in bulk; verification links in bulk import.
-- Objects: private.delete_impact, private.apply_link (new);
--   public.atoms_update_item (+ reason), public.atoms_delete_item (+ force, reason), public.atoms_link_items
--   (from_id/to_id/type optional, + links, reason), public.atoms_record_test_result (+ run_at, build, executed_by,
--   evidence) replace their former signatures; public.atoms_bulk_import (items may carry verifies) is replaced.
-- Guarded delete: an item with live children or live verification links (to live items) is not deleted: PT409 with
--   the impact as DETAIL (JSON: children, verified_by, verifies, parents, related, link_count,
--   requirements_losing_coverage), unless force is true and a reason is given.
-- Bulk links: exactly one of (from_id, to_id, type) or links (1-500 of {from_id, to_id, type, action?}); each link
--   in its own sub-transaction, errors by 0-based index, as atoms_bulk_import reports items.
-- Security: security definer owned by atoms_rpc_owner (RLS applies with the caller's auth.uid()), EXECUTE for
--   authenticated only; the caller's role is checked first, every argument is validated (22023).
--   executed_by resolves through private.member_id_by_email (team_helpers): the caller's own organisations only.

-- ---- helpers ----
create or replace function private.delete_impact(target public.items) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'id', (delete_impact.target).key,
    'children', coalesce(jsonb_agg(o.key order by o.key) filter (
      where l.link_kind = 'hierarchy' and l.source_item_id = (delete_impact.target).id
    ), '[]'::jsonb),
    'parents', coalesce(jsonb_agg(o.key order by o.key) filter (
      where l.link_kind = 'hierarchy' and l.target_item_id = (delete_impact.target).id
    ), '[]'::jsonb),
    'verified_by', coalesce(jsonb_agg(o.key order by o.key) filter (
      where l.link_kind = 'verification' and l.target_item_id = (delete_impact.target).id
    ), '[]'::jsonb),
    'verifies', coalesce(jsonb_agg(o.key order by o.key) filter (
      where l.link_kind = 'verification' and l.source_item_id = (delete_impact.target).id
    ), '[]'::jsonb),
    'related', coalesce(jsonb_agg(o.key order by o.key) filter (where l.link_kind = 'related'), '[]'::jsonb),
    'link_count', count(l.id),
    -- requirements this test case is the only live verifier of: coverage they lose with it
    'requirements_losing_coverage', coalesce(jsonb_agg(o.key order by o.key) filter (
      where
        l.link_kind = 'verification'
        and l.source_item_id = (delete_impact.target).id
        and not exists (
          select 1
          from public.item_links as other
          inner join public.items as t on other.source_item_id = t.id
          where
            other.target_item_id = o.id
            and other.link_kind = 'verification'
            and other.deleted_at is null
            and other.source_item_id <> (delete_impact.target).id
            and t.deleted_at is null
        )
    ), '[]'::jsonb)
  )
  from public.item_links as l
  inner join public.items as o
    on o.id = case when l.source_item_id = (delete_impact.target).id then l.target_item_id else l.source_item_id end
  where
    (l.source_item_id = (delete_impact.target).id or l.target_item_id = (delete_impact.target).id)
    and l.project_id = (delete_impact.target).project_id
    and l.deleted_at is null
    and o.deleted_at is null
$$;

comment on function private.delete_impact(public.items) is
'atoms: what deleting an item takes out of the traceability views: keys of its live children, parents, verifying tests (verified_by), verified requirements (verifies), related items, the count of those live links, and the requirements that would lose their only live verifying test.';
revoke execute on function private.delete_impact(public.items) from public, anon;
grant execute on function private.delete_impact(public.items) to atoms_rpc_owner;

create or replace function private.apply_link(
  org_id uuid,
  project_id uuid,
  from_key text,
  to_key text,
  link_word text,
  link_action text
) returns jsonb
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  from_item public.items;
  to_item public.items;
  source_id uuid;
  target_id uuid;
  kind public.link_kind;
  phrase text;
  changed boolean;
begin
  perform private.require_item_key(apply_link.from_key, 'from_id');
  perform private.require_item_key(apply_link.to_key, 'to_id');
  perform private.require_choice(apply_link.link_word, 'type', array['parent', 'child', 'related', 'verifies', 'verified_by']);
  perform private.require_choice(apply_link.link_action, 'action', array['add', 'remove']);
  if apply_link.from_key = apply_link.to_key then
    raise exception 'an item cannot be linked to itself (%)', apply_link.from_key using errcode = '22023';
  end if;
  phrase := private.link_phrase(apply_link.from_key, apply_link.link_word, apply_link.to_key);

  if apply_link.link_action = 'add' then
    from_item := private.find_item(apply_link.project_id, apply_link.from_key, 'from_id');
    to_item := private.find_item(apply_link.project_id, apply_link.to_key, 'to_id');
    changed := private.add_link(apply_link.org_id, apply_link.project_id, from_item, to_item, apply_link.link_word);
    return jsonb_build_object(
      'from_id', apply_link.from_key, 'to_id', apply_link.to_key, 'type', apply_link.link_word,
      'action', 'add', 'changed', changed,
      'message', case when changed then 'Relationship added: ' else 'Relationship already exists: ' end || phrase
    );
  end if;

  -- remove: the items may since have been deleted; removing a link to them is still allowed.
  from_item := private.find_item(apply_link.project_id, apply_link.from_key, 'from_id', true);
  to_item := private.find_item(apply_link.project_id, apply_link.to_key, 'to_id', true);
  case apply_link.link_word
    when 'child' then kind := 'hierarchy'; source_id := from_item.id; target_id := to_item.id;
    when 'parent' then kind := 'hierarchy'; source_id := to_item.id; target_id := from_item.id;
    when 'verifies' then kind := 'verification'; source_id := from_item.id; target_id := to_item.id;
    when 'verified_by' then kind := 'verification'; source_id := to_item.id; target_id := from_item.id;
    else kind := 'related'; source_id := least(from_item.id, to_item.id); target_id := greatest(from_item.id, to_item.id);
  end case;

  update public.item_links as l
  set deleted_at = now(), deleted_by = (select private.caller_id())
  where l.project_id = apply_link.project_id and l.link_kind = kind and l.source_item_id = source_id
    and l.target_item_id = target_id and l.deleted_at is null;
  changed := found;
  return jsonb_build_object(
    'from_id', apply_link.from_key, 'to_id', apply_link.to_key, 'type', apply_link.link_word,
    'action', 'remove', 'changed', changed,
    'message', case when changed then 'Relationship removed: ' else 'Relationship not found, nothing to remove: ' end || phrase
  );
end;
$$;

comment on function private.apply_link(uuid, uuid, text, text, text, text) is
'atoms: validates and applies one link change (add or remove a link word between two item keys) in a project the caller has locked for writing; returns {from_id, to_id, type, action, changed, message}. Adding an existing link and removing a missing one change nothing; 22023 / PT404 on bad input.';
revoke execute on function private.apply_link(uuid, uuid, text, text, text, text) from public, anon;
grant execute on function private.apply_link(uuid, uuid, text, text, text, text) to atoms_rpc_owner;

-- ---- atoms_update_item ----
drop function if exists public.atoms_update_item(text, text, text, text, text, text[], text, text);

create or replace function public.atoms_update_item(
  project_id text,
  item_id text,
  title text default null,
  body text default null,
  summary text default null,
  domains text[] default null,
  level text default null,
  status text default null,
  reason text default null
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_update_item.project_id, 'project_id');
  org uuid;
  tags text[];
  given text[] := '{}'::text[];
  target public.items;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_update_item.item_id, 'item_id');
  if atoms_update_item.title is not null then
    perform private.require_single_line_text(atoms_update_item.title, 'title', 1, 500);
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
  perform pg_catalog.set_config('atoms.change_reason', private.require_change_reason(project, atoms_update_item.reason, 'update'), true);

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

comment on function public.atoms_update_item(text, text, text, text, text, text[], text, text, text) is
'atoms tool atoms_update_item (editor; security definer): changes only the given fields of a live item (domains replaces the list); status records a test result (test cases only); nothing given is 22023; reason (1-1000, required when the project''s settings say require_change_reason) is kept with the history rows. Returns {id, title, type, updated_fields}.';
alter function public.atoms_update_item(text, text, text, text, text, text[], text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_update_item(text, text, text, text, text, text[], text, text, text) from public, anon;
grant execute on function public.atoms_update_item(text, text, text, text, text, text[], text, text, text) to authenticated;

-- ---- atoms_delete_item ----
drop function if exists public.atoms_delete_item(text, text);

create or replace function public.atoms_delete_item(
  project_id text,
  item_id text,
  force boolean default false,
  reason text default null
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_delete_item.project_id, 'project_id');
  target public.items;
  impact jsonb;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_delete_item.item_id, 'item_id');
  if atoms_delete_item.force is null then
    raise exception 'force must be true or false' using errcode = '22023';
  end if;
  perform pg_catalog.set_config('atoms.change_reason', private.require_change_reason(project, atoms_delete_item.reason, 'delete'), true);
  if atoms_delete_item.force and atoms_delete_item.reason is null then
    raise exception 'force needs a reason: say why the item and its links leave the traceability views'
      using errcode = '22023', hint = 'Pass reason (1-1000 characters); it is kept in the item''s history.';
  end if;
  perform private.lock_project_for_write(project);
  -- A deleted item is not found (deleting twice -> PT404, with its deleted_at / deleted_by).
  target := private.find_item(project, atoms_delete_item.item_id, 'item');
  impact := private.delete_impact(target);
  if not atoms_delete_item.force and (
    jsonb_array_length(impact -> 'children') > 0
    or jsonb_array_length(impact -> 'verified_by') > 0
    or jsonb_array_length(impact -> 'verifies') > 0
  ) then
    raise exception '% has % live children and % live verification links: deleting it takes them out of every trace and coverage',
      target.key, jsonb_array_length(impact -> 'children'),
      jsonb_array_length(impact -> 'verified_by') + jsonb_array_length(impact -> 'verifies')
      using
        errcode = 'PT409',
        detail = impact::text,
        hint = 'Review the impact in details; to delete anyway pass force: true and a reason.';
  end if;
  update public.items as i
  set deleted_at = now(), deleted_by = (select private.caller_id())
  where i.id = target.id;
  return jsonb_build_object(
    'id', target.key, 'title', target.title, 'type', target.item_type, 'deleted', true,
    'message', 'Item ' || target.key || ' has been soft-deleted',
    'reason', atoms_delete_item.reason,
    'impact', impact
  );
end;
$$;

comment on function public.atoms_delete_item(text, text, boolean, text) is
'atoms tool atoms_delete_item (editor; security definer): soft-deletes a live item (deleted_at, deleted_by; its links stay stored but leave every view); an item with live children or verification links is refused with PT409 and the impact as JSON DETAIL unless force is true and a reason is given; reason (1-1000; required with force or when the project requires reasons) is kept in history; deleting an already deleted item is PT404 with its deleted_at and deleted_by. Returns {id, title, type, deleted, message, reason, impact}.';
alter function public.atoms_delete_item(text, text, boolean, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_delete_item(text, text, boolean, text) from public, anon;
grant execute on function public.atoms_delete_item(text, text, boolean, text) to authenticated;

-- ---- atoms_link_items ----
drop function if exists public.atoms_link_items(text, text, text, text, text);

create or replace function public.atoms_link_items(
  project_id text,
  from_id text default null,
  to_id text default null,
  type text default null,
  action text default 'add',
  links json default null,
  reason text default null
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_link_items.project_id, 'project_id');
  org uuid;
  single boolean := atoms_link_items.from_id is not null or atoms_link_items.to_id is not null or atoms_link_items.type is not null;
  link_json json;
  entry jsonb;
  idx integer;
  field text;
  outcome jsonb;
  done jsonb := '[]'::jsonb;
  failed jsonb := '[]'::jsonb;
  changed_count integer := 0;
  err_text text;
begin
  perform private.require_project_role(project, 'editor');
  if single and atoms_link_items.links is not null then
    raise exception 'give either from_id, to_id and type (one link) or links (many), not both' using errcode = '22023';
  end if;
  if not single and atoms_link_items.links is null then
    raise exception 'give from_id, to_id and type (one link) or links (1-500 links)' using errcode = '22023';
  end if;

  if single then
    perform private.require_item_key(atoms_link_items.from_id, 'from_id');
    perform private.require_item_key(atoms_link_items.to_id, 'to_id');
    perform private.require_choice(atoms_link_items.type, 'type', array['parent', 'child', 'related', 'verifies', 'verified_by']);
    perform private.require_choice(atoms_link_items.action, 'action', array['add', 'remove']);
    perform pg_catalog.set_config('atoms.change_reason', private.require_change_reason(project, atoms_link_items.reason, 'link change'), true);
    org := private.lock_project_for_write(project);
    return private.apply_link(
      org, project, atoms_link_items.from_id, atoms_link_items.to_id, atoms_link_items.type, atoms_link_items.action
    );
  end if;

  if json_typeof(atoms_link_items.links) <> 'array' then
    raise exception 'links must be a JSON array of 1 to 500 links, got %', json_typeof(atoms_link_items.links)
      using errcode = '22023';
  end if;
  if json_array_length(atoms_link_items.links) not between 1 and 500 then
    raise exception 'links must have 1 to 500 links, got %', json_array_length(atoms_link_items.links)
      using errcode = '22023', hint = 'Split larger sets into calls of at most 500 links.';
  end if;
  perform pg_catalog.set_config('atoms.change_reason', private.require_change_reason(project, atoms_link_items.reason, 'link change'), true);
  org := private.lock_project_for_write(project);

  for link_json, idx in
    select e.value, (e.position - 1)::integer
    from json_array_elements(atoms_link_items.links) with ordinality as e (value, position)
  loop
    entry := null;
    -- One sub-transaction per link: a failing link leaves nothing behind and does not stop the others.
    begin
      begin
        entry := link_json::jsonb;
      exception
        when untranslatable_character or invalid_text_representation then
          raise exception 'link must not contain U+0000 (NUL) or an unpaired surrogate escape' using errcode = '22023';
      end;
      if jsonb_typeof(entry) <> 'object' then
        raise exception 'link must be a JSON object, got %', jsonb_typeof(entry) using errcode = '22023';
      end if;
      select f into field from jsonb_object_keys(entry) as f
      where f not in ('from_id', 'to_id', 'type', 'action')
      limit 1;
      if field is not null then
        raise exception 'unknown field "%" (allowed: from_id, to_id, type, action)', left(field, 80) using errcode = '22023';
      end if;
      foreach field in array array['from_id', 'to_id', 'type', 'action'] loop
        if coalesce(jsonb_typeof(entry -> field), 'null') not in ('string', 'null') then
          raise exception '% must be a string, got %', field, jsonb_typeof(entry -> field) using errcode = '22023';
        end if;
      end loop;
      outcome := private.apply_link(
        org, project, entry ->> 'from_id', entry ->> 'to_id', entry ->> 'type', coalesce(entry ->> 'action', 'add')
      );
      if (outcome -> 'changed')::boolean then
        changed_count := changed_count + 1;
      end if;
      -- Without the sentence: 500 results stay well inside a tool result's size budget.
      done := done || jsonb_build_array(jsonb_build_object('index', idx) || (outcome - 'message'));
    exception
      when sqlstate '22023' or sqlstate 'PT404' or check_violation then
        get stacked diagnostics err_text = message_text;
        failed := failed || jsonb_build_array(jsonb_build_object(
          'index', idx,
          'from_id', case when jsonb_typeof(entry -> 'from_id') = 'string' then left(entry ->> 'from_id', 80) end,
          'to_id', case when jsonb_typeof(entry -> 'to_id') = 'string' then left(entry ->> 'to_id', 80) end,
          'type', case when jsonb_typeof(entry -> 'type') = 'string' then left(entry ->> 'type', 80) end,
          'error', err_text
        ));
    end;
  end loop;
  return jsonb_build_object(
    'processed', jsonb_array_length(done), 'changed', changed_count, 'links', done, 'errors', failed
  );
end;
$$;

comment on function public.atoms_link_items(text, text, text, text, text, json, text) is
'atoms tool atoms_link_items (editor; security definer): adds or removes (soft-deletes) relationships, either one (from_id, to_id, type, action; errors raised) or 1-500 given as links [{from_id, to_id, type, action?}], each applied independently with errors by 0-based index; exactly one of the two forms; adding an existing link and removing a missing one succeed without change; reason (1-1000; required when the project requires reasons) is kept in history. Returns one link: {from_id, to_id, type, action, changed, message}; links: {processed, changed, links: [{index, from_id, to_id, type, action, changed}], errors: [{index, from_id, to_id, type, error}]}.';
alter function public.atoms_link_items(text, text, text, text, text, json, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_link_items(text, text, text, text, text, json, text) from public, anon;
grant execute on function public.atoms_link_items(text, text, text, text, text, json, text) to authenticated;

-- ---- atoms_record_test_result ----
drop function if exists public.atoms_record_test_result(text, text, text, text);

create or replace function public.atoms_record_test_result(
  project_id text,
  item_id text,
  result text,
  note text default null,
  run_at text default null,
  build text default null,
  executed_by text default null,
  evidence text default null
) returns jsonb
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  project uuid := private.require_uuid(atoms_record_test_result.project_id, 'project_id');
  org uuid;
  ran_at timestamptz;
  target public.items;
  recorded public.test_results;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_record_test_result.item_id, 'item_id');
  perform private.require_enum(atoms_record_test_result.result, 'result', null::public.test_result);
  perform private.require_text(atoms_record_test_result.note, 'note', 0, 1000);
  ran_at := private.parse_audit_timestamp(atoms_record_test_result.run_at, 'run_at');
  if ran_at > now() then
    raise exception 'run_at must not be in the future, got %', private.iso_utc(ran_at)
      using errcode = '22023', hint = 'Give when the test ran (ISO-8601 with a zone, e.g. 2026-11-30T12:00:00Z), or omit it for now.';
  end if;
  if atoms_record_test_result.build is not null then
    perform private.require_single_line_text(atoms_record_test_result.build, 'build', 1, 200);
  end if;
  if atoms_record_test_result.executed_by is not null then
    perform private.require_single_line_text(atoms_record_test_result.executed_by, 'executed_by', 1, 320);
  end if;
  if atoms_record_test_result.evidence is not null then
    perform private.require_single_line_text(atoms_record_test_result.evidence, 'evidence', 1, 2000);
  end if;

  org := private.lock_project_for_write(project);
  target := private.find_item(project, atoms_record_test_result.item_id, 'item');
  if target.item_type <> 'test-case' then
    raise exception 'test results are recorded for test cases only; % is a %', target.key, target.item_type
      using errcode = '22023', hint = 'Pass the key of a test case (TC-...).';
  end if;
  if ran_at < target.created_at then
    raise exception 'run_at % is before test case % existed (created %)', private.iso_utc(ran_at), target.key, private.iso_utc(target.created_at)
      using errcode = '22023';
  end if;

  insert into public.test_results (
    org_id, project_id, item_id, result, note, recorded_by, actor, run_at, build, executed_by, executed_by_id, evidence
  )
  values (
    org, project, target.id, atoms_record_test_result.result::public.test_result,
    coalesce(atoms_record_test_result.note, ''), (select private.caller_id()), private.current_actor(),
    ran_at, atoms_record_test_result.build, atoms_record_test_result.executed_by,
    private.member_id_by_email(org, atoms_record_test_result.executed_by), atoms_record_test_result.evidence
  )
  returning * into recorded;
  return jsonb_build_object(
    'item_id', target.key,
    'result', recorded.result,
    'run_at', private.iso_utc(coalesce(recorded.run_at, recorded.recorded_at)),
    'run_by', recorded.recorded_by,
    'recorded_at', private.iso_utc(recorded.recorded_at),
    'recorded_by', recorded.recorded_by,
    'build', recorded.build,
    'executed_by', recorded.executed_by,
    'executed_by_id', recorded.executed_by_id,
    'evidence', recorded.evidence,
    'note', recorded.note,
    'message', 'Test result recorded for ' || target.key
  );
end;
$$;

comment on function public.atoms_record_test_result(text, text, text, text, text, text, text, text) is
'atoms tool atoms_record_test_result (editor; security definer): appends a run (passed | failed | blocked | not-run, note <= 1000) of a live test case, with run_at (when it ran: ISO-8601, not in the future, not before the test case existed; not given: when recorded), build (<= 200), executed_by (a member''s email, resolved to executed_by_id, or a free name; <= 320) and evidence (a URL or report id, <= 2000); recorded_at and the recorder (run_by = recorded_by) are the call''s. Returns {item_id, result, run_at, run_by, recorded_at, recorded_by, build, executed_by, executed_by_id, evidence, note, message}.';
alter function public.atoms_record_test_result(text, text, text, text, text, text, text, text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_record_test_result(text, text, text, text, text, text, text, text) from public, anon;
grant execute on function public.atoms_record_test_result(text, text, text, text, text, text, text, text) to authenticated;
