-- Project-scoped full-text index: keeps atoms_search O(project), not O(matches in the whole database).
-- Objects: extension btree_gin (schema extensions); index public.items_project_id_search_vector_idx.
-- Why (BENCHMARKS.md, scaling): private.search_item_matches is a non-inlined SQL function, so its statement gets a
--   generic plan that ANDs the project's btree bitmap with the global GIN bitmap; a common word then reads every
--   matching item of every tenant (110k at 1M items). A GIN over (project_id, search_vector) intersects inside
--   the index instead. Security: no new privileges; an index only.

-- ---- extensions ----
create extension if not exists btree_gin with schema extensions;

-- ---- indexes ----
create index if not exists items_project_id_search_vector_idx on public.items using gin (
  project_id, search_vector
) where deleted_at is null;

-- ---- comments ----
comment on index public.items_project_id_search_vector_idx is
'atoms: full-text search within one project (btree_gin on project_id + the tsvector); live items only, like the search.';
