-- Indexes of the read path, so every project-scoped read RPC is index-backed at a million items.
-- Objects: three partial indexes on public.items (live rows only).
-- Why partial indexes: under row level security only leakproof operators may become index conditions ahead of the
--   policies, and enum equality (item_type = 'requirement') is not leakproof; a partial index whose predicate
--   names the type is still chosen (predicate proof is not subject to that rule), so the literal-type queries of
--   coverage and summary read only their own rows. The filters index lets list counts run as index-only scans.

-- ---- indexes ----
-- atoms_list_items / atoms_browse: total_count under type / level / domain filters as an index-only scan.
create index if not exists items_project_id_filters_idx on public.items (project_id, item_type, level) include (domains)
where deleted_at is null;

-- atoms_get_coverage / atoms_project_summary: a project's live requirements, in uncovered_items order.
create index if not exists items_live_requirements_idx on public.items (project_id, created_at, key)
where item_type = 'requirement' and deleted_at is null;

-- atoms_project_summary: a project's live test cases (each then probes its latest result by item).
create index if not exists items_live_test_cases_idx on public.items (project_id, id)
where item_type = 'test-case' and deleted_at is null;
