-- Helpers for change reasons and for telling a member that an item was deleted.
-- Objects: private.project_requires_change_reason, private.require_change_reason, private.deleted_item_details,
--   private.raise_item_not_found; private.find_item (replaced: a deleted item's PT404 carries its details).
-- Reasons: a write RPC that takes a reason validates it (1-1000 characters, text rules), refuses its absence when
--   the project's settings say require_change_reason, and sets atoms.change_reason locally in its own body; it lasts
--   until the RPC returns (the RPC's SET clause scopes it), and private.append_history copies it into every
--   change_history row the call writes.
-- Not found: PT404's DETAIL is a JSON object {id, deleted_at, deleted_by} when the item exists but is soft-deleted and
--   the caller may see the project (the shim returns it as error.details), so a member knows to ask an admin for
--   atoms_restore_item; to anybody else the item simply does not exist.
-- Security: project_requires_change_reason and deleted_item_details are security definer (owned by the migration
--   runner, like the RBAC helpers) and answer only for projects the caller may see, checked with
--   private.visible_project_ids / private.has_project_role; the others are security invoker.

-- ---- change reasons ----
create or replace function private.project_requires_change_reason(project_id uuid) returns boolean
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select coalesce(
    (
      select p.settings -> 'require_change_reason' = 'true'::jsonb
      from public.projects as p
      where
        p.id = project_requires_change_reason.project_id
        and p.id in (select private.visible_project_ids())
    ),
    false
  )
$$;

comment on function private.project_requires_change_reason(uuid) is
'atoms: true when the project''s settings say require_change_reason: true (update, delete and link then need a reason); false otherwise, also for a project the caller cannot see (security definer: it checks visibility itself).';
revoke execute on function private.project_requires_change_reason(uuid) from public, anon;
grant execute on function private.project_requires_change_reason(uuid) to authenticated, atoms_rpc_owner;

create or replace function private.require_change_reason(project_id uuid, reason text, action text) returns text
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  if require_change_reason.reason is not null then
    perform private.require_text(require_change_reason.reason, 'reason', 1, 1000);
  elsif private.project_requires_change_reason(require_change_reason.project_id) then
    raise exception 'reason is required: this project requires a reason for every %', require_change_reason.action
      using errcode = '22023', hint = 'Say why in reason (1-1000 characters); it is kept in the item''s history.';
  end if;
  return coalesce(require_change_reason.reason, '');
end;
$$;

comment on function private.require_change_reason(uuid, text, text) is
'atoms: validates a write''s reason (null or 1-1000 characters of permitted text) and refuses a missing one (22023) when private.project_requires_change_reason says so; returns the reason, '''' for none. The write RPC stores it with set_config(''atoms.change_reason'', ..., true) in its own body (a SET LOCAL made inside a function with a SET clause, such as this one, ends with that function), and private.append_history copies it into every history row the RPC writes.';
revoke execute on function private.require_change_reason(uuid, text, text) from public, anon;
grant execute on function private.require_change_reason(uuid, text, text) to atoms_rpc_owner;

-- ---- deleted items ----
create or replace function private.deleted_item_details(project_id uuid, item_key text) returns jsonb
language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'id', i.key,
    'deleted_at', private.iso_utc(i.deleted_at),
    'deleted_by', i.deleted_by
  )
  from public.items as i
  where
    i.project_id = deleted_item_details.project_id
    and i.key = deleted_item_details.item_key
    and i.deleted_at is not null
    and (select private.has_project_role(deleted_item_details.project_id, 'viewer'))
$$;

comment on function private.deleted_item_details(uuid, text) is
'atoms: {id, deleted_at, deleted_by} of a soft-deleted item of a project the caller may see (security definer: it checks the caller''s viewer role itself, since the authenticated policies hide deleted items), else null.';
revoke execute on function private.deleted_item_details(uuid, text) from public, anon;
grant execute on function private.deleted_item_details(uuid, text) to authenticated, atoms_rpc_owner;

create or replace function private.raise_item_not_found(project_id uuid, item_key text, field text) returns void
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  details jsonb := private.deleted_item_details(raise_item_not_found.project_id, raise_item_not_found.item_key);
begin
  if details is not null then
    raise exception '% % not found in this project (it has been deleted)', raise_item_not_found.field, raise_item_not_found.item_key
      using
        errcode = 'PT404',
        detail = details::text,
        hint = 'An admin can restore it with atoms_restore_item; atoms_get_history shows who deleted it and why.';
  end if;
  raise exception '% % not found in this project', raise_item_not_found.field, raise_item_not_found.item_key
    using errcode = 'PT404', hint = 'Use atoms_list_items or atoms_search to find item keys.';
end;
$$;

comment on function private.raise_item_not_found(uuid, text, text) is
'atoms: raises PT404 for an item key that names no live item; when the item is soft-deleted (and the caller may see the project) the message says so and DETAIL is the JSON {id, deleted_at, deleted_by}.';
revoke execute on function private.raise_item_not_found(uuid, text, text) from public, anon;
grant execute on function private.raise_item_not_found(uuid, text, text) to authenticated, atoms_rpc_owner;

create or replace function private.find_item(
  project_id uuid,
  item_key text,
  field text,
  include_deleted boolean default false
) returns public.items
language plpgsql stable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  found public.items;
begin
  select * into found
  from public.items as i
  where i.project_id = find_item.project_id and i.key = find_item.item_key;
  if found.id is null or (found.deleted_at is not null and not find_item.include_deleted) then
    perform private.raise_item_not_found(find_item.project_id, find_item.item_key, find_item.field);
  end if;
  return found;
end;
$$;

comment on function private.find_item(uuid, text, text, boolean) is
'atoms: the item with a key in a project (live only unless include_deleted), read under the caller''s RLS; otherwise PT404 naming the field (private.raise_item_not_found: a deleted item''s details in DETAIL).';
