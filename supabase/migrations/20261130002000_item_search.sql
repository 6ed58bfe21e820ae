-- Full-text search over items (title, summary, body).
-- Objects: text search dictionary private.atoms_english_stem and configuration private.atoms_text, generated
--   column public.items.search_vector + GIN index, private.search_item_matches (index-backed candidate finder).
-- Config: simple's mappings, but plain words are stemmed by an English snowball dictionary WITHOUT stop words
--   (english would drop "CAN", "IT", "A"); numbers, emails, URLs and words with digits stay verbatim
--   (200ms, 12.5, v1.2.3). Before parsing, a hyphen between a letter and a digit becomes a space, so REQ-001,
--   ISO-26262 and ISO 26262 all match each other (the parser would otherwise read -26262 as a signed number).

-- ---- text search configuration ----
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

-- ---- columns ----
-- Weights: title A > summary B > body C (ts_rank_cd's default weights 1.0 / 0.4 / 0.2).
-- The regexp_replace must stay identical to the one applied to queries in public.atoms_search.
alter table public.items add column if not exists search_vector tsvector generated always as (
  setweight(to_tsvector('private.atoms_text'::regconfig, regexp_replace(title, '([[:alpha:]])-([[:digit:]])', '\1 \2', 'g')), 'A')
  || setweight(to_tsvector('private.atoms_text'::regconfig, regexp_replace(summary, '([[:alpha:]])-([[:digit:]])', '\1 \2', 'g')), 'B')
  || setweight(to_tsvector('private.atoms_text'::regconfig, regexp_replace(body, '([[:alpha:]])-([[:digit:]])', '\1 \2', 'g')), 'C')
) stored;

-- ---- indexes ----
create index if not exists items_search_vector_idx on public.items using gin (search_vector) where deleted_at is null;

-- ---- comments ----
comment on column public.items.search_vector is
'Generated: title (weight A), summary (B) and body (C) under private.atoms_text, letter-digit hyphens read as spaces. GIN-indexed for live items.';

-- ---- helpers ----
-- Why a helper owned by the table owner: under row level security the planner may only use a leakproof
-- operator as an index condition ahead of the policies' quals, and tsvector @@ tsquery is not leakproof, so
-- every search through RLS would scan the whole project. This function runs as the tables' owner (RLS does
-- not apply to the owner), returns only ids and ranks, checks the caller's project role itself, and is
-- executable by atoms_rpc_owner alone; atoms_search then re-reads every row by primary key under RLS.
create or replace function private.search_item_matches(
  project_id uuid,
  query tsquery,
  item_type public.item_type default null
) returns table (item_id uuid, rank real)
language sql stable security definer set search_path = ''
as $$
  select
    i.id as item_id,
    pg_catalog.ts_rank_cd(i.search_vector, search_item_matches.query) as rank
  from public.items as i
  where
    i.project_id = search_item_matches.project_id
    and i.deleted_at is null
    and i.search_vector @@ search_item_matches.query
    and (search_item_matches.item_type is null or i.item_type = search_item_matches.item_type)
    and (select private.has_project_role(search_item_matches.project_id, 'viewer'))
$$;

comment on function private.search_item_matches(uuid, tsquery, public.item_type) is
'atoms: ids and ts_rank_cd of the live items of a project matching a tsquery, through the GIN index. Runs as the table owner (see the migration) but returns nothing unless the calling user can read the project; only atoms_rpc_owner may execute it.';
revoke execute on function private.search_item_matches(uuid, tsquery, public.item_type) from public, anon, authenticated;
grant execute on function private.search_item_matches(uuid, tsquery, public.item_type) to atoms_rpc_owner;
