-- Argument validation shared by every RPC, so each rule is written once.
-- Objects: private.require_uuid, private.require_item_key, private.require_text,
--   private.require_choice, private.require_int_range, private.normalize_domains, private.require_enum (the
--   enums are the one list of allowed values: no RPC repeats them).
-- Security: pure functions (immutable; require_enum stable, as enums grow; security invoker). They raise 22023
--   (invalid_parameter_value) with a message that names the field, the rule and what was given.
-- Limits (mirrored by the shim's pydantic models): title 1-500, summary <= 2000, body <= 100000,
--   note <= 1000, domains <= 20 tags of 1-64 characters; control characters other than tab, line
--   feed and carriage return are refused everywhere.

create or replace function private.require_uuid(value text, field text) returns uuid
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  if value is null then
    raise exception '% is required (a UUID such as 00000000-0000-4000-8000-000000000000)', field
      using errcode = '22023';
  end if;
  if value !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    raise exception '% must be a UUID such as 00000000-0000-4000-8000-000000000000, got "%"',
      field, left(value, 80)
      using errcode = '22023';
  end if;
  return value::uuid;
end;
$$;

comment on function private.require_uuid(text, text) is
'atoms: strict UUID (8-4-4-4-12 hex, no braces, no missing hyphens) or 22023 naming the field.';
revoke execute on function private.require_uuid(text, text) from public, anon;
grant execute on function private.require_uuid(text, text) to authenticated, atoms_rpc_owner;

create or replace function private.require_item_key(value text, field text) returns text
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  if value is null then
    raise exception '% is required (an item key such as REQ-001)', field using errcode = '22023';
  end if;
  if value !~ '^[A-Z]+-[0-9]{3,}$' or char_length(value) > 40 then
    raise exception '% must be an item key such as REQ-001, TC-050 or NOTE-003 (upper-case prefix, hyphen, at least 3 digits), got "%"',
      field, left(value, 80)
      using errcode = '22023';
  end if;
  return value;
end;
$$;

comment on function private.require_item_key(text, text) is 'atoms: item key matching ^[A-Z]+-\d{3,}$ or 22023 naming the field.';
revoke execute on function private.require_item_key(text, text) from public, anon;
grant execute on function private.require_item_key(text, text) to authenticated, atoms_rpc_owner;

create or replace function private.require_text(value text, field text, min_length integer, max_length integer) returns text
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  if value is null then
    if min_length > 0 then
      raise exception '% is required (% to % characters)', field, min_length, max_length using errcode = '22023';
    end if;
    return null;
  end if;
  if char_length(value) < min_length or char_length(value) > max_length then
    raise exception '% must be % to % characters, got %', field, min_length, max_length, char_length(value)
      using errcode = '22023';
  end if;
  if value ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]' then
    raise exception '% must not contain control characters (only tab, line feed and carriage return are allowed)', field
      using errcode = '22023';
  end if;
  return value;
end;
$$;

comment on function private.require_text(text, text, integer, integer) is
'atoms: text of min..max characters without control characters (tab, LF, CR allowed), stored verbatim; null allowed only when min_length is 0.';
revoke execute on function private.require_text(text, text, integer, integer) from public, anon;
grant execute on function private.require_text(text, text, integer, integer) to authenticated, atoms_rpc_owner;

create or replace function private.require_choice(value text, field text, choices text[]) returns text
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  if value is null or not (value = any(choices)) then
    raise exception '% must be one of %, got "%"', field, array_to_string(choices, ' | '), coalesce(left(value, 80), 'null')
      using errcode = '22023';
  end if;
  return value;
end;
$$;

comment on function private.require_choice(text, text, text[]) is 'atoms: one of the allowed values (case-sensitive) or 22023 listing them.';
revoke execute on function private.require_choice(text, text, text[]) from public, anon;
grant execute on function private.require_choice(text, text, text[]) to authenticated, atoms_rpc_owner;

create or replace function private.require_int_range(value integer, field text, min_value integer, max_value integer) returns integer
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  if value is null or value < min_value or value > max_value then
    raise exception '% must be an integer from % to %, got %', field, min_value, max_value, coalesce(value::text, 'null')
      using errcode = '22023';
  end if;
  return value;
end;
$$;

comment on function private.require_int_range(integer, text, integer, integer) is 'atoms: integer within [min, max] or 22023 naming the range.';
revoke execute on function private.require_int_range(integer, text, integer, integer) from public, anon;
grant execute on function private.require_int_range(integer, text, integer, integer) to authenticated, atoms_rpc_owner;

create or replace function private.normalize_domains(value text[], field text) returns text[]
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  tag text;
  result text[] := '{}';
begin
  if value is null then
    return null;
  end if;
  if cardinality(value) > 20 then
    raise exception '% must have at most 20 tags, got %', field, cardinality(value) using errcode = '22023';
  end if;
  foreach tag in array value loop
    if tag is null then
      raise exception '% must not contain null', field using errcode = '22023';
    end if;
    tag := lower(btrim(tag));
    perform private.require_text(tag, field || ' tag', 1, 64);
    if not (tag = any(result)) then
      result := result || tag;
    end if;
  end loop;
  return result;
end;
$$;

comment on function private.normalize_domains(text[], text) is
'atoms: domain tags trimmed, lower-cased and de-duplicated in order; at most 20 tags of 1-64 characters; null stays null.';
revoke execute on function private.normalize_domains(text[], text) from public, anon;
grant execute on function private.normalize_domains(text[], text) to authenticated, atoms_rpc_owner;

create or replace function private.require_enum(value text, field text, kind anyenum) returns text
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select private.require_choice(require_enum.value, require_enum.field, pg_catalog.enum_range(require_enum.kind)::text[])
$$;

comment on function private.require_enum(text, text, anyenum) is
'atoms: one of the values of the enum type of kind (pass null::public.<type>), or 22023 listing them. The enum is the one list of allowed values: a value added with alter type ... add value is accepted everywhere at once.';
revoke execute on function private.require_enum(text, text, anyenum) from public, anon;
grant execute on function private.require_enum(text, text, anyenum) to authenticated, atoms_rpc_owner;
