-- Demo data for local development and the test suites (never pushed to a real project).
-- Two organisations (Acme: automotive brake controller; Globex: infusion pump), a user of every role
-- in each (admin@acme.test, editor@acme.test, viewer@acme.test, likewise @globex.test), one user in no
-- organisation (outsider@example.test, invited to Acme as viewer), a project per organisation with 20 items,
-- links and test results. Every user's email is confirmed.
-- Fixed UUIDs so that tests, docs and `atoms dev token --user viewer@acme.test` can name them.

-- Changes are attributed to each organisation's admin (history triggers read auth.uid()).
select set_config('request.jwt.claims', '{"sub":"a0000000-0000-4000-8000-0000000000a1","role":"authenticated"}', false);

-- ---- users ----
insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
('a0000000-0000-4000-8000-0000000000a1', 'authenticated', 'authenticated', 'admin@acme.test', '{}', '{"name":"Ada Admin"}', now(), now()),
('a0000000-0000-4000-8000-0000000000a2', 'authenticated', 'authenticated', 'editor@acme.test', '{}', '{"name":"Eddie Editor"}', now(), now()),
('a0000000-0000-4000-8000-0000000000a3', 'authenticated', 'authenticated', 'viewer@acme.test', '{}', '{"name":"Vera Viewer"}', now(), now()),
('b0000000-0000-4000-8000-0000000000b1', 'authenticated', 'authenticated', 'admin@globex.test', '{}', '{"name":"Gus Admin"}', now(), now()),
('b0000000-0000-4000-8000-0000000000b2', 'authenticated', 'authenticated', 'editor@globex.test', '{}', '{"name":"Gail Editor"}', now(), now()),
('b0000000-0000-4000-8000-0000000000b3', 'authenticated', 'authenticated', 'viewer@globex.test', '{}', '{"name":"Glen Viewer"}', now(), now()),
('c0000000-0000-4000-8000-0000000000c1', 'authenticated', 'authenticated', 'outsider@example.test', '{}', '{"name":"Otto Outsider"}', now(), now());

-- Confirmed, as Supabase Auth leaves a user who followed the confirmation link (invitations need it).
update auth.users set email_confirmed_at = created_at
where email like '%.test';

-- ---- organisations, members and projects, each organisation's attributed to its own admin ----
insert into public.organizations (id, name, created_by) values
('a0000000-0000-4000-8000-000000000001', 'Acme Automotive', 'a0000000-0000-4000-8000-0000000000a1');

insert into public.organization_members (org_id, user_id, role) values
('a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-0000000000a1', 'admin'),
('a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-0000000000a2', 'editor'),
('a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-0000000000a3', 'viewer');

insert into public.projects (id, org_id, name, description, created_by) values (
  'a0000000-0000-4000-8000-000000000101', 'a0000000-0000-4000-8000-000000000001', 'Brake controller',
  'Electronic brake controller, ISO 26262 ASIL-D', 'a0000000-0000-4000-8000-0000000000a1'
);

select set_config('request.jwt.claims', '{"sub":"b0000000-0000-4000-8000-0000000000b1","role":"authenticated"}', false);

insert into public.organizations (id, name, created_by) values
('b0000000-0000-4000-8000-000000000001', 'Globex Medical', 'b0000000-0000-4000-8000-0000000000b1');

insert into public.organization_members (org_id, user_id, role) values
('b0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-0000000000b1', 'admin'),
('b0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-0000000000b2', 'editor'),
('b0000000-0000-4000-8000-000000000001', 'b0000000-0000-4000-8000-0000000000b3', 'viewer');

insert into public.projects (id, org_id, name, description, created_by) values (
  'b0000000-0000-4000-8000-000000000101', 'b0000000-0000-4000-8000-000000000001', 'Infusion pump',
  'Volumetric infusion pump, IEC 62304 class C', 'b0000000-0000-4000-8000-0000000000b1'
);

select set_config('request.jwt.claims', '{"sub":"a0000000-0000-4000-8000-0000000000a1","role":"authenticated"}', false);

-- ---- Acme items ----
insert into public.items (org_id, project_id, key, item_type, title, summary, body, domains, level, created_by, updated_by)
select
  'a0000000-0000-4000-8000-000000000001' as org_id,
  'a0000000-0000-4000-8000-000000000101' as project_id,
  v.key,
  v.item_type::public.item_type as item_type,
  v.title,
  v.summary,
  v.body,
  v.domains,
  v.level::public.item_level as level,
  'a0000000-0000-4000-8000-0000000000a1' as created_by,
  'a0000000-0000-4000-8000-0000000000a1' as updated_by
