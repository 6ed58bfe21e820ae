-- Names beside every person's id in the record, as they were when the row was written: history, test results and
-- the MCP audit log carry the display name and the email (the identity) of their person, copied from the profile
-- by BEFORE INSERT triggers (the only source: a writer cannot name someone else), so a later rename, a removal or a
-- deleted account never changes what a row says.
-- Objects: columns change_history.changed_by_name/_email, test_results.recorded_by_name/_email,
--   mcp_audit_log.user_name/_email; private.stamp_history_person, private.stamp_test_result_person,
--   private.stamp_audit_person, private.follow_stored_chain_row and their triggers.
-- History chain: the names are part of the record, so they are inside the hash. The columns are nullable without a
--   default: rows written before keep their canonical form and hash (hash_version 1 leaves null columns out), rows
--   written after hash their names. The history writer (private.append_history, unchanged) hashes the row before this
--   trigger names its person, so the trigger re-hashes it (only when the writer's hash was right for the row as sent:
--   a wrong hash is never made right here), and the chain head takes its hash from the stored row.

-- ---- columns ----
alter table public.change_history add column if not exists changed_by_name text;
alter table public.change_history add column if not exists changed_by_email text;
alter table public.test_results add column if not exists recorded_by_name text;
alter table public.test_results add column if not exists recorded_by_email text;
alter table public.mcp_audit_log add column if not exists user_name text;
alter table public.mcp_audit_log add column if not exists user_email text;

comment on column public.change_history.changed_by_name is
'Display name of changed_by when the row was written (public.profiles); null for rows written before names were recorded, or when the person had none. Part of the hashed row.';
comment on column public.change_history.changed_by_email is
'Email of changed_by when the row was written (public.profiles); null for rows written before names were recorded. Part of the hashed row.';
comment on column public.test_results.recorded_by_name is 'Display name of recorded_by when the result was recorded (public.profiles).';
comment on column public.test_results.recorded_by_email is 'Email of recorded_by when the result was recorded (public.profiles).';
comment on column public.mcp_audit_log.user_name is 'Display name of user_id when the call was recorded (public.profiles).';
comment on column public.mcp_audit_log.user_email is 'Email of user_id when the call was recorded (public.profiles).';

-- ---- triggers ----
create or replace function private.stamp_history_person() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  person_name text;
  person_email text;
  hash_was_right boolean;
begin
  if new.changed_by is not null then
    insert into private.organization_people (org_id, user_id)
    values (new.org_id, new.changed_by)
    on conflict on constraint organization_people_pkey do nothing;
    select p.display_name, p.email into person_name, person_email
    from public.profiles as p
    where p.id = new.changed_by;
  end if;
  -- The profile is the only source: whatever a writer put in the name columns is replaced.
  if (new.changed_by_name, new.changed_by_email) is not distinct from (person_name, person_email) then
    return new;
  end if;
  hash_was_right := new.row_hash = private.history_row_hash(new.prev_hash, new);
  new.changed_by_name := person_name;
  new.changed_by_email := person_email;
  if hash_was_right then
    new.row_hash := private.history_row_hash(new.prev_hash, new);
  end if;
  return new;
end;
$$;

comment on function private.stamp_history_person() is
'atoms: BEFORE INSERT trigger on change_history: sets changed_by_name and changed_by_email from the profile of changed_by (the only source: values a writer sent are replaced) and re-hashes the row when that changed it, only if the writer''s hash was right for the row as sent; records the person among the organisation''s people.';
revoke execute on function private.stamp_history_person() from public, anon, authenticated;

create or replace function private.follow_stored_chain_row() returns trigger
language plpgsql volatile security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  stored_hash text;
begin
  select h.row_hash into stored_hash
  from public.change_history as h
  where h.scope = new.scope and h.scope_id = new.scope_id and h.chain_seq = new.last_seq;
  if stored_hash is not null then
    new.last_hash := stored_hash;
  end if;
  return new;
end;
$$;

comment on function private.follow_stored_chain_row() is
'atoms: BEFORE UPDATE trigger on history_chain_heads: the head''s last_hash is the row_hash of the stored row at last_seq (the row as its insert triggers completed it), so the next row chains to what is stored.';
revoke execute on function private.follow_stored_chain_row() from public, anon, authenticated;

create or replace function private.stamp_test_result_person() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  new.recorded_by_name := null;
  new.recorded_by_email := null;
  if new.recorded_by is not null then
    select p.display_name, p.email into new.recorded_by_name, new.recorded_by_email
    from public.profiles as p
    where p.id = new.recorded_by;
  end if;
  return new;
end;
$$;

comment on function private.stamp_test_result_person() is
'atoms: BEFORE INSERT trigger on test_results: sets recorded_by_name and recorded_by_email from the profile of recorded_by (the only source: values a writer sent are replaced).';
revoke execute on function private.stamp_test_result_person() from public, anon, authenticated;

create or replace function private.stamp_audit_person() returns trigger
language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  new.user_name := null;
  new.user_email := null;
  if new.user_id is null then
    return new;
  end if;
  if new.org_id is not null then
    insert into private.organization_people (org_id, user_id)
    values (new.org_id, new.user_id)
    on conflict on constraint organization_people_pkey do nothing;
  end if;
  select p.display_name, p.email into new.user_name, new.user_email
  from public.profiles as p
  where p.id = new.user_id;
  return new;
end;
$$;

comment on function private.stamp_audit_person() is
'atoms: BEFORE INSERT trigger on mcp_audit_log: sets user_name and user_email from the profile of user_id (the only source: values a writer sent are replaced) and records the person among the organisation''s people. Reads one row by key and never raises on data.';
revoke execute on function private.stamp_audit_person() from public, anon, authenticated;

-- Named to fire after every other BEFORE INSERT trigger of its table (triggers fire in name order).
create or replace trigger change_history_stamp_person
before insert on public.change_history
for each row execute function private.stamp_history_person();

create or replace trigger history_chain_heads_follow_stored_row
before update on private.history_chain_heads
for each row execute function private.follow_stored_chain_row();

create or replace trigger test_results_stamp_person
before insert on public.test_results
for each row execute function private.stamp_test_result_person();

create or replace trigger mcp_audit_log_stamp_person
before insert on public.mcp_audit_log
for each row execute function private.stamp_audit_person();

comment on trigger change_history_stamp_person on public.change_history is
'atoms: the person''s name and email as they were, inside the row''s hash.';
comment on trigger history_chain_heads_follow_stored_row on private.history_chain_heads is
'atoms: the chain head follows the stored row''s hash.';
comment on trigger test_results_stamp_person on public.test_results is 'atoms: the person''s name and email as they were.';
comment on trigger mcp_audit_log_stamp_person on public.mcp_audit_log is 'atoms: the person''s name and email as they were.';
