-- Test result RPC: append one run of a test case.
-- Objects: public.atoms_record_test_result.
-- Security: security definer owned by atoms_rpc_owner (RLS applies with the caller's auth.uid()), EXECUTE for
--   authenticated only; validates every argument (22023) after private.require_project_role(project, 'editor').
--   The history trigger writes the test_recorded event; actor is 'user' unless the MCP gateway set it.

-- ---- RPCs ----
create or replace function public.atoms_record_test_result(
  project_id text,
  item_id text,
  result text,
  note text default null
) returns jsonb
language plpgsql volatile security definer set search_path = ''
as $$
declare
  project uuid := private.require_uuid(atoms_record_test_result.project_id, 'project_id');
  org uuid;
  target public.items;
  recorded public.test_results;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_item_key(atoms_record_test_result.item_id, 'item_id');
  perform private.require_choice(atoms_record_test_result.result, 'result', array['passed', 'failed', 'blocked', 'not-run']);
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
