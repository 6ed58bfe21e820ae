-- Columns and indexes for results as evidence, change reasons, history read from both ends of a link and the
-- project setting that makes a reason required.
-- Objects: test_results.run_at, build, executed_by, executed_by_id, evidence (+ the index of "latest by run_at");
--   change_history.reason; the index of link events by their target item; projects.settings.
-- Rules: run_at is when the test ran, as the recorder stated it (recorded_at stays when it was recorded). A run
--   recorded without one (and every run recorded before the column existed; the rows are append-only and are not
--   back-filled) has run_at null and ran when it was recorded: every reader orders by coalesce(run_at, recorded_at),
--   the expression the index holds. change_history.reason is
--   nullable without a default: rows written before it hash as they did (DESIGN §3.7).
-- Security: no new table; the tables' grants, policies and append-only guards apply to the new columns unchanged.

-- ---- test results as evidence ----
alter table public.test_results add column if not exists run_at timestamptz;
alter table public.test_results add column if not exists build text;
alter table public.test_results add column if not exists executed_by text;
alter table public.test_results add column if not exists executed_by_id uuid;
alter table public.test_results add column if not exists evidence text;

alter table public.test_results drop constraint if exists test_results_build_check;
alter table public.test_results add constraint test_results_build_check check (char_length(build) between 1 and 200);
alter table public.test_results drop constraint if exists test_results_executed_by_check;
alter table public.test_results add constraint test_results_executed_by_check check (
  char_length(executed_by) between 1 and 320
);
alter table public.test_results drop constraint if exists test_results_evidence_check;
alter table public.test_results add constraint test_results_evidence_check check (char_length(evidence) between 1 and 2000);

-- "Latest result" of a test case: the newest run by when it ran.
create index if not exists test_results_item_id_run_at_idx on public.test_results (
  item_id, (coalesce(run_at, recorded_at)) desc, id desc
);

comment on column public.test_results.run_at is
'When the test ran, as the recorder stated it (not in the future, not before the test case existed). Null when not stated: the run is taken to have run when recorded. Readers use coalesce(run_at, recorded_at).';
comment on column public.test_results.build is 'The version under test (a build number, tag or commit), as given; null when not given.';
comment on column public.test_results.executed_by is
'Who ran the test: a member''s email or a free name, as given; null when the recorder ran it.';
comment on column public.test_results.executed_by_id is
'The member whose email executed_by names (an organisation member when the result was recorded), else null.';
comment on column public.test_results.evidence is 'A reference to the run''s evidence (a URL, a report id), as given; null when not given.';

-- ---- change reasons ----
alter table public.change_history add column if not exists reason text;

comment on column public.change_history.reason is
'Why the change was made, as given by the caller (update, delete, link); null when none was given. Covered by row_hash when set.';

-- ---- history of a link from its target's end ----
-- Link events are stored under their source item (item_id); the target's key sits in the values (new_values of
-- linked, old_values of unlinked). This index lets an item's history include the links pointing at it.
create index if not exists change_history_link_target_idx on public.change_history (
  (coalesce(new_values ->> 'target_item_id', old_values ->> 'target_item_id')), changed_at desc
) where event_type in ('linked', 'unlinked');

-- ---- project settings ----
alter table public.projects add column if not exists settings jsonb not null default '{}'::jsonb;

comment on column public.projects.settings is
'Project settings as a JSON object. require_change_reason (boolean, default false): update, delete and link need a reason.';
