"""The MCP audit log: only the gateway writes (through one batch function), nobody changes or removes a row,
admins read their own organisation's records only, and bad or oversized input is handled loudly."""

from __future__ import annotations

import hashlib
import json

import psycopg
import pytest
from psycopg.types.json import Jsonb

from principals import ACME_ORG, ACME_PROJECT, GLOBEX_ORG, GLOBEX_PROJECT, PRINCIPALS, Principal, act_as, as_principal

ADMIN = PRINCIPALS["admin"]
GLOBEX_ADMIN = PRINCIPALS["other_org_admin"]
GATEWAY = PRINCIPALS["gateway"]


def record(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "tool_name": "atoms_get_item",
        "status": "success",
        "duration_ms": 7,
        "user_id": PRINCIPALS["editor"].user_id,
        "project_id": ACME_PROJECT,
        "session_id": "s-1",
        "client_name": "claude",
        "actor": "mcp_claude",
        "request_id": "r-1",
        "server_instance": "test-1",
        "params": {"project_id": ACME_PROJECT, "item_id": "REQ-001"},
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None or k in fields}


def write(conn: psycopg.Connection, records: list[dict[str, object]]) -> int:
    """Write a batch as the MCP server does: its plain gateway login, in its own transaction."""
    with conn.transaction():
        act_as(conn, GATEWAY)
        return conn.execute("select private.write_mcp_audit_batch(%s)", (Jsonb(records),)).fetchone()[0]