from (
  values
  ('REQ-001', 'requirement', 'Brake on pedal press', 'The system shall brake when the pedal is pressed.', 'Brake pressure shall rise within 150 ms of pedal travel exceeding 5 mm.', '{safety,braking}'::text[], 'System'),
  ('REQ-002', 'requirement', 'Anti-lock braking', 'Wheels shall not lock under hard braking.', 'ABS shall modulate pressure at >= 10 Hz when slip exceeds 20%.', '{safety,braking}', 'Subsystem'),
  ('REQ-003', 'requirement', 'Pedal sensor redundancy', 'Two independent pedal sensors.', 'A single sensor fault shall be detected within 10 ms.', '{safety,sensors}', 'Component'),
  ('REQ-004', 'requirement', 'Fault indicator lamp', 'Driver warning on fault.', 'The lamp shall light within 500 ms of any detected fault.', '{hmi}', 'Component'),
  ('REQ-005', 'requirement', 'CAN bus diagnostics', 'Report faults over CAN.', 'DTCs shall be reported per ISO 14229 (UDS).', '{diagnostics}', 'Subsystem'),
  ('REQ-006', 'requirement', 'Response time < 200 ms', 'End-to-end latency budget.', 'Pedal to caliper in < 200 ms at -40..85 °C.', '{performance,braking}', 'System'),
  ('REQ-007', 'requirement', 'Watchdog supervision', 'MCU supervised by an external watchdog.', 'Watchdog timeout 50 ms; reset on expiry.', '{safety}', 'Component'),
  ('REQ-008', 'requirement', 'Power loss behaviour', 'Safe state on power loss.', 'Hydraulic fallback shall engage without power.', '{safety}', 'System'),
  ('TC-001', 'test-case', 'Pedal press brakes within 150 ms', 'HIL test of brake latency.', 'Press pedal 10 mm; measure pressure rise time.', '{braking}', null),
  ('TC-002', 'test-case', 'ABS modulation on ice', 'Track test on low-mu surface.', 'Brake hard at 80 km/h on ice; check wheel slip.', '{braking}', null),
  ('TC-003', 'test-case', 'Sensor fault injection', 'Disconnect one pedal sensor.', 'Expect fault detection in 10 ms.', '{sensors}', null),
  ('TC-004', 'test-case', 'Lamp lights on fault', 'Inject fault, watch lamp.', 'Lamp within 500 ms.', '{hmi}', null),
  ('TC-005', 'test-case', 'UDS DTC readout', 'Read DTCs over CAN.', 'Service 0x19 returns the injected DTC.', '{diagnostics}', null),
  ('TC-006', 'test-case', 'Latency across temperature', 'Climate chamber sweep.', '-40, 25, 85 °C; latency < 200 ms.', '{performance}', null),
  ('TC-007', 'test-case', 'Watchdog reset', 'Stall the MCU main loop.', 'Expect reset after 50 ms.', '{safety}', null),
  ('TC-008', 'test-case', 'Hydraulic fallback', 'Cut power while braking.', 'Brake pressure maintained.', '{safety}', null),
  ('NOTE-001', 'note', 'Assumption: 12 V supply', 'Nominal supply voltage.', 'All timings assume 12 V +/- 10%.', '{}', null),
  ('NOTE-002', 'note', 'Open question: ASIL decomposition', 'To be decided with the safety team.', '', '{safety}', null),
  ('NOTE-003', 'note', 'Supplier datasheet rev C', 'Sensor datasheet reference.', 'See supplier portal.', '{sensors}', null),
  ('NOTE-004', 'note', 'Review minutes 2026-11-02', 'Design review outcome.', 'REQ-006 budget confirmed.', '{}', null)
) as v (key, item_type, title, summary, body, domains, level);

-- ---- Globex items ----
select set_config('request.jwt.claims', '{"sub":"b0000000-0000-4000-8000-0000000000b1","role":"authenticated"}', false);

insert into public.items (org_id, project_id, key, item_type, title, summary, body, domains, level, created_by, updated_by)
select
  'b0000000-0000-4000-8000-000000000001' as org_id,
  'b0000000-0000-4000-8000-000000000101' as project_id,
  v.key,
  v.item_type::public.item_type as item_type,
  v.title,
  v.summary,
  v.body,
  v.domains,
  v.level::public.item_level as level,
  'b0000000-0000-4000-8000-0000000000b1' as created_by,
  'b0000000-0000-4000-8000-0000000000b1' as updated_by
