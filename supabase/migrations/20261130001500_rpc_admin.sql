-- Admin and integrity RPCs: restore a soft-deleted item; verify a project's history hash chain.
-- Objects: public.atoms_restore_item (admin), public.atoms_verify_history (any member).
-- Security: security definer owned by atoms_rpc_owner (RLS applies with the caller's auth.uid()), EXECUTE for
--   authenticated only. Restore calls private.require_project_role(project, 'admin') first and is logged as the
--   history event 'restored'; verification reads the chain under the RPC owner's policies (viewer and up).

-- ---- RPCs ----
create or replace function public.atoms_restore_item(project_id text, item_id text) returns jsonb
language plpgsql volatile security definer set search_path = ''
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

create or replace function public.atoms_verify_history(project_id text) returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  project uuid := private.require_uuid(atoms_verify_history.project_id, 'project_id');
  outcome record;
begin
  perform private.require_project_role(project, 'viewer');
  select * into outcome from private.history_first_break(project);
  return jsonb_build_object(
    'intact', outcome.reason is null,
    'checked_rows', outcome.checked_rows,
    'first_broken', case when outcome.reason is not null then jsonb_build_object(
      'chain_seq', outcome.chain_seq, 'id', outcome.id, 'changed_at', outcome.changed_at, 'reason', outcome.reason
    ) end
  );
end;
$$;

comment on function public.atoms_verify_history(text) is
'atoms RPC atoms_verify_history (viewer and up): recomputes the project''s history hash chain. Returns {intact, checked_rows, first_broken: null | {chain_seq, id, changed_at, reason}}.';
alter function public.atoms_verify_history(text) owner to atoms_rpc_owner;
revoke execute on function public.atoms_verify_history(text) from public, anon;
grant execute on function public.atoms_verify_history(text) to authenticated;
