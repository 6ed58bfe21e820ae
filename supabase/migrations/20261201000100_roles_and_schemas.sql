-- Roles, schemas, extensions and types every later migration builds on.
-- Objects: role atoms_mcp_gateway (the MCP server's login), role atoms_rpc_owner (owns the RPCs), schema private
--   (never exposed through the API) and the schema grants, extension btree_gin, the domain's enums (items, links,
--   results; history event types and scopes; MCP call statuses), the actor vocabulary (private.is_actor and the
--   domain public.actor_tag), the text search dictionary and configuration of item search.
-- Security: privileges are closed by default (no EXECUTE for PUBLIC on new functions); the gateway is NOINHERIT
--   and a member of authenticated and anon only, so it holds no privilege of its own until it takes on
--   authenticated for one transaction; the RPC owner has no BYPASSRLS.

-- ---- privileges closed by default ----
alter default privileges revoke execute on functions from public;
alter default privileges in schema public revoke execute on functions from anon, authenticated;
alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;

-- ---- roles (cluster-wide, so every creation is guarded) ----
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'atoms_mcp_gateway') then
    create role atoms_mcp_gateway login noinherit nobypassrls nocreatedb nocreaterole;
  end if;
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'atoms_rpc_owner') then
    create role atoms_rpc_owner nologin noinherit nobypassrls nocreatedb nocreaterole;
  end if;
end
$$;

-- Roles that already existed are checked, not altered blindly: on hosted Supabase the migration runner is not a
-- superuser, and any ALTER ROLE naming [NO]BYPASSRLS or [NO]SUPERUSER needs one (PostgreSQL 15). NOINHERIT and
-- NOLOGIN need only CREATEROLE.
do $$
begin
  if exists (
    select 1 from pg_catalog.pg_roles
    where rolname in ('atoms_mcp_gateway', 'atoms_rpc_owner') and (rolsuper or rolbypassrls)
  ) then
    raise exception 'atoms_mcp_gateway and atoms_rpc_owner must be NOSUPERUSER NOBYPASSRLS'
      using errcode = '42501',
      hint = 'A superuser must run: alter role atoms_mcp_gateway nosuperuser nobypassrls; alter role atoms_rpc_owner nosuperuser nobypassrls;';
  end if;
  if exists (select 1 from pg_catalog.pg_roles where rolname = 'atoms_mcp_gateway' and rolinherit) then
    alter role atoms_mcp_gateway noinherit;
  end if;
  if exists (select 1 from pg_catalog.pg_roles where rolname = 'atoms_rpc_owner' and rolcanlogin) then
    alter role atoms_rpc_owner nologin;
  end if;
end
$$;

grant authenticated to atoms_mcp_gateway;
grant anon to atoms_mcp_gateway;
-- The migration runner must be able to hand functions to the RPC owner (ALTER FUNCTION ... OWNER TO).
grant atoms_rpc_owner to current_user;

comment on role atoms_mcp_gateway is
'atoms: login of the MCP server. NOINHERIT member of authenticated and anon only: it can read or write nothing until it runs set_config(''role'', ''authenticated'', true) with a verified user''s claims.';
comment on role atoms_rpc_owner is
'atoms: NOLOGIN owner of the security-definer RPCs. Has table privileges but not BYPASSRLS: the tables'' policies apply to it with the caller''s auth.uid().';

-- ---- schemas ----
create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role, atoms_rpc_owner;
-- The MCP server's plain login reaches exactly one private function: the audit batch writer (mcp_audit_log).
grant usage on schema private to atoms_mcp_gateway;
grant usage on schema public to anon, authenticated, service_role, atoms_rpc_owner;
-- ALTER FUNCTION ... OWNER TO atoms_rpc_owner (every RPC it owns) requires the new owner to hold CREATE on the
-- function's schema. The role is NOLOGIN and runs only the fixed bodies of the RPCs it owns, so this grants no
-- reachable power; no API role can SET ROLE to it.
grant create on schema public to atoms_rpc_owner;
grant usage on schema extensions to atoms_rpc_owner;

comment on schema private is
'atoms: RBAC helpers, counters, rate-limit state and writers. Never listed in [api] schemas; anon has no USAGE.';

-- ---- extensions ----
-- btree_gin: the GIN index over (project_id, search_vector) keeps item search O(project) (core_tables).
create extension if not exists btree_gin with schema extensions;

-- ---- types ----
do $$
begin
  create type public.member_role as enum ('viewer', 'editor', 'admin');
exception when duplicate_object then null;
end
$$;

do $$
begin
  create type public.item_type as enum ('requirement', 'test-case', 'note');
exception when duplicate_object then null;
end
$$;