from (
  values
  ('REQ-001', 'requirement', 'Occlusion alarm', 'Alarm on downstream occlusion.', 'Alarm within 30 s at 1 ml/h.', '{safety,alarms}'::text[], 'System'),
  ('REQ-002', 'requirement', 'Flow accuracy +/- 5%', 'Volumetric accuracy.', 'Over 1-999 ml/h.', '{performance}', 'System'),
  ('REQ-003', 'requirement', 'Air-in-line detection', 'Detect air bubbles.', 'Bubbles >= 50 ul shall stop infusion.', '{safety,sensors}', 'Subsystem'),
  ('REQ-004', 'requirement', 'Dose limits library', 'Drug library with hard limits.', 'Hard limits cannot be overridden.', '{safety,software}', 'Subsystem'),
  ('REQ-005', 'requirement', 'Battery runtime 4 h', 'Runtime on battery.', 'At 25 ml/h.', '{power}', 'Component'),
  ('REQ-006', 'requirement', 'Audit trail of settings', 'Log every settings change.', 'Per 21 CFR Part 11.', '{software}', 'Component'),
  ('REQ-007', 'requirement', 'Free-flow protection', 'No free flow when door opens.', 'Clamp engages before door release.', '{safety}', 'Component'),
  ('REQ-008', 'requirement', 'Secure update', 'Signed firmware only.', 'Reject unsigned images.', '{security,software}', 'Subsystem'),
  ('TC-001', 'test-case', 'Occlusion at 1 ml/h', 'Clamp tubing downstream.', 'Alarm within 30 s.', '{alarms}', null),
  ('TC-002', 'test-case', 'Gravimetric accuracy', 'Weigh delivered volume.', 'Within 5% at 3 rates.', '{performance}', null),
  ('TC-003', 'test-case', 'Bubble injection', 'Inject 50 ul air.', 'Infusion stops.', '{sensors}', null),
  ('TC-004', 'test-case', 'Hard limit override attempt', 'Try to exceed a hard limit.', 'Refused.', '{software}', null),
  ('TC-005', 'test-case', 'Battery drain', 'Run on battery.', '>= 4 h.', '{power}', null),
  ('TC-006', 'test-case', 'Settings audit entries', 'Change settings and inspect log.', 'One entry per change.', '{software}', null),
  ('TC-007', 'test-case', 'Door open free-flow', 'Open door mid-infusion.', 'No flow.', '{safety}', null),
  ('TC-008', 'test-case', 'Unsigned image rejected', 'Flash an unsigned image.', 'Rejected.', '{security}', null),
  ('NOTE-001', 'note', 'Hazard analysis ref HA-12', 'Link to hazard log.', '', '{safety}', null),
  ('NOTE-002', 'note', 'Usability study planned', 'Q1 formative study.', '', '{}', null),
  ('NOTE-003', 'note', 'Regulatory: 510(k) path', 'Predicate device chosen.', '', '{}', null),
  ('NOTE-004', 'note', 'Open: tubing set supplier', 'Second source pending.', '', '{}', null)
) as v (key, item_type, title, summary, body, domains, level);

-- ---- key counters (what the next create in each project will continue from) ----
insert into private.item_key_counters (project_id, item_type, last_number)
select
  i.project_id,
  i.item_type,
  max(substring(i.key from '[0-9]+$')::integer) as last_number
from public.items as i
group by i.project_id, i.item_type;

-- ---- links and test results, each organisation's attributed to its own admin ----
-- Links: hierarchy (parent -> child), verification (test case -> requirement), related (stored once, source < target).
-- Results: REQ-007 and REQ-008 stay uncovered; TC-007 and TC-008 are never run.
do $$
declare
  project record;
