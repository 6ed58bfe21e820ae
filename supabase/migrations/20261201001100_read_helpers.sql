-- Helpers shared by the read RPCs: timestamps, item summaries, the pagination envelope, history events.
-- Objects: private.iso_utc, private.item_summary, private.page_envelope, private.history_event.
-- Security: pure functions of their arguments (security invoker, search_path pg_catalog, pg_temp); they read no table.

create or replace function private.iso_utc(ts timestamptz) returns text
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select pg_catalog.to_char(iso_utc.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

comment on function private.iso_utc(timestamptz) is
'atoms: a timestamp as ISO-8601 UTC text (2026-11-30T00:15:57.123456Z), independent of the session time zone.';
revoke execute on function private.iso_utc(timestamptz) from public, anon;
grant execute on function private.iso_utc(timestamptz) to authenticated, atoms_rpc_owner;

create or replace function private.item_summary(item public.items) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'id', (item_summary.item).key,
    'type', (item_summary.item).item_type,
    'title', (item_summary.item).title,
    'summary', (item_summary.item).summary,
    'domains', to_jsonb((item_summary.item).domains),
    'level', (item_summary.item).level
  )
$$;

comment on function private.item_summary(public.items) is
'atoms: the catalogue''s ItemSummary {id (human key), type, title, summary, domains, level} of one item row.';
revoke execute on function private.item_summary(public.items) from public, anon;
grant execute on function private.item_summary(public.items) to authenticated, atoms_rpc_owner;

create or replace function private.page_envelope(page jsonb, total bigint, page_limit integer, page_offset integer)
returns jsonb
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'data', page_envelope.page,
    'meta', jsonb_build_object(
      'total_count', page_envelope.total,
      'limit', page_envelope.page_limit,
      'offset', page_envelope.page_offset,
      'has_more', page_envelope.page_offset + jsonb_array_length(page_envelope.page) < page_envelope.total
    )
  )
$$;

comment on function private.page_envelope(jsonb, bigint, integer, integer) is
'atoms: the {data, meta {total_count, limit, offset, has_more}} answer of every paginated read tool.';
revoke execute on function private.page_envelope(jsonb, bigint, integer, integer) from public, anon;
grant execute on function private.page_envelope(jsonb, bigint, integer, integer) to authenticated, atoms_rpc_owner;

create or replace function private.history_event(h public.change_history) returns jsonb
language sql stable security invoker set search_path = pg_catalog, pg_temp
as $$
  select jsonb_build_object(
    'event_type', h.event_type,
    'changed_by', h.changed_by,
    'changed_at', private.iso_utc(h.changed_at),
    'actor', h.actor,
    'session_id', h.session_id,
    'fields_changed', to_jsonb(h.fields_changed),
    'old_values', h.old_values,
    'new_values', h.new_values
  )
$$;

comment on function private.history_event(public.change_history) is
'atoms: one change_history row as the history tools show it (event_type, changed_by, changed_at in UTC, actor, session_id, fields_changed, old_values, new_values).';
revoke execute on function private.history_event(public.change_history) from public, anon;
grant execute on function private.history_event(public.change_history) to authenticated, atoms_rpc_owner;
