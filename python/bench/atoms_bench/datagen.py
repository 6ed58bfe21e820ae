"""Deterministic benchmark dataset: organisations, users of every role, projects, items with realistic links,
test results and a hash-chained change history, bulk-loaded with COPY.

Everything is drawn from ``random.Random(seed)`` (uuids too), so one seed gives the same rows on every machine.
Each project gets its own child generator seeded from the master one, so a project's content does not depend on
how many projects come after it (the scaling runs compare like with like).

Loading (superuser): ``session_replication_role = replica`` switches off ordinary and foreign-key triggers
(the rows are consistent by construction), the secondary indexes of the big tables are dropped and rebuilt
from their own definitions afterwards, items/links/results/history stream through parallel COPYs, and the
history hash chains are computed in SQL with ``private.history_row_hash`` (the write path's function), so
``atoms_verify_history`` accepts the generated chains. ANALYZE at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

__all__ = ["DatasetSpec", "LoadReport", "generate", "main", "story_rows"]

EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
ZERO_HASH = "0" * 64
PENDING_HASH = "pending"
BIG_TABLES = ("public.items", "public.item_links", "public.test_results", "public.change_history")
STAGING = "atoms_datagen.history_staging"

_SUBSYSTEMS = (
    "brake controller", "pressure sensor", "wheel speed sensor", "infusion pump", "battery monitor", "flow valve",
    "display unit", "alarm manager", "motor driver", "power supply", "communication bus", "watchdog",
    "dose calculator", "door interlock", "temperature probe", "firmware updater", "user interface", "logger",
)  # fmt: skip
_VERBS = (
    "detect", "report", "limit", "log", "reject", "calibrate", "monitor", "recover from", "encrypt", "display",
    "shut down on", "retry", "validate", "time-stamp", "acknowledge", "isolate",
)  # fmt: skip
_OBJECTS = (
    "sensor faults", "over-pressure", "low battery", "invalid dose input", "communication loss", "stale readings",
    "occlusion events", "over-temperature", "configuration changes", "watchdog expiry", "user commands",
    "firmware images", "alarm conditions", "flow deviations", "power loss", "checksum errors",
)  # fmt: skip
_DOMAINS = (
    "safety", "security", "performance", "usability", "reliability", "regulatory", "hardware", "software",
    "electrical", "mechanical", "diagnostics", "connectivity", "power", "thermal", "ux", "compliance",
)  # fmt: skip
_NOTE_TOPICS = ("design decision", "open question", "review finding", "assumption", "rationale", "hazard analysis")
_RESULTS = ("passed", "failed", "blocked", "not-run")
_RESULT_WEIGHTS = (70, 15, 5, 10)
_ACTORS = ("user", "user", "user", "mcp_claude", "mcp_cursor")
_ITEM_COLUMNS = (
    "id", "org_id", "project_id", "key", "item_type", "title", "summary", "body", "domains", "level",
    "created_by", "created_at", "updated_by", "updated_at", "deleted_at", "deleted_by",
)  # fmt: skip
_LINK_COLUMNS = (
    "id", "org_id", "project_id", "link_kind", "source_item_id", "target_item_id",
    "created_by", "created_at", "deleted_at", "deleted_by",
)  # fmt: skip
_RESULT_COLUMNS = ("id", "org_id", "project_id", "item_id", "result", "note", "recorded_by", "recorded_at", "actor")
_HISTORY_COLUMNS = (
    "org_id", "project_id", "item_id", "event_type", "changed_by", "changed_at", "actor", "session_id",
    "client_name", "fields_changed", "old_values", "new_values", "chain_seq",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class DatasetSpec:
    """Size and seed of a dataset. Items are spread over ``orgs * projects_per_org`` projects (±50 % per project)."""

    items: int = 1_000_000
    orgs: int = 1_000
    projects_per_org: int = 10
    seed: int = 20261130

    @property
    def projects(self) -> int:
        return self.orgs * self.projects_per_org


@dataclass(slots=True)
class LoadReport:
    """Row counts and phase timings of one load."""

    spec: DatasetSpec
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    chains_hashed: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "items": self.spec.items,
            "orgs": self.spec.orgs,
            "projects_per_org": self.spec.projects_per_org,
            "seed": self.spec.seed,
            "rows": dict(self.rows),
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
            "chains_hashed": self.chains_hashed,
        }


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _at(seconds: float) -> dt.datetime:
    return EPOCH + dt.timedelta(seconds=seconds)


@dataclass(slots=True)
class _Org:
    id: uuid.UUID
    name: str
    admin: uuid.UUID
    editors: list[uuid.UUID]
    viewers: list[uuid.UUID]


@dataclass(slots=True)
class _Project:
    id: uuid.UUID
    org: _Org
    name: str
    size: int
    seed: int
    start: float


@dataclass(slots=True)
class _Sinks:
    """Row writers of the open COPY streams."""

    items: Callable[[tuple[object, ...]], None]
    links: Callable[[tuple[object, ...]], None]
    results: Callable[[tuple[object, ...]], None]
    history: Callable[[tuple[object, ...]], None]
    counters: list[tuple[object, ...]]
    rows: dict[str, int]


# ---- generation (pure: no database) ----


def _organisations(rng: random.Random, spec: DatasetSpec) -> tuple[list[_Org], list[tuple[object, ...]]]:
    """Organisations and their users: 1 admin, 2 editors, 2 viewers each."""
    orgs, users = [], []
    for o in range(spec.orgs):
        ids = [_uuid(rng) for _ in range(5)]
        org = _Org(_uuid(rng), f"Bench org {o:04d}", ids[0], ids[1:3], ids[3:5])
        for n, (uid, role) in enumerate(zip(ids, ("admin", "editor", "editor", "viewer", "viewer"), strict=True)):
            users.append((uid, f"{role}{n}@org{o:04d}.bench.test", _at(rng.uniform(0, 86400 * 30))))
        orgs.append(org)
    return orgs, users


def _memberships(orgs: list[_Org]) -> Iterator[tuple[object, ...]]:
    for i, org in enumerate(orgs):
        yield (org.id, org.admin, "admin")
        for uid in org.editors:
            yield (org.id, uid, "editor")
        for uid in org.viewers:
            yield (org.id, uid, "viewer")
        # Consultants: the next organisation's first editor also reads this one (users in several orgs).
        if len(orgs) > 1:
            yield (org.id, orgs[(i + 1) % len(orgs)].editors[0], "viewer")


def _projects(rng: random.Random, spec: DatasetSpec, orgs: list[_Org]) -> list[_Project]:
    """Projects with sizes around the mean (0.5x-1.5x), summing exactly to spec.items."""
    weights = [0.5 + rng.random() for _ in range(spec.projects)]
    total = sum(weights)
    sizes = [max(1, int(spec.items * w / total)) for w in weights]
    diff = spec.items - sum(sizes)
    step = 1 if diff > 0 else -1
    i = 0
    while diff != 0:
        if sizes[i % len(sizes)] + step >= 1:
            sizes[i % len(sizes)] += step
            diff -= step
        i += 1
    projects = []
    for n, size in enumerate(sizes):
        org = orgs[n // spec.projects_per_org]
        projects.append(
            _Project(
                _uuid(rng),
                org,
                f"Project {n % spec.projects_per_org:02d} of {org.name}",
                size,
                rng.getrandbits(64),
                rng.uniform(86400 * 30, 86400 * 200),
            )  # fmt: skip
        )
    return projects


def _requirement_text(rng: random.Random) -> tuple[str, str, str]:
    subsystem, verb, obj = rng.choice(_SUBSYSTEMS), rng.choice(_VERBS), rng.choice(_OBJECTS)
    ms = rng.choice((10, 20, 50, 100, 200, 500, 1000))
    title = f"The {subsystem} shall {verb} {obj} within {ms} ms"
    summary = f"{subsystem.capitalize()}: {verb} {obj}."
    body = (
        f"When {obj} occur, the {subsystem} shall {verb} them within {ms} ms and raise an alarm. "
        f"Rationale: {rng.choice(_NOTE_TOPICS)} on {rng.choice(_OBJECTS)}; see the {rng.choice(_SUBSYSTEMS)} "
        f"interface specification. Acceptance: measured on target hardware at {rng.randint(1, 40)} C."
    )
    return title, summary, body


def _test_text(rng: random.Random) -> tuple[str, str, str]:
    subsystem, obj = rng.choice(_SUBSYSTEMS), rng.choice(_OBJECTS)
    title = f"Verify that the {subsystem} handles {obj}"
    summary = f"Inject {obj} into the {subsystem} and check the response."
    body = (
        f"Setup: {subsystem} on the test bench, firmware {rng.randint(1, 9)}.{rng.randint(0, 20)}. "
        f"Steps: 1. inject {obj}; 2. observe the {rng.choice(_SUBSYSTEMS)}; 3. record timing. "
        f"Expected: the fault is reported within {rng.choice((10, 50, 100, 500))} ms."
    )
    return title, summary, body


def _note_text(rng: random.Random) -> tuple[str, str, str]:
    topic, subsystem = rng.choice(_NOTE_TOPICS), rng.choice(_SUBSYSTEMS)
    title = f"{topic.capitalize()}: {subsystem} and {rng.choice(_OBJECTS)}"
    return title, "", f"Discussed in review {rng.randint(1, 300)}. The {subsystem} team owns the follow-up."


_TEXT = {"requirement": _requirement_text, "test-case": _test_text, "note": _note_text}
_PREFIX = {"requirement": "REQ", "test-case": "TC", "note": "NOTE"}


def _emit_project(p: _Project, sinks: _Sinks) -> None:  # noqa: C901 - one linear pass over a project's story
    """Write one project's items, links, test results and history (chain_seq in time order; hashes come later)."""
    rng = random.Random(p.seed)
    org = p.org
    writers = [org.admin, *org.editors]
    n = p.size
    n_req = max(1, round(n * 0.45))
    n_tc = round(n * 0.40) if n > 2 else 0
    types = ["requirement"] * n_req + ["test-case"] * n_tc + ["note"] * (n - n_req - n_tc)
    # Requirements tend to come first, tests and notes later: shuffle with a bias.
    types.sort(key=lambda t: rng.random() + (0.0 if t == "requirement" else 0.35))
    numbers = {"requirement": 0, "test-case": 0, "note": 0}
    events: list[tuple[float, tuple[object, ...]]] = []

    def event(
        at: float, item: uuid.UUID | None, kind: str, who: uuid.UUID, fields: list[str], old, new, actor: str = ""
    ) -> None:
        # Shapes follow the history triggers (private.record_item_change and its siblings): snapshots keyed like the
        # tools' fields.
        actor = actor or rng.choice(_ACTORS)
        session = f"s-{rng.getrandbits(32):08x}" if actor != "user" else None
        client = actor.removeprefix("mcp_") if actor != "user" else None
        events.append(
            (at, (org.id, p.id, item, kind, who, _at(at), actor, session, client, fields,
                  Jsonb(old) if old is not None else None, Jsonb(new) if new is not None else None))
        )  # fmt: skip

    t = p.start
    reqs: list[tuple[uuid.UUID, int, float]] = []  # id, depth, created
    all_items: list[tuple[uuid.UUID, str, float]] = []
    tcs: list[tuple[uuid.UUID, float]] = []
    deleted: set[uuid.UUID] = set()
    link_rows: list[tuple[str, uuid.UUID, uuid.UUID, float]] = []
    keys: dict[uuid.UUID, str] = {}

    for item_type in types:
        t += rng.expovariate(1 / 3600)
        numbers[item_type] += 1
        key = f"{_PREFIX[item_type]}-{numbers[item_type]:03d}"
        iid = _uuid(rng)
        keys[iid] = key
        title, summary, body = _TEXT[item_type](rng)
        domains = sorted(set(rng.sample(_DOMAINS, rng.choice((1, 1, 2, 2, 3)))))
        author = rng.choice(writers)
        level = None
        if item_type == "requirement":
            parent = None
            if reqs and rng.random() > 0.08:
                # Prefer recent requirements: deeper trees, several levels.
                for _ in range(4):
                    cand = reqs[int(len(reqs) * (1 - rng.random() ** 2))]
                    if cand[1] < 5:
                        parent = cand
                        break
            depth = parent[1] + 1 if parent else 0
            level = ("System", "Subsystem", "Component")[min(depth, 2)]
            reqs.append((iid, depth, t))
            if parent:
                link_rows.append(("hierarchy", parent[0], iid, t + rng.uniform(1, 600)))
        elif item_type == "test-case":
            level = rng.choice(("Subsystem", "Component", "Component"))
            tcs.append((iid, t))
            if reqs:
                picks = {reqs[int(len(reqs) * rng.random() ** 0.7)][0] for _ in range(rng.choice((1, 1, 2, 3)))}
                for target in sorted(picks):
                    link_rows.append(("verification", iid, target, t + rng.uniform(1, 600)))
        else:
            if all_items:
                other = rng.choice(all_items)
                if rng.random() < 0.6 and reqs:
                    link_rows.append(("hierarchy", rng.choice(reqs)[0], iid, t + rng.uniform(1, 600)))
                elif other[0] != iid:
                    a, b = sorted((iid, other[0]))
                    link_rows.append(("related", a, b, t + rng.uniform(1, 600)))
        if item_type == "requirement" and len(reqs) > 3 and rng.random() < 0.05:
            other_req = rng.choice(reqs[:-1])[0]
            a, b = sorted((iid, other_req))
            link_rows.append(("related", a, b, t + rng.uniform(1, 600)))

        created = t
        updated_at, updated_by, cur_title = created, author, title
        new = {"id": key, "type": item_type, "title": title, "summary": summary, "body": body, "domains": domains,
               "level": level}  # fmt: skip
        event(created, iid, "created", author, [], None, new)
        if rng.random() < 0.2:
            updated_at = created + rng.uniform(3600, 86400 * 60)
            updated_by = rng.choice(writers)
            cur_title = f"{title} (rev {rng.randint(2, 5)})"
            event(updated_at, iid, "updated", updated_by, ["title"], {"title": title}, {"title": cur_title})
        deleted_at = deleted_by = None
        if rng.random() < 0.015:
            deleted_by = rng.choice(writers)
            at = updated_at + rng.uniform(3600, 86400 * 30)
            deleted_at = _at(at)
            deleted.add(iid)
            new_del = {"deleted_at": deleted_at.isoformat(), "deleted_by": str(deleted_by)}
            event(at, iid, "deleted", deleted_by, ["deleted_at"], {"deleted_at": None}, new_del)
        sinks.items(
            (iid, org.id, p.id, key, item_type, cur_title, summary, body, domains, level, author, _at(created),
             updated_by, _at(updated_at), deleted_at, deleted_by)
        )  # fmt: skip
        all_items.append((iid, item_type, created))

    seen: set[tuple[str, uuid.UUID, uuid.UUID]] = set()
    for kind, source, target, at in link_rows:
        if (kind, source, target) in seen or source == target:
            continue
        seen.add((kind, source, target))
        who = rng.choice(writers)
        lid = _uuid(rng)
        del_at = del_by = None
        snapshot = {"link_id": str(lid), "link_kind": kind, "source_id": keys[source], "target_id": keys[target],
                    "source_item_id": str(source), "target_item_id": str(target)}  # fmt: skip
        event(at, source, "linked", who, [], None, snapshot)
        if rng.random() < 0.02:
            del_by = rng.choice(writers)
            dat = at + rng.uniform(3600, 86400 * 20)
            del_at = _at(dat)
            event(dat, source, "unlinked", del_by, ["deleted_at"], snapshot,
                  {"deleted_at": del_at.isoformat(), "deleted_by": str(del_by)})  # fmt: skip
        sinks.links((lid, org.id, p.id, kind, source, target, who, _at(at), del_at, del_by))

    n_results = 0
    for tc, created in tcs:
        at = created
        for _ in range(rng.choice((0, 1, 1, 2, 2, 3, 4))):
            at += rng.uniform(3600, 86400 * 14)
            result = rng.choices(_RESULTS, _RESULT_WEIGHTS)[0]
            note = "" if result == "passed" else f"{result} on bench {rng.randint(1, 12)}"
            who = rng.choice(writers)
            actor = rng.choice(_ACTORS)
            rid = _uuid(rng)
            sinks.results((rid, org.id, p.id, tc, result, note, who, _at(at), actor))
            new = {"id": keys[tc], "result_id": str(rid), "result": result, "note": note,
                   "recorded_at": _at(at).isoformat()}  # fmt: skip
            event(at, tc, "test_recorded", who, ["result"], None, new, actor)
            n_results += 1

    events.sort(key=lambda e: e[0])
    for seq, (_, row) in enumerate(events, start=1):
        sinks.history((*row, seq))
    for item_type, last in numbers.items():
        if last:
            sinks.counters.append((p.id, item_type, last))
    sinks.rows["items"] = sinks.rows.get("items", 0) + n
    sinks.rows["item_links"] = sinks.rows.get("item_links", 0) + len(seen)
    sinks.rows["test_results"] = sinks.rows.get("test_results", 0) + n_results
    sinks.rows["change_history"] = sinks.rows.get("change_history", 0) + len(events)
    sinks.rows["deleted_items"] = sinks.rows.get("deleted_items", 0) + len(deleted)