begin
  for project in
    select p.id, p.org_id, m.user_id
    from public.projects as p
    inner join public.organization_members as m on m.org_id = p.org_id and m.role = 'admin'
    order by p.id
  loop
    perform set_config('request.jwt.claims', json_build_object('sub', project.user_id, 'role', 'authenticated')::text, true);

    insert into public.item_links (org_id, project_id, link_kind, source_item_id, target_item_id, created_by)
    select
      project.org_id,
      project.id,
      l.link_kind::public.link_kind,
      case when l.link_kind = 'related' then least(s.id, t.id) else s.id end,
      case when l.link_kind = 'related' then greatest(s.id, t.id) else t.id end,
      project.user_id
    from (values
      ('hierarchy', 'REQ-001', 'REQ-002'),
      ('hierarchy', 'REQ-001', 'REQ-003'),
      ('hierarchy', 'REQ-002', 'REQ-007'),
      ('hierarchy', 'REQ-008', 'REQ-004'),
      ('hierarchy', 'REQ-006', 'REQ-005'),
      ('verification', 'TC-001', 'REQ-001'),
      ('verification', 'TC-002', 'REQ-002'),
      ('verification', 'TC-003', 'REQ-003'),
      ('verification', 'TC-004', 'REQ-004'),
      ('verification', 'TC-005', 'REQ-005'),
      ('verification', 'TC-006', 'REQ-006'),
      ('verification', 'TC-006', 'REQ-001'),
      ('related', 'REQ-006', 'NOTE-004'),
      ('related', 'REQ-003', 'NOTE-003')
    ) as l (link_kind, source_key, target_key)
    inner join public.items as s on s.project_id = project.id and s.key = l.source_key
    inner join public.items as t on t.project_id = project.id and t.key = l.target_key
    order by l.link_kind, l.source_key, l.target_key;

    insert into public.test_results (org_id, project_id, item_id, result, note, recorded_by, recorded_at)
    select project.org_id, project.id, i.id, r.result::public.test_result, r.note, project.user_id, now() - r.age
    from (values
      ('TC-001', 'failed', 'first HIL run: 180 ms', interval '3 days'),
      ('TC-001', 'passed', 'after calibration: 120 ms', interval '2 days'),
      ('TC-002', 'passed', '', interval '2 days'),
      ('TC-003', 'blocked', 'fault injector broken', interval '1 day'),
      ('TC-004', 'passed', '', interval '1 day'),
      ('TC-005', 'failed', 'DTC missing', interval '12 hours'),
      ('TC-006', 'not-run', 'chamber booked', interval '6 hours')
    ) as r (key, result, note, age)
    inner join public.items as i on i.project_id = project.id and i.key = r.key
    order by r.age desc;
  end loop;
end
$$;

select set_config('request.jwt.claims', '', false);

-- ---- MCP audit log (through the one writer, as the MCP server would; created_at = seed time) ----
select private.write_mcp_audit_batch(
  '[
    {"tool_name": "atoms_list_projects", "status": "success", "duration_ms": 12,
     "user_id": "a0000000-0000-4000-8000-0000000000a1", "session_id": "seed-session-acme", "client_name": "claude",
     "actor": "mcp_claude", "request_id": "seed-1", "server_instance": "seed"},
    {"tool_name": "atoms_get_item", "status": "success", "duration_ms": 18,
     "params": {"project_id": "a0000000-0000-4000-8000-000000000101", "item_id": "REQ-001"},
     "user_id": "a0000000-0000-4000-8000-0000000000a3", "project_id": "a0000000-0000-4000-8000-000000000101",
     "session_id": "seed-session-acme", "client_name": "claude", "actor": "mcp_claude", "request_id": "seed-2",
     "server_instance": "seed"},
    {"tool_name": "atoms_create_item", "status": "error", "error_code": "PERMISSION_DENIED",
     "error_message": "permission denied: this action needs the editor role in the project''s organisation; you have viewer",
     "duration_ms": 9,
     "params": {"project_id": "a0000000-0000-4000-8000-000000000101", "type": "requirement", "title": "Brake light"},
     "user_id": "a0000000-0000-4000-8000-0000000000a3", "project_id": "a0000000-0000-4000-8000-000000000101",
     "session_id": "seed-session-acme", "client_name": "claude", "actor": "mcp_claude", "request_id": "seed-3",
     "server_instance": "seed"},
    {"tool_name": "atoms_list_items", "status": "success", "duration_ms": 21,
     "params": {"project_id": "b0000000-0000-4000-8000-000000000101"},
     "user_id": "b0000000-0000-4000-8000-0000000000b2", "project_id": "b0000000-0000-4000-8000-000000000101",
     "session_id": "seed-session-globex", "client_name": "cursor", "actor": "mcp_cursor", "request_id": "seed-4",
     "server_instance": "seed"}
  ]'::jsonb
) as written;

-- ---- a pending invitation: Acme invites outsider@example.test as viewer ----
insert into public.organization_invitations (id, org_id, email, role, invited_by) values (
  'a0000000-0000-4000-8000-0000000001e1', 'a0000000-0000-4000-8000-000000000001', 'outsider@example.test', 'viewer',
  'a0000000-0000-4000-8000-0000000000a1'
);