def audit_count(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from public.mcp_audit_log").fetchone()[0]


def get_audit_log(conn: psycopg.Connection, principal: Principal, **args: object) -> dict:
    names = ", ".join(f'"{k}" => %({k})s' for k in args)
    with as_principal(conn, principal):
        return conn.execute(f"select public.atoms_get_audit_log({names})", args).fetchone()[0]


# ---- writing ----


def test_the_gateway_writes_a_batch_and_the_database_derives_the_organisation(db: psycopg.Connection) -> None:
    before = audit_count(db)
    globex_call = record(project_id=GLOBEX_PROJECT, request_id="r-2", user_id=GLOBEX_ADMIN.user_id)
    written = write(db, [record(), globex_call, record(project_id=None)])
    assert written == 3
    rows = db.execute(
        "select project_id::text, org_id::text, actor, created_at = now() or created_at <= now() "
        "from public.mcp_audit_log order by id desc limit 3"
    ).fetchall()
    assert [r[:2] for r in rows] == [(None, None), (GLOBEX_PROJECT, GLOBEX_ORG), (ACME_PROJECT, ACME_ORG)]
    assert audit_count(db) == before + 3


def test_an_org_is_filed_only_for_its_members_and_an_unknown_project_gets_no_org(db: psycopg.Connection) -> None:
    before = audit_count(db)
    # The record's user (Acme's editor by default) is no member of Globex: the claim files nothing.
    write(db, [record(org_id=GLOBEX_ORG, project_id=None)])
    assert db.execute("select org_id from public.mcp_audit_log order by id desc limit 1").fetchone() == (None,)
    write(db, [record(org_id=ACME_ORG, project_id=None)])
    assert db.execute("select org_id::text from public.mcp_audit_log order by id desc limit 1").fetchone() == (
        ACME_ORG,
    )
    write(db, [record(project_id="d0000000-0000-4000-8000-000000000999", status="error", error_code="NOT_FOUND")])
    assert db.execute("select org_id from public.mcp_audit_log order by id desc limit 1").fetchone() == (None,)
    assert audit_count(db) == before + 3
    with pytest.raises(psycopg.Error) as error:
        write(db, [record(org_id="not-a-uuid", project_id=None)])
    assert error.value.sqlstate == "22023"


@pytest.mark.parametrize("name", [p for p in PRINCIPALS if p != "gateway"])
def test_only_the_gateway_may_call_the_batch_writer(module_db: psycopg.Connection, name: str) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    with as_principal(db, PRINCIPALS[name]), pytest.raises(psycopg.Error) as error:
        db.execute("select private.write_mcp_audit_batch(%s)", (Jsonb([record()]),))
    assert error.value.sqlstate == "42501"


def test_the_gateway_acting_as_a_user_cannot_write_audit_records(module_db: psycopg.Connection) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    with db.transaction(force_rollback=True), pytest.raises(psycopg.Error) as error:
        act_as(db, GATEWAY)
        act_as(db, ADMIN)  # set role authenticated with the admin's claims, as the server does for a tool call
        db.execute("select private.write_mcp_audit_batch(%s)", (Jsonb([record()]),))
    assert error.value.sqlstate == "42501"


DIRECT_WRITES = {
    "insert": "insert into public.mcp_audit_log (called_at, tool_name, status, duration_ms) "
    "values (now(), 'x', 'success', 1)",
    "update": "update public.mcp_audit_log set status = 'error', error_code = 'FORGED'",
    "delete": "delete from public.mcp_audit_log",
    "truncate": "truncate public.mcp_audit_log",
}


@pytest.mark.parametrize("statement", DIRECT_WRITES)
@pytest.mark.parametrize("name", list(PRINCIPALS))
def test_no_principal_writes_or_changes_audit_rows_directly(
    module_db: psycopg.Connection, name: str, statement: str
) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    before = db.execute(
        "select count(*), md5(string_agg(t::text, '' order by id)) from public.mcp_audit_log as t"
    ).fetchone()
    with as_principal(db, PRINCIPALS[name]), pytest.raises(psycopg.Error) as error:
        db.execute(DIRECT_WRITES[statement])
    assert error.value.sqlstate == "42501"
    assert (
        db.execute(
            "select count(*), md5(string_agg(t::text, '' order by id)) from public.mcp_audit_log as t"
        ).fetchone()
        == before
    )


@pytest.mark.parametrize("statement", ["update", "delete", "truncate"])
def test_even_the_owner_cannot_change_or_remove_audit_rows(module_db: psycopg.Connection, statement: str) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    before = audit_count(db)
    assert before > 0
    with pytest.raises(psycopg.Error) as error:
        db.execute(DIRECT_WRITES[statement])
    assert error.value.sqlstate == "42501"
    assert "append-only" in str(error.value)
    assert audit_count(db) == before


BAD_RECORDS = [
    ({"tool_name": "atoms get item"}, "tool_name"),
    ({"tool_name": "x" * 129}, "tool_name"),
    ({"tool_name": None}, "tool_name"),
    ({"status": "ok"}, "status"),
    ({"status": "error"}, "error_code"),
    ({"error_code": "NOT_FOUND"}, "error_code"),
    ({"duration_ms": -1}, "duration_ms"),
    ({"duration_ms": 1.5}, "duration_ms"),
    ({"duration_ms": "7"}, "duration_ms"),
    ({"user_id": "not-a-uuid"}, "user_id"),
    ({"project_id": "a0000000-0000-4000-8000-00000000010"}, "project_id"),
    ({"actor": "user"}, "actor"),
    ({"params": ["not", "an", "object"]}, "params"),
    ({"called_at": "yesterday"}, "called_at"),
    ({"called_at": "2020-01-01T00:00:00Z"}, "called_at"),
    ({"surprise": 1}, "surprise"),
    ({"user_id": 42}, "strings"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_RECORDS, ids=[f for _, f in BAD_RECORDS])
def test_a_bad_record_rejects_the_whole_batch_naming_record_and_field(
    module_db: psycopg.Connection, bad: dict[str, object], field: str
) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    before = audit_count(db)
    with pytest.raises(psycopg.Error) as error:
        write(db, [record(), record(request_id="r-2"), record(**bad)])
    assert error.value.sqlstate == "22023"
    assert "records[2]" in str(error.value)
    assert field in str(error.value)
    assert audit_count(db) == before


@pytest.mark.parametrize("batch", [[], {"tool_name": "x"}, [1], None], ids=["empty", "object", "scalar", "null"])
def test_a_batch_must_be_a_non_empty_array_of_objects(module_db: psycopg.Connection, batch: object) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    with pytest.raises(psycopg.Error) as error:
        write(db, batch)  # type: ignore[arg-type]
    assert error.value.sqlstate == "22023"


def test_a_batch_holds_at_most_1000_records(db: psycopg.Connection) -> None:
    assert write(db, [record(request_id=f"r-{i}") for i in range(1000)]) == 1000
    with pytest.raises(psycopg.Error) as error:
        write(db, [record()] * 1001)
    assert error.value.sqlstate == "22023"


def test_oversized_params_are_replaced_by_a_marker_with_size_and_hash(db: psycopg.Connection) -> None:
    big = {"project_id": ACME_PROJECT, "body": "é" * 5000}
    write(db, [record(tool_name="atoms_create_item", params=big)])
    stored = db.execute("select params, params::text from public.mcp_audit_log order by id desc limit 1").fetchone()
    canonical = db.execute("select %s::jsonb::text", (Jsonb(big),)).fetchone()[0]
    assert stored[0] == {
        "_truncated": True,
        "original_bytes": len(canonical.encode()),
        "sha256": hashlib.sha256(canonical.encode()).hexdigest(),
    }
    assert len(stored[1].encode()) < 200


def test_params_just_under_the_cap_are_kept_verbatim(db: psycopg.Connection) -> None:
    params = {"body": "x" * 8000}
    write(db, [record(params=params)])
    assert db.execute("select params from public.mcp_audit_log order by id desc limit 1").fetchone()[0] == params


def test_secrets_in_params_are_redacted_at_any_depth(db: psycopg.Connection) -> None:
    params = {
        "title": "keep me",
        "access_token": "eyJ...",
        "nested": {"Password": "hunter2", "items": [{"api_key": "k", "note": "keep"}]},
    }
    write(db, [record(params=params)])
    assert db.execute("select params from public.mcp_audit_log order by id desc limit 1").fetchone()[0] == {
        "title": "keep me",
        "access_token": "[redacted]",
        "nested": {"Password": "[redacted]", "items": [{"api_key": "[redacted]", "note": "keep"}]},
    }


def test_client_influenced_text_is_cleaned_not_refused(db: psycopg.Connection) -> None:
    # A client chooses its name, its JSON-RPC request id and the input echoed in error messages: such text is
    # neutralised so that no client can get the records of its calls rejected.
    write(
        db,
        [
            record(
                status="error",
                error_code="VALIDATION_ERROR",
                error_message='title must not contain control characters, got "a\x01b"\nsecond line' + "m" * 1000,
                client_name="evil\x1b[31mclient" + "c" * 200,
                request_id="id\twith\ttabs",
                session_id="s" * 201,
            )
        ],
    )
    row = db.execute(
        "select error_message, client_name, request_id, session_id from public.mcp_audit_log order by id desc limit 1"
    ).fetchone()
    assert row[0].startswith('title must not contain control characters, got "a\ufffdb"\nsecond line')
    assert len(row[0]) == 1000 and row[0].endswith("\u2026")
    assert row[1].startswith("evil\ufffd[31mclient") and len(row[1]) == 100
    assert row[2] == "id\ufffdwith\ufffdtabs"
    assert len(row[3]) == 200


def test_called_at_is_kept_as_the_server_reports_it(db: psycopg.Connection) -> None:
    reported = db.execute("select (now() - interval '3 days')").fetchone()[0]
    write(db, [record(called_at=reported.isoformat()), record(called_at=None)])
    rows = db.execute("select called_at, created_at from public.mcp_audit_log order by id desc limit 2").fetchall()
    assert rows[1][0] == reported
    assert rows[0][0] == rows[0][1]  # not reported: the database's time


# ---- reading ----


def seed_both_orgs(db: psycopg.Connection) -> None:
    write(
        db,
        [
            record(tool_name="atoms_search", request_id="acme-a"),
            record(tool_name="atoms_delete_item", status="error", error_code="PERMISSION_DENIED", request_id="acme-b"),
            record(project_id=GLOBEX_PROJECT, user_id=PRINCIPALS["other_org_admin"].user_id, request_id="globex-a"),
            record(tool_name="atoms_list_projects", project_id=None, params={}, request_id="no-project"),
            record(
                tool_name="atoms_status", project_id=None, user_id=None, status="error", error_code="UNAUTHENTICATED"
            ),
        ],
    )


def visible(db: psycopg.Connection, principal: Principal) -> set[str]:
    with as_principal(db, principal):
        return {r[0] for r in db.execute("select coalesce(request_id, '-') from public.mcp_audit_log")}


def test_viewers_editors_and_outsiders_read_no_audit_record(db: psycopg.Connection) -> None:
    seed_both_orgs(db)
    for name in ("non_member", "viewer", "editor"):
        assert visible(db, PRINCIPALS[name]) == set(), name


def test_admins_read_only_their_organisations_records(db: psycopg.Connection) -> None:
    seed_both_orgs(db)
    acme = visible(db, ADMIN)
    globex = visible(db, GLOBEX_ADMIN)
    assert {"acme-a", "acme-b"} <= acme
    assert "globex-a" in globex
    assert acme.isdisjoint({"globex-a", "seed-4"})
    assert globex.isdisjoint({"acme-a", "acme-b", "seed-2", "seed-3"})
    # Records without a project (list_projects, authentication failures) are readable by no user.
    assert "no-project" not in acme | globex
    assert "-" not in acme | globex
    with as_principal(db, ADMIN):
        assert db.execute(
            "select count(*) from public.mcp_audit_log where project_id = %s or org_id = %s or project_id is null",
            (GLOBEX_PROJECT, GLOBEX_ORG),
        ).fetchone() == (0,)


def test_a_call_naming_another_tenants_project_lands_in_no_tenants_log(db: psycopg.Connection) -> None:
    outsider = PRINCIPALS["non_member"].user_id
    acme_editor = PRINCIPALS["editor"].user_id
    write(
        db,
        [
            record(project_id=GLOBEX_PROJECT, user_id=outsider, status="error", error_code="NOT_FOUND"),
            record(project_id=GLOBEX_PROJECT, user_id=acme_editor, status="error", error_code="VALIDATION_ERROR"),
        ],
    )
    rows = db.execute(
        "select org_id from public.mcp_audit_log where project_id = %s and user_id = any(%s)",
        (GLOBEX_PROJECT, [outsider, acme_editor]),
    ).fetchall()
    assert rows == [(None,), (None,)]
    assert get_audit_log(db, GLOBEX_ADMIN, project_id=GLOBEX_PROJECT, user_id=outsider)["data"] == []
    assert get_audit_log(db, GLOBEX_ADMIN, project_id=GLOBEX_PROJECT, user_id=acme_editor)["data"] == []
    with as_principal(db, PRINCIPALS["service_role"]):
        seen = db.execute(
            "select count(*) from public.mcp_audit_log where project_id = %s and org_id is null", (GLOBEX_PROJECT,)
        ).fetchone()
    assert seen == (2,)


def test_atoms_get_audit_log_returns_newest_first_with_meta(db: psycopg.Connection) -> None:
    seed_both_orgs(db)
    write(db, [record(tool_name="atoms_trace", request_id="acme-c")])
    page = get_audit_log(db, ADMIN, project_id=ACME_PROJECT, limit=2)
    assert [r["request_id"] for r in page["data"]] == ["acme-c", "acme-b"]
    total = page["meta"]["total_count"]
    assert page["meta"] == {"total_count": total, "limit": 2, "offset": 0, "has_more": True}
    assert total >= 4
    last = get_audit_log(db, ADMIN, project_id=ACME_PROJECT, limit=2, offset=total - 1)
    assert len(last["data"]) == 1 and last["meta"]["has_more"] is False
    row = page["data"][0]
    assert row["tool_name"] == "atoms_trace" and row["project_id"] == ACME_PROJECT and row["created_at"].endswith("Z")


def test_atoms_get_audit_log_filters(db: psycopg.Connection) -> None:
    seed_both_orgs(db)
    errors = get_audit_log(db, ADMIN, project_id=ACME_PROJECT, status="error")["data"]
    assert errors and all(r["status"] == "error" for r in errors)
    by_tool = get_audit_log(db, ADMIN, project_id=ACME_PROJECT, tool_name="atoms_search")["data"]
    assert [r["request_id"] for r in by_tool] == ["acme-a"]
    by_user = get_audit_log(db, ADMIN, project_id=ACME_PROJECT, user_id=PRINCIPALS["viewer"].user_id)["data"]
    assert by_user and all(r["user_id"] == PRINCIPALS["viewer"].user_id for r in by_user)
    now = db.execute("select to_char(now() at time zone 'utc', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')").fetchone()[0]
    assert get_audit_log(db, ADMIN, project_id=ACME_PROJECT, since="2999-01-01")["data"] == []
    assert get_audit_log(db, ADMIN, project_id=ACME_PROJECT, until="2000-01-01T00:00:00Z")["data"] == []
    assert get_audit_log(db, ADMIN, project_id=ACME_PROJECT, since="2000-01-01", until="2999-01-01T00:00:00+02:00")[
        "data"
    ]
    assert get_audit_log(db, ADMIN, project_id=ACME_PROJECT, until=now)["meta"]["total_count"] >= 0


def test_an_acme_admin_sees_no_globex_record_even_through_filters(db: psycopg.Connection) -> None:
    seed_both_orgs(db)
    for args in (
        {"project_id": GLOBEX_PROJECT},
        {"project_id": GLOBEX_PROJECT, "user_id": PRINCIPALS["other_org_admin"].user_id},
    ):
        with pytest.raises(psycopg.Error) as error:
            get_audit_log(db, ADMIN, **args)
        assert error.value.sqlstate == "PT404"
    page = get_audit_log(db, ADMIN, project_id=ACME_PROJECT, user_id=PRINCIPALS["other_org_admin"].user_id)
    assert page["data"] == [] and page["meta"]["total_count"] == 0


@pytest.mark.parametrize(
    ("name", "code"),
    [("anon", "42501"), ("non_member", "PT404"), ("viewer", "42501"), ("editor", "42501"), ("service_role", "42501")],
)
def test_atoms_get_audit_log_is_for_admins(module_db: psycopg.Connection, name: str, code: str) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    with pytest.raises(psycopg.Error) as error:
        get_audit_log(db, PRINCIPALS[name], project_id=ACME_PROJECT)
    assert error.value.sqlstate == code


@pytest.mark.parametrize(
    "args",
    [
        {"project_id": "not-a-uuid"},
        {"project_id": ACME_PROJECT, "status": "failed"},
        {"project_id": ACME_PROJECT, "user_id": "x"},
        {"project_id": ACME_PROJECT, "tool_name": "drop table;"},
        {"project_id": ACME_PROJECT, "since": "last week"},
        {"project_id": ACME_PROJECT, "until": "2026-02-30T00:00:00Z"},
        {"project_id": ACME_PROJECT, "limit": 0},
        {"project_id": ACME_PROJECT, "limit": 201},
        {"project_id": ACME_PROJECT, "offset": -1},
    ],
    ids=lambda a: json.dumps(a)[-40:],
)
def test_atoms_get_audit_log_validates_its_arguments(module_db: psycopg.Connection, args: dict[str, object]) -> None:
    db = module_db  # rolled back: shares one clone with the module's other read-only tests
    with pytest.raises(psycopg.Error) as error:
        get_audit_log(db, ADMIN, **args)
    assert error.value.sqlstate == "22023"


def test_the_filtered_count_is_an_index_only_scan(db: psycopg.Connection) -> None:
    db.execute("vacuum public.mcp_audit_log")
    db.execute("set enable_seqscan = off")
    db.execute("set enable_bitmapscan = off")
    with as_principal(db, ADMIN):
        plan = "\n".join(
            r[0]
            for r in db.execute(
                "explain select count(*) from public.mcp_audit_log where project_id = %s "
                "and status = 'error' and user_id = %s and tool_name = 'atoms_get_item' "
                "and created_at >= now() - interval '1 day'",
                (ACME_PROJECT, ADMIN.user_id),
            )
        )
    assert "Index Only Scan using mcp_audit_log_project_id_created_at_idx" in plan


def test_the_admin_query_uses_the_project_index(db: psycopg.Connection) -> None:
    db.execute("set enable_seqscan = off")
    plan = "\n".join(
        r[0]
        for r in db.execute(
            "explain select * from public.mcp_audit_log where project_id = %s "
            "order by created_at desc, id desc limit 50",
            (ACME_PROJECT,),
        )
    )
    assert "mcp_audit_log_project_id_created_at_idx" in plan
