"""Every failing example the fuzzer (test_fuzz_tools.py) ever found, kept as an explicit case through the real
server and the database audit writer: no INTERNAL, a documented refusal, one audit row per call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from jsonschema import Draft202012Validator

from atoms_mcp.core.registry import TOOLS_BY_NAME
from mcp_support import ACME_PROJECT
from principals import ACME_ORG
from test_fuzz_tools import audit_rows, check_result, served

CASES: list[tuple[str, dict[str, Any]]] = [
    # An unpaired surrogate in an argument: jsonb refused the audit record, and with it the whole batch.
    ("atoms_status", {"anything": "\ud800"}),
    ("atoms_get_item", {"project_id": ACME_PROJECT, "item_id": "REQ-001\udfff"}),
    # NaN and infinities: JSON text jsonb cannot hold.
    ("atoms_list_items", {"project_id": ACME_PROJECT, "limit": float("nan")}),
    ("atoms_search", {"project_id": ACME_PROJECT, "query": "brake", "limit": float("inf")}),
    # Thousands of unknown fields: the refusal overran the budget, then its trimmed form broke the output schema
    # of a paginated tool (markers in a meta without the page fields).
    ("atoms_list_projects", {f"unknown_{n}": "x" * 40 for n in range(3000)}),
    ("atoms_list_items", {"project_id": ACME_PROJECT} | {f"unknown_{n}": "x" * 40 for n in range(3000)}),
    # NUL inside a nested unknown argument.
    ("atoms_create_item", {"project_id": ACME_PROJECT, "type": "note", "title": "x", "colour": {"a\x00": ["\x00"]}}),
    # NUL and unpaired surrogates in the team tools' text: their models had lost the text rules (INTERNAL).
    ("atoms_create_project", {"org_id": ACME_ORG, "name": "\x00"}),
    ("atoms_create_organization", {"name": "Pump\ud800Co"}),
    ("atoms_invite_member", {"org_id": ACME_ORG, "email": "0@0.\x00", "role": "viewer"}),
    ("atoms_update_project", {"project_id": ACME_PROJECT, "description": "\x00"}),
    # A guarded delete's CONFLICT carries its impact as an object in error.details (the schema allowed lists only).
    ("atoms_delete_item", {"project_id": ACME_PROJECT, "item_id": "REQ-001"}),
]


@pytest.mark.parametrize(("tool", "arguments"), CASES, ids=[f"{n}-{t}" for n, (t, _) in enumerate(CASES)])
def test_fuzzer_finding_stays_fixed(
    tool: str, arguments: dict[str, Any], module_db: psycopg.Connection, url: str, tmp_path: Path
) -> None:
    spec = TOOLS_BY_NAME[tool]
    before = audit_rows(module_db, tool)
    with served(url, tmp_path / "state") as (portal, client):
        result = portal.call(client.call_tool, tool, arguments)
        assert check_result(spec, result, Draft202012Validator(spec.output_schema)) is None
    assert audit_rows(module_db, tool) == before + 1