do $$
begin
  create type public.item_level as enum ('System', 'Subsystem', 'Component');
exception when duplicate_object then null;
end
$$;

do $$
begin
  create type public.link_kind as enum ('hierarchy', 'verification', 'related');
exception when duplicate_object then null;
end
$$;

do $$
begin
  create type public.test_result as enum ('passed', 'failed', 'blocked', 'not-run');
exception when duplicate_object then null;
end
$$;

comment on type public.member_role is 'atoms: organisation role, ordered viewer < editor < admin (enum order is the role order).';
comment on type public.item_type is 'atoms: kind of traceability item; key prefixes REQ, TC, NOTE.';
comment on type public.item_level is 'atoms: architecture level of an item.';
comment on type public.link_kind is
'atoms: canonical link kinds. hierarchy = parent -> child, verification = test-case -> requirement, related = unordered pair stored once.';
comment on type public.test_result is 'atoms: outcome of one test run.';

-- History and audit vocabularies: later migrations add values with `alter type ... add value`, each in its own file
-- before the migration that uses it.
do $$
begin
  create type public.history_event_type as enum (
    'created', 'updated', 'deleted', 'restored', 'linked', 'unlinked', 'test_recorded'
  );
exception when duplicate_object then null;
end
$$;

do $$
begin
  create type public.history_scope as enum ('project', 'org', 'audit');
exception when duplicate_object then null;
end
$$;

do $$
begin
  create type public.mcp_call_status as enum ('success', 'error');
exception when duplicate_object then null;
end
$$;

comment on type public.history_event_type is 'atoms: what a change_history row records.';
comment on type public.history_scope is
'atoms: which hash chain a change_history row belongs to: a project''s, an organisation''s (organisation-level rows) or an audit chain; the chain is keyed by (scope, scope_id).';
comment on type public.mcp_call_status is 'atoms: outcome of one MCP tool call in public.mcp_audit_log.';

-- The actor vocabulary, defined once: user (PostgREST / a web app), mcp_<client> (an AI assistant through the MCP
-- server), cli (a person through the atoms CLI), import:<format> (a file import). Anything but user is accepted
-- only from the MCP gateway's login (private.current_actor, private.refuse_actor_outside_gateway).
create or replace function private.is_actor(value text) returns boolean
language sql immutable security invoker set search_path = pg_catalog, pg_temp
as $$
  select is_actor.value = 'user'
    or is_actor.value = 'cli'
    or is_actor.value ~ '^mcp_[a-z0-9_]{1,40}$'
    or is_actor.value ~ '^import:[a-z0-9_]{1,40}$'
$$;

comment on function private.is_actor(text) is
'atoms: true when value belongs to the actor vocabulary: user | cli | mcp_<client> | import:<format> (client and format: 1-40 of a-z 0-9 _).';
revoke execute on function private.is_actor(text) from public, anon;
grant execute on function private.is_actor(text) to authenticated, atoms_rpc_owner, atoms_mcp_gateway;

do $$
begin
  create domain public.actor_tag as text constraint actor_tag_check check (private.is_actor(value));
exception when duplicate_object then null;
end
$$;

comment on domain public.actor_tag is
'atoms: who made a change or a call: user | cli | mcp_<client> | import:<format> (see private.is_actor).';

-- ---- text search ----
-- Item search (public.items.search_vector, public.atoms_search): simple's mappings, but plain words are stemmed by
-- an English snowball dictionary WITHOUT stop words (english would drop "CAN", "IT", "A"); numbers, emails, URLs and
-- words with digits stay verbatim (200ms, 12.5, v1.2.3).
do $$
begin
  if not exists (
    select 1 from pg_catalog.pg_ts_dict as d
    where d.dictname = 'atoms_english_stem' and d.dictnamespace = 'private'::regnamespace
  ) then
    create text search dictionary private.atoms_english_stem (template = snowball, language = english);
  end if;
  if not exists (
    select 1 from pg_catalog.pg_ts_config as c
    where c.cfgname = 'atoms_text' and c.cfgnamespace = 'private'::regnamespace
  ) then
    create text search configuration private.atoms_text (copy = pg_catalog.simple);
    alter text search configuration private.atoms_text
    alter mapping for asciiword, asciihword, hword_asciipart, word, hword, hword_part
    with private.atoms_english_stem;
  end if;
end
$$;

comment on text search dictionary private.atoms_english_stem is
'atoms: English snowball stemmer with no stop-word list, so technical words such as CAN, IT or A stay searchable.';
comment on text search configuration private.atoms_text is
'atoms: item search. simple''s token mappings; plain words stemmed by atoms_english_stem (no stop words); numbers, words with digits, emails and URLs kept verbatim.';