# ---- loading ----


def _log(message: str) -> None:
    print(f"[datagen {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _connect(url: str) -> psycopg.Connection:
    conn = psycopg.connect(url, autocommit=True)
    conn.execute("set session_replication_role = replica")
    conn.execute("set synchronous_commit = off")
    return conn


def _copy_sql(table: str, columns: tuple[str, ...]) -> sql.Composed:
    schema, name = table.split(".")
    return sql.SQL("copy {} ({}) from stdin").format(
        sql.Identifier(schema, name), sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    """(qualified name, definition) of the big tables' indexes that back no constraint."""
    return conn.execute(
        """
        select format('%%I.%%I', n.nspname, c.relname), pg_get_indexdef(i.indexrelid)
        from pg_index i
        join pg_class c on c.oid = i.indexrelid
        join pg_namespace n on n.oid = c.relnamespace
        where i.indrelid = any(%s::regclass[])
          and not exists (select 1 from pg_constraint k where k.conindid = i.indexrelid)
        order by 1
        """,
        (list(BIG_TABLES),),
    ).fetchall()


def _have_function(conn: psycopg.Connection, signature: str) -> bool:
    return conn.execute("select to_regprocedure(%s) is not null", (signature,)).fetchone()[0]


_HASH_SIGNATURE = "private.history_row_hash(text, public.change_history)"
# The staging row as a public.change_history row (by column name), chained after {prev}: hashed by the write path's
# own function, so generated chains verify exactly like written ones.
_HASH_CALL = (
    "private.history_row_hash({prev}, jsonb_populate_record(null::public.change_history, to_jsonb(s) - 'part'"
    " || jsonb_build_object('scope', 'project', 'scope_id', s.project_id, 'hash_version', 1, 'prev_hash', {prev})))"
)
_CHAIN_COLUMNS = """scope, scope_id, org_id, project_id, item_id, event_type, changed_by, changed_at, actor,
  session_id, client_name, fields_changed, old_values, new_values, hash_version, chain_seq, prev_hash, row_hash"""
_CHAIN_VALUES = """'project', project_id, org_id, project_id, item_id, event_type::public.history_event_type,
  changed_by, changed_at, actor, session_id, client_name, fields_changed, old_values, new_values, 1, chain_seq"""
_HISTORY_INSERT = f"""
insert into public.change_history ({_CHAIN_COLUMNS})
with recursive chain as (
  select s.*, '{ZERO_HASH}'::text as prev_hash, {_HASH_CALL.format(prev=f"'{ZERO_HASH}'::text")} as row_hash
  from {STAGING} as s
  where s.chain_seq = 1 and s.part = %(part)s
  union all
  select s.*, c.row_hash, {_HASH_CALL.format(prev="c.row_hash")}
  from chain as c
  inner join {STAGING} as s on s.project_id = c.project_id and s.chain_seq = c.chain_seq + 1
)
select {_CHAIN_VALUES}, prev_hash, row_hash
from chain
"""
_HISTORY_INSERT_UNHASHED = f"""
insert into public.change_history ({_CHAIN_COLUMNS})
select {_CHAIN_VALUES}, '{PENDING_HASH}', '{PENDING_HASH}'
from {STAGING} as s where s.part = %(part)s
"""


def generate(url: str, spec: DatasetSpec, *, workers: int = 2, log: Callable[[str], None] = _log) -> LoadReport:
    """Load the dataset ``spec`` into the (migrated, otherwise empty or seeded) database at ``url``."""
    report = LoadReport(spec)
    rng = random.Random(spec.seed)
    started = time.perf_counter()

    def phase(name: str, t0: float) -> float:
        now = time.perf_counter()
        report.seconds[name] = now - t0
        log(f"{name}: {now - t0:.1f}s")
        return now

    orgs, users = _organisations(rng, spec)
    projects = _projects(rng, spec, orgs)
    t0 = time.perf_counter()
    with _connect(url) as conn:
        indexes = _secondary_indexes(conn)
        hashed = _have_function(conn, _HASH_SIGNATURE)
        with conn.transaction():
            for name, _ in indexes:
                conn.execute(sql.SQL("drop index {}").format(sql.SQL(name)))
            conn.execute("create schema if not exists atoms_datagen")
            conn.execute(f"drop table if exists {STAGING}")
            conn.execute(
                f"""create unlogged table {STAGING} (
                  org_id uuid, project_id uuid, item_id uuid, event_type text, changed_by uuid,
                  changed_at timestamptz, actor text, session_id text, client_name text, fields_changed text[],
                  old_values jsonb, new_values jsonb, chain_seq bigint, part int)"""
            )
            with conn.cursor().copy(
                "copy auth.users (id, aud, role, email, created_at, updated_at, raw_app_meta_data, raw_user_meta_data)"
                " from stdin"
            ) as cp:
                for uid, email, at in users:
                    cp.write_row((uid, "authenticated", "authenticated", email, at, at, Jsonb({}), Jsonb({})))
            org_cols = ("id", "name", "created_at", "created_by")
            with conn.cursor().copy(_copy_sql("public.organizations", org_cols)) as cp:
                for org in orgs:
                    cp.write_row((org.id, org.name, EPOCH, org.admin))
            with conn.cursor().copy(_copy_sql("public.organization_members", ("org_id", "user_id", "role"))) as cp:
                for row in _memberships(orgs):
                    cp.write_row(row)
            cols = ("id", "org_id", "name", "description", "created_at", "created_by", "updated_at")
            with conn.cursor().copy(_copy_sql("public.projects", cols)) as cp:
                for p in projects:
                    cp.write_row((p.id, p.org.id, p.name, f"Generated project of {p.size} items", _at(p.start),
                                  p.org.admin, _at(p.start + 86400 * 365)))  # fmt: skip
            # The auth.users and membership triggers are off while loading: their profiles and organisation people
            # as the triggers would have made them, so later writes record names as in production.
            conn.execute(
                "insert into public.profiles (id, email, created_at) select u.id, u.email, u.created_at"
                " from auth.users as u on conflict do nothing"
            )
            conn.execute(
                "insert into private.organization_people (org_id, user_id)"
                " select m.org_id, m.user_id from public.organization_members as m on conflict do nothing"
            )
        report.rows.update(users=len(users), organizations=len(orgs), projects=len(projects))
        t0 = phase("users, orgs, projects", t0)

        counters: list[tuple[object, ...]] = []
        with contextlib.ExitStack() as stack:
            conns = [stack.enter_context(_connect(url)) for _ in range(4)]
            for c in conns:
                stack.enter_context(c.transaction())
            cps = [
                stack.enter_context(c.cursor().copy(q))
                for c, q in zip(
                    conns,
                    (
                        _copy_sql("public.items", _ITEM_COLUMNS),
                        _copy_sql("public.item_links", _LINK_COLUMNS),
                        _copy_sql("public.test_results", _RESULT_COLUMNS),
                        _copy_sql(STAGING, (*_HISTORY_COLUMNS, "part")),
                    ),
                    strict=True,
                )
            ]
            parts = {p.id: i % workers for i, p in enumerate(projects)}
            sinks = _Sinks(
                items=cps[0].write_row,
                links=cps[1].write_row,
                results=cps[2].write_row,
                history=lambda row: cps[3].write_row((*row, parts[row[1]])),
                counters=counters,
                rows=report.rows,
            )
            for i, p in enumerate(projects):
                _emit_project(p, sinks)
                if (i + 1) % max(1, len(projects) // 10) == 0:
                    log(f"  {i + 1}/{len(projects)} projects, {report.rows['items']} items")
        t0 = phase("items, links, results, history (COPY)", t0)

        with (
            conn.transaction(),
            conn.cursor().copy(
                _copy_sql("private.item_key_counters", ("project_id", "item_type", "last_number"))
            ) as cp,
        ):
            for row in counters:
                cp.write_row(row)
        conn.execute(f"create index on {STAGING} (project_id, chain_seq)")
        conn.execute(f"analyze {STAGING}")
        t0 = phase("counters, staging index", t0)

    # Hash chains: one recursive CTE per worker, each over its share of the projects (one chain position per step).
    if not hashed:
        log("private.history_row_hash is missing (write path not migrated): history keeps placeholder hashes")
    query = _HISTORY_INSERT if hashed else _HISTORY_INSERT_UNHASHED

    def run_part(part: int) -> None:
        with _connect(url) as c:
            c.execute("set enable_hashjoin = off")
            c.execute("set enable_mergejoin = off")
            c.execute("set work_mem = '256MB'")
            c.execute(query, {"part": part})

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(run_part, part) for part in range(workers)]:
            future.result()
    report.chains_hashed = hashed
    t0 = phase("history hash chains" if hashed else "history (unhashed)", t0)

    with _connect(url) as conn:
        if conn.execute("select to_regclass('private.history_chain_heads') is not null").fetchone()[0]:
            _fill_chain_heads(conn)
        conn.execute(f"drop table {STAGING}")
        conn.execute("drop schema atoms_datagen")
        t0 = phase("chain heads", t0)
        conn.execute("set maintenance_work_mem = '1GB'")
        conn.execute("set max_parallel_maintenance_workers = 2")
        for name, definition in indexes:
            conn.execute(definition)
            log(f"  rebuilt {name}")
        t0 = phase("secondary indexes", t0)
        conn.execute("vacuum (analyze)")
        t0 = phase("vacuum analyze", t0)
    report.seconds["total"] = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        # The load report travels with the data (the benchmark report quotes it); no table needed.
        conn.execute(
            sql.SQL("comment on database {} is {}").format(
                sql.Identifier(conn.info.dbname), sql.Literal(json.dumps(report.as_dict()))
            )
        )
    log(f"total {report.seconds['total']:.1f}s: {report.rows}")
    return report


def _fill_chain_heads(conn: psycopg.Connection) -> None:
    """private.history_chain_heads: the last (seq, hash) of every generated project's chain."""
    cols = {
        r[0]
        for r in conn.execute(
            "select attname from pg_attribute where attrelid = 'private.history_chain_heads'::regclass"
            " and attnum > 0 and not attisdropped"
        )
    }
    seq_col = next(c for c in ("last_seq", "chain_seq", "last_chain_seq") if c in cols)
    hash_col = next(c for c in ("last_hash", "row_hash", "last_row_hash") if c in cols)
    conn.execute(
        sql.SQL(
            """
            insert into private.history_chain_heads (scope, scope_id, {seq}, {hash})
            select distinct on (h.scope, h.scope_id) h.scope, h.scope_id, h.chain_seq, h.row_hash
            from public.change_history as h
            order by h.scope, h.scope_id, h.chain_seq desc
            on conflict (scope, scope_id) do update set {seq} = excluded.{seq}, {hash} = excluded.{hash}
            """
        ).format(seq=sql.Identifier(seq_col), hash=sql.Identifier(hash_col))
    )


def main(argv: list[str] | None = None) -> int:
    from atoms_mcp.settings import Settings

    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m atoms_bench.datagen", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=settings.bench_database_url)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--orgs", type=int, default=1_000)
    parser.add_argument("--projects-per-org", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20261130)
    parser.add_argument("--reset", action="store_true", help="Drop and recreate the database (migrations, no seed).")
    args = parser.parse_args(argv)
    spec = DatasetSpec(args.items, args.orgs, args.projects_per_org, args.seed)
    if args.reset:
        from atoms_mcp.database import migrations

        migrations.reset_database(args.database_url, settings.supabase_dir, with_seed=False)
        _log("database reset (compat + migrations)")
    report = generate(args.database_url, spec)
    print(report.as_dict())
    return 0


def story_rows(spec: DatasetSpec) -> dict[str, list[tuple[object, ...]]]:
    """The rows a dataset of ``spec`` consists of, generated in memory without a database: items, links, results,
    history (Jsonb values unwrapped) and the key counters, in the order the loader would stream them."""
    rng = random.Random(spec.seed)
    orgs, _ = _organisations(rng, spec)
    rows: dict[str, list[tuple[object, ...]]] = {"items": [], "links": [], "results": [], "history": []}
    sinks = _Sinks(
        items=rows["items"].append,
        links=rows["links"].append,
        results=rows["results"].append,
        history=lambda row: rows["history"].append(tuple(x.obj if isinstance(x, Jsonb) else x for x in row)),
        counters=[],
        rows={},
    )
    for project in _projects(rng, spec, orgs):
        _emit_project(project, sinks)
    rows["counters"] = sinks.counters
    return rows


if __name__ == "__main__":
    raise SystemExit(main())
