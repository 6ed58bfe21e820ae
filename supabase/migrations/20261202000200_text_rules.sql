-- Text that cannot disguise itself: the code points refused in text arguments, defined once and applied by the
-- shared validation helpers, so every RPC that validates text gets them.
-- Objects: private.refused_code_point (the one list of refused code points), private.require_permitted_code_points,
--   private.require_text (replaced: names the refused code point), private.require_single_line_text (new: titles,
--   tags), private.normalize_domains (replaced: tags are single-line), public.atoms_create_item and
--   public.atoms_update_item (replaced: the title is single-line).
-- Rules: every text field refuses C0 controls other than tab, LF and CR, DEL and the C1 controls (U+0001-U+0008,
--   U+000B, U+000C, U+000E-U+001F, U+007F-U+009F) and the bidirectional embedding, override and isolate controls
--   (U+202A-U+202E, U+2066-U+2069), which make text display differently from what is stored (Trojan Source).
--   Single-line fields (titles, tags) also refuse U+2028, U+2029 (line and paragraph separators), U+200B, U+2060 and
--   U+FEFF (invisible). Allowed: ZWNJ/ZWJ U+200C/U+200D (Persian and Indic spelling, emoji sequences) and the
--   direction marks U+200E/U+200F (right-to-left text). U+0000 never reaches text: PostgreSQL refuses it.
-- Security: pure functions (immutable, security invoker); errors are 22023 naming the field and the code point.

-- ---- the refused code points ----
create or replace function private.refused_code_point(value text, single_line boolean) returns integer
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select ascii(found.code_point[1])
  from regexp_match(
    refused_code_point.value,
    case
      when refused_code_point.single_line
        then '([\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff])'
      else '([\u0001-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069])'
    end
  ) as found (code_point)
$$;

comment on function private.refused_code_point(text, boolean) is
'atoms: the first code point of value that text arguments refuse (as an integer), or null. Every text field: C0 controls but tab/LF/CR, DEL, C1 controls (U+0080-U+009F), bidirectional embedding/override/isolate controls (U+202A-U+202E, U+2066-U+2069). single_line (titles, tags) also: U+2028, U+2029, U+200B, U+2060, U+FEFF. The one definition of these lists: the shim''s input models are tested against it over every code point.';
revoke execute on function private.refused_code_point(text, boolean) from public, anon;
grant execute on function private.refused_code_point(text, boolean) to authenticated, atoms_rpc_owner;

create or replace function private.require_permitted_code_points(value text, field text, single_line boolean) returns text
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  code integer := private.refused_code_point(require_permitted_code_points.value, require_permitted_code_points.single_line);
begin
  if code is null then
    return require_permitted_code_points.value;
  end if;
  raise exception '% must not contain U+% (%)', require_permitted_code_points.field, upper(lpad(to_hex(code), 4, '0')),
    case
      when code < 160 then 'a control character; only tab, line feed and carriage return are allowed'
      when code between 8234 and 8238 or code between 8294 and 8297
        then 'a bidirectional control: the text would display differently from what is stored'
      else 'a line separator or an invisible character, not allowed in a single-line field'
    end
    using errcode = '22023';
end;
$$;

comment on function private.require_permitted_code_points(text, text, boolean) is
'atoms: value unchanged, or 22023 naming the field and the first refused code point as U+XXXX (private.refused_code_point) and why it is refused.';
revoke execute on function private.require_permitted_code_points(text, text, boolean) from public, anon;
grant execute on function private.require_permitted_code_points(text, text, boolean) to authenticated, atoms_rpc_owner;

-- ---- the shared text helpers ----
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
  return private.require_permitted_code_points(value, field, false);
end;
$$;

comment on function private.require_text(text, text, integer, integer) is
'atoms: text of min..max characters without refused code points (private.refused_code_point: controls but tab/LF/CR, bidirectional controls), stored verbatim; null allowed only when min_length is 0.';

create or replace function private.require_single_line_text(
  value text,
  field text,
  min_length integer,
  max_length integer
) returns text
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
begin
  perform private.require_text(
    require_single_line_text.value, require_single_line_text.field,
    require_single_line_text.min_length, require_single_line_text.max_length
  );
  return private.require_permitted_code_points(require_single_line_text.value, require_single_line_text.field, true);
end;
$$;

comment on function private.require_single_line_text(text, text, integer, integer) is
'atoms: private.require_text for single-line fields (titles, tags): also refuses line and paragraph separators and invisible characters (U+2028, U+2029, U+200B, U+2060, U+FEFF).';
revoke execute on function private.require_single_line_text(text, text, integer, integer) from public, anon;
grant execute on function private.require_single_line_text(text, text, integer, integer) to authenticated, atoms_rpc_owner;

create or replace function private.normalize_domains(value text[], field text) returns text[]
language plpgsql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
declare
  tag text;
  result text[] := '{}'::text[];
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
    perform private.require_single_line_text(tag, field || ' tag', 1, 64);
    if not (tag = any(result)) then
      result := result || tag;
    end if;
  end loop;
  return result;
end;
$$;

comment on function private.normalize_domains(text[], text) is
'atoms: domain tags trimmed, lower-cased and de-duplicated in order; at most 20 single-line tags of 1-64 characters; null stays null.';

-- ---- RPCs whose title is a single-line field ----
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
  parent_keys text[] := '{}'::text[];
  parents public.items[] := '{}'::public.items[];
  parent public.items;
  created public.items;
begin
  perform private.require_project_role(project, 'editor');
  perform private.require_enum(atoms_create_item.type, 'type', null::public.item_type);
  perform private.require_single_line_text(atoms_create_item.title, 'title', 1, 500);
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
