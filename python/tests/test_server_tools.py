"""Every tool of the registry through the real server (in-memory Client), as every kind of user, in both
protocol eras: the envelope, the role matrix (success and refusal codes), validation, unknown tools."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS, Implementation
from psycopg.conninfo import make_conninfo

from atoms_mcp.core.caller import StaticTokenSource
from atoms_mcp.core.registry import TOOLS, TOOLS_BY_NAME
from atoms_mcp.server.app import create_server
from mcp_support import ACME_PROJECT, ListSink, error_code, make_settings, payload, token_for
from principals import ACME_ORG
from principals import PRINCIPALS as ALL_PRINCIPALS

pytestmark = pytest.mark.anyio

MODES = ["legacy", "auto"]
PRINCIPALS = ["viewer", "editor", "admin", "non_member", "other_org_admin"]
READ = {"viewer": None, "editor": None, "admin": None, "non_member": "NOT_FOUND", "other_org_admin": "NOT_FOUND"}
WRITE = {**READ, "viewer": "PERMISSION_DENIED"}
ADMIN = {**WRITE, "editor": "PERMISSION_DENIED"}
EVERYONE = dict.fromkeys(PRINCIPALS)
NOBODY = dict.fromkeys(PRINCIPALS, "NOT_FOUND")
NO_INVITATION = "d0000000-0000-4000-8000-0000000001e9"
PRINCIPAL_IDS = {name: principal.user_id for name, principal in ALL_PRINCIPALS.items()}

Args = Callable[[int, str], dict[str, Any]]


def p(**extra: Any) -> Args:
    """Arguments on the Acme project, the same for every mode and principal."""
    return lambda _mode, _who: {"project_id": ACME_PROJECT, **extra}


def o(**extra: Any) -> Args:
    """Arguments on the Acme organisation, the same for every mode and principal."""
    return lambda _mode, _who: {"org_id": ACME_ORG, **extra}


# Per mode (0 legacy, 1 auto) and principal, the writes touch different items so the cases stay independent.
_UPDATE = {0: {"editor": "REQ-002", "admin": "REQ-003"}, 1: {"editor": "REQ-004", "admin": "REQ-005"}}
_DELETE = {0: {"editor": "NOTE-001", "admin": "NOTE-002"}, 1: {"editor": "NOTE-003", "admin": "NOTE-004"}}
# The verification link that the same principal's atoms_update_item (it runs first) made suspect.
_CLEAR = {
    0: {"editor": "TC-002 REQ-002", "admin": "TC-003 REQ-003"},
    1: {"editor": "TC-004 REQ-004", "admin": "TC-005 REQ-005"},
}


def _clear(mode: int, who: str) -> dict[str, Any]:
    from_id, to_id = _CLEAR[mode].get(who, "TC-001 REQ-001").split()
    return {"project_id": ACME_PROJECT, "from_id": from_id, "to_id": to_id, "reason": f"reviewed by {who}"}


CASES: dict[str, tuple[Args, dict[str, str | None]]] = {
    "atoms_status": (lambda _m, _w: {}, EVERYONE),
    "atoms_list_projects": (lambda _m, _w: {"limit": 10}, EVERYONE),
    "atoms_list_items": (p(type="requirement", limit=5), READ),
    "atoms_get_item": (p(item_id="REQ-001"), READ),
    "atoms_search": (p(query="brake"), READ),
    "atoms_get_coverage": (p(), READ),
    "atoms_list_suspect_links": (p(limit=5), READ),
    "atoms_trace_matrix": (p(status="verified", limit=5), READ),
    "atoms_get_history": (p(item_id="REQ-001", limit=5), READ),
    "atoms_export_mermaid": (p(depth=2), READ),
    "atoms_trace": (p(item_id="REQ-001", direction="both", depth=2), READ),
    "atoms_project_summary": (p(), READ),
    "atoms_browse": (p(limit=3), READ),
    "atoms_create_item": (lambda m, w: {"project_id": ACME_PROJECT, "type": "note", "title": f"by {w} ({m})"}, WRITE),
    "atoms_update_item": (
        lambda m, w: {"project_id": ACME_PROJECT, "item_id": _UPDATE[m].get(w, "REQ-006"), "summary": f"by {w}"},
        WRITE,
    ),
    "atoms_delete_item": (
        lambda m, w: {"project_id": ACME_PROJECT, "item_id": _DELETE[m].get(w, "REQ-007")},
        WRITE,
    ),
    "atoms_link_items": (p(from_id="TC-001", to_id="REQ-008", type="verifies", action="add"), WRITE),
    "atoms_bulk_import": (
        lambda m, w: {"project_id": ACME_PROJECT, "items": [{"type": "note", "title": f"bulk {w} {m}"}]},
        WRITE,
    ),
    "atoms_record_test_result": (p(item_id="TC-002", result="passed", note="green"), WRITE),
    # The admin restores what the editor deleted in the same mode (atoms_delete_item runs first).
    "atoms_clear_suspect": (_clear, WRITE),
    "atoms_restore_item": (lambda m, _w: {"project_id": ACME_PROJECT, "item_id": _DELETE[m]["editor"]}, ADMIN),
    "atoms_get_audit_log": (p(limit=5), ADMIN),
    "atoms_verify_history": (p(), READ),
    "atoms_create_organization": (lambda m, w: {"name": f"org of {w} ({m})"}, EVERYONE),
    "atoms_list_my_invitations": (lambda _m, _w: {"limit": 5}, EVERYONE),
    # Nobody's invitation: accepting here would make the non-member a member for the rest of the module.
    "atoms_accept_invitation": (lambda _m, _w: {"invitation_id": NO_INVITATION}, NOBODY),
    "atoms_decline_invitation": (lambda _m, _w: {"invitation_id": NO_INVITATION}, NOBODY),
    "atoms_invite_member": (
        lambda m, w: {"org_id": ACME_ORG, "email": f"{w}.{m}@pumpco.test", "role": "viewer"},
        ADMIN,
    ),
    "atoms_list_members": (o(), ADMIN),
    "atoms_set_member_role": (o(user_id=PRINCIPAL_IDS["viewer"], role="viewer"), ADMIN),
    # The outsider is no member of Acme: found by nobody, refused by role first to its viewers and editors.
    "atoms_remove_member": (o(user_id=PRINCIPAL_IDS["non_member"]), {**ADMIN, "admin": "NOT_FOUND"}),
    "atoms_create_project": (lambda m, w: {"org_id": ACME_ORG, "name": f"project of {w} ({m})"}, ADMIN),
    "atoms_update_project": (lambda m, w: {"project_id": ACME_PROJECT, "description": f"by {w} ({m})"}, ADMIN),
    "atoms_archive_project": (p(archived=False), ADMIN),
    "atoms_get_org_history": (o(limit=5), ADMIN),
}


class SwitchableTokenSource:
    """One client, many users: the test switches the token between calls."""

    def __init__(self) -> None:
        self.token: str | None = None

    async def access_token(self) -> str | None:
        return self.token

    def status(self) -> str:
        return "test"


@pytest.fixture(scope="module")
def module_url(module_db: psycopg.Connection) -> str:
    info = module_db.info
    return make_conninfo(host=info.host, port=info.port, user=info.user, dbname=info.dbname, password=info.password)


def test_every_registered_tool_has_a_case() -> None:
    assert set(CASES) == set(TOOLS_BY_NAME)
    assert len(TOOLS) == 35


@pytest.mark.parametrize("mode", MODES)
async def test_every_tool_as_every_role(mode: str, module_url: str, tmp_path: Path) -> None:
    source = SwitchableTokenSource()
    server = create_server(make_settings(module_url, tmp_path), token_source=source, audit_sink=ListSink())
    failures: list[str] = []
    async with Client(server, mode=mode, client_info=Implementation(name="claude-code", version="1")) as client:
        for spec in TOOLS:
            make_args, expected = CASES[spec.name]
            for who in PRINCIPALS:
                source.token = token_for(who)
                result = await client.call_tool(spec.name, make_args(MODES.index(mode), who))
                got = error_code(result)
                body = payload(result)
                if got != expected[who]:
                    detail = body.get("error", {}).get("message") if result.is_error else "success"
                    failures.append(f"{spec.name} as {who}: expected {expected[who] or 'success'}, got {detail}")
                    continue
                if got is None and spec.kind == "rpc":
                    assert body["status"] == "success" and "data" in body
                    assert ("meta" in body) == spec.returns_meta, spec.name
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("mode", MODES)
async def test_tools_list_publishes_the_registry(mode: str, tmp_path: Path) -> None:
    server = create_server(make_settings(None, tmp_path), audit_sink=ListSink())
    async with Client(server, mode=mode) as client:
        listed = (await client.list_tools()).tools
    assert [tool.name for tool in listed] == [spec.name for spec in TOOLS]
    for tool in listed:
        spec = TOOLS_BY_NAME[tool.name]
        assert tool.description and len(tool.description) > 60
        assert tool.input_schema["type"] == "object"
        assert tool.input_schema["additionalProperties"] is False
        assert tool.annotations is not None
        assert tool.annotations.open_world_hint is False
        assert tool.annotations.read_only_hint is spec.read_only
        assert tool.annotations.destructive_hint is spec.destructive
    assert TOOLS_BY_NAME["atoms_delete_item"].destructive
    assert not TOOLS_BY_NAME["atoms_update_item"].idempotent


@pytest.mark.parametrize("mode", MODES)
async def test_unknown_tool_is_a_protocol_error(mode: str, tmp_path: Path) -> None:
    server = create_server(make_settings(None, tmp_path), audit_sink=ListSink())
    async with Client(server, mode=mode) as client:
        with pytest.raises(MCPError) as raised:
            await client.call_tool("atoms_drop_database", {})
    assert raised.value.code == INVALID_PARAMS


@pytest.mark.parametrize("mode", MODES)
async def test_invalid_arguments_are_a_tool_error_naming_each_field(mode: str, url: str, tmp_path: Path) -> None:
    sink = ListSink()
    # The caller is identified first (an invalid call then takes its rate-limit slot in the database).
    server = create_server(
        make_settings(url, tmp_path), token_source=StaticTokenSource(token_for("editor")), audit_sink=sink
    )
    async with Client(server, mode=mode) as client:
        result = await client.call_tool(
            "atoms_list_items", {"project_id": "not-a-uuid", "limit": 500, "colour": "red", "type": "bogus"}
        )
        assert result.is_error
        error = payload(result)["error"]
        assert error["code"] == "VALIDATION_ERROR"
        fields = {d["field"] for d in error["details"]}
        assert fields == {"project_id", "limit", "colour", "type"}
        assert "must be a UUID" in error["message"]
        assert "unknown parameter" in error["message"]

        key = await client.call_tool("atoms_get_item", {"project_id": ACME_PROJECT, "item_id": "req-1"})
        assert "item key such as REQ-001" in payload(key)["error"]["message"]

        nothing = await client.call_tool("atoms_update_item", {"project_id": ACME_PROJECT, "item_id": "REQ-001"})
        assert "at least one field" in payload(nothing)["error"]["message"]

        too_many = [{"type": "note", "title": "x"}] * 101
        bulk = await client.call_tool("atoms_bulk_import", {"project_id": ACME_PROJECT, "items": too_many})
        assert error_code(bulk) == "VALIDATION_ERROR"

        strict = await client.call_tool("atoms_list_projects", {"limit": "5"})
        assert error_code(strict) == "VALIDATION_ERROR"
    assert [r["error_code"] for r in sink.records] == ["VALIDATION_ERROR"] * 5


@pytest.mark.parametrize("mode", MODES)
async def test_status_works_without_a_token_and_tools_then_refuse(mode: str, tmp_path: Path) -> None:
    server = create_server(make_settings(None, tmp_path), audit_sink=ListSink())
    async with Client(server, mode=mode) as client:
        status = payload(await client.call_tool("atoms_status", {}))
        assert status["status"] == "not_authenticated"
        assert status["email"] is None
        assert "atoms login" in status["message"]
        refused = await client.call_tool("atoms_list_projects", {})
        assert error_code(refused) == "UNAUTHENTICATED"


async def test_status_reports_authenticated_and_expired(url: str, tmp_path: Path) -> None:
    source = SwitchableTokenSource()
    server = create_server(make_settings(url, tmp_path), token_source=source, audit_sink=ListSink())
    async with Client(server) as client:
        source.token = token_for("editor")
        ok = payload(await client.call_tool("atoms_status", {}))
        assert ok == {"status": "authenticated", "email": "editor@acme.test", "message": ok["message"]}
        source.token = token_for("editor", ttl_seconds=-3600)
        expired = payload(await client.call_tool("atoms_status", {}))
        assert expired["status"] == "expired"
        assert expired["email"] == "editor@acme.test"
        refused = await client.call_tool("atoms_list_projects", {})
        assert error_code(refused) == "UNAUTHENTICATED"
        assert "expired" in payload(refused)["error"]["message"]
