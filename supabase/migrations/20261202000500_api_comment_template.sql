-- Every API function documented in one template, so `\df+ public.atoms_*` (and pg_description) gives an auditor a
-- second view of who may call what: "atoms tool <name> (<minimum role, or any signed-in user>; security
-- <definer|invoker>): <what it does>. Returns ...". The roles match the access contract (policies/), which a test
-- checks; public.atoms_bulk_import is documented where it is created.
-- Objects: comments only (no function is redefined).

comment on function public.atoms_list_projects(integer, integer) is
'atoms tool atoms_list_projects (any signed-in user; security invoker): the projects of the caller''s organisations, by name, with the caller''s role and live item counts; RLS on projects, organizations and items does the scoping, a user in no organisation gets an empty list and no signed-in user 28000. Returns {data: [project], meta: {total_count, limit, offset, has_more}}.';

comment on function public.atoms_list_items(text, text, text, text, integer, integer) is
'atoms tool atoms_list_items (viewer; security invoker): live items of a project, filters type/domain/level AND-ed, ordered by created_at then key; type ''table'' matches nothing; the authenticated policies hide other tenants and soft-deleted rows. Returns {data: [ItemSummary], meta: {total_count, limit, offset, has_more}}.';

comment on function public.atoms_browse(text, text, text, text, integer, integer) is
'atoms tool atoms_browse (viewer; security invoker): the same arguments and rows as atoms_list_items (the shim adds an interactive viewer). Returns {data: [ItemSummary], meta: {total_count, limit, offset, has_more}}.';

comment on function public.atoms_get_item(text, text) is
'atoms tool atoms_get_item (viewer; security invoker): one live item with tags, ownership, relationships (keys of live linked items), links [] (atoms stores no external links) and status (test case: latest result, else null); a soft-deleted or other-tenant item is PT404. Returns the item; test cases add latest_result and test_results (newest first, at most 100).';

comment on function public.atoms_search(text, text, text, integer) is
'atoms tool atoms_search (viewer; security definer): websearch_to_tsquery syntax ("phrase", OR, -word) over title > summary > body of live items, ranked by ts_rank_cd; a query that is an item key (any case) puts that item first. Definer so that it alone may call private.search_item_matches (the GIN-backed finder); rows are re-read under the RPC owner''s caller-keyed policies. Returns {data: [ItemSummary], meta: {total_count, limit}}.';

comment on function public.atoms_get_coverage(text, text, text) is
'atoms tool atoms_get_coverage (viewer; security invoker): requirement coverage of a project, optionally by domain and level; covered = at least one live test case verifies it over a live link. Returns {covered, uncovered, total, coverage_percent (1 decimal, 0.0 without requirements), uncovered_items: [{id, title, type, domains, level}] (oldest first, at most 500)}.';

comment on function public.atoms_get_history(text, text, integer) is
'atoms tool atoms_get_history (viewer; security definer): change history of one item, newest first (chain order within a transaction), at most limit rows; works for soft-deleted items, which only the RPC owner''s caller-keyed policy sees. Returns [event] (a JSON array).';

comment on function public.atoms_export_mermaid(text, text, integer, boolean) is
'atoms tool atoms_export_mermaid (viewer; security invoker): a Mermaid graph TD: nodes KEY_NNN["escaped title"], hierarchy A --> B, verification TC -.->|verifies| REQ. With root_item_id the root and its hierarchy descendants down to depth (1-10, 3) levels plus (include_tests) the test cases verifying them; without it every live item; at most 1000 nodes (a %% comment line says when cut). Returns {mermaid, node_count, edge_count}.';

comment on function public.atoms_trace(text, text, text, integer, text[]) is
'atoms tool atoms_trace (viewer; security invoker): items reachable from item_id over live links between live items; upstream follows parent + verifies, downstream child + verified_by, related both ways; relationship_types narrows that set; each item once at its smallest depth (ties: hierarchy, then verification, then related), depth 1-10 (5), at most 200 items (total_count = items returned; 200 means the walk hit the cap). Returns {root, direction, items (ordered by depth then key), total_count}.';

comment on function public.atoms_project_summary(text) is
'atoms tool atoms_project_summary (viewer; security definer): a project at a glance; definer so that recent_changes can name soft-deleted items and it may call private.history_chain_intact. Returns {project: {id, name, org_name}, counts, coverage: {covered, uncovered, total, coverage_percent}, tests: {passed, failed, blocked, not-run, never_run} (each live test case''s latest result), recent_changes (last 10 history events, newest first), history_intact}.';

comment on function public.atoms_create_item(text, text, text, text, text, text[], text, text[]) is
'atoms tool atoms_create_item (editor; security definer): creates an item with the next key of its type and links each parent in parent_ids (live items of the same project) as its parent, in one transaction; the title is single-line text. Returns {id, type, title, project_id}.';

comment on function public.atoms_update_item(text, text, text, text, text, text[], text, text) is
'atoms tool atoms_update_item (editor; security definer): changes only the given fields of a live item (domains replaces the list); status records a test result (test cases only); nothing given is 22023. Returns {id, title, type, updated_fields}.';

comment on function public.atoms_delete_item(text, text) is
'atoms tool atoms_delete_item (editor; security definer): soft-deletes a live item (deleted_at, deleted_by; its links stay stored but leave every view); deleting an already deleted item is PT404. Returns {id, title, type, deleted, message}.';

comment on function public.atoms_link_items(text, text, text, text, text) is
'atoms tool atoms_link_items (editor; security definer): adds or removes (soft-deletes) a relationship between two items of a project; adding an existing link and removing a missing one succeed without change. Returns {from_id, to_id, type, action, changed, message}.';

comment on function public.atoms_record_test_result(text, text, text, text) is
'atoms tool atoms_record_test_result (editor; security definer): appends a run (passed | failed | blocked | not-run, note <= 1000) of a live test case. Returns {item_id, result, run_at, run_by, note, message}.';

comment on function public.atoms_restore_item(text, text) is
'atoms tool atoms_restore_item (admin; security definer): undoes a soft delete (history event restored); restoring a live item is PT409. Returns {id, title, type, restored, message}.';

comment on function public.atoms_verify_history(text) is
'atoms tool atoms_verify_history (viewer; security definer): recomputes the project''s history hash chain from its first row and checks the chain head. Returns {intact, checked_rows, first_broken: null | {chain_seq, id, changed_at, reason}}.';

comment on function public.atoms_get_audit_log(text, text, text, text, text, text, integer, integer) is
'atoms tool atoms_get_audit_log (admin; security invoker): the project''s MCP audit records newest first, filtered by tool_name, user_id, status and created_at in [since, until); limit 1-200 (50), offset >= 0; the table''s policy limits rows to organisations the caller administers. Returns {data: [record], meta: {total_count, limit, offset, has_more}}.';

comment on function public.atoms_check_rate_limit(integer, integer) is
'atoms tool atoms_check_rate_limit (any signed-in user; security definer): counts one request of the caller against a sliding window of "limit" requests per window_seconds (defaults 60/60), wall clock only; call it in its own transaction before the work it guards (POST through PostgREST: it writes). Returns (allowed, limit, remaining, retry_after_seconds).';
