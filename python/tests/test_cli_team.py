"""The team commands of the `atoms` CLI (typer's CliRunner): `atoms dev user add`, `atoms org|member|invitation|
project ...`, `--org` resolution, the CLI's actor and audit records, and clear one-line refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from atoms_mcp.cli.app import app
from mcp_support import gateway_url
from principals import ACME_ORG, PRINCIPALS, act_as

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> None:
    """The CLI sees a fresh clone of the seeded database and a private state directory."""
    monkeypatch.setenv("ATOMS_DATABASE_URL", db_url)
    monkeypatch.setenv("ATOMS_GATEWAY_DATABASE_URL", gateway_url(db_url))
    monkeypatch.setenv("ATOMS_STATE_DIR", str(tmp_path / "state"))


def atoms(*args: str) -> Any:
    return runner.invoke(app, list(args))


def test_dev_user_add_creates_a_confirmed_user_once(db: psycopg.Connection) -> None:
    first = atoms("dev", "user", "add", "  Quinn@PumpCo.test ", "--name", "Quinn Lead")
    assert first.exit_code == 0, first.output
    assert "quinn@pumpco.test created" in first.output
    row = db.execute(
        "select email, email_confirmed_at is not null, raw_user_meta_data ->> 'name' from auth.users"
        " where email = 'quinn@pumpco.test'"
    ).fetchone()
    assert row == ("quinn@pumpco.test", True, "Quinn Lead")
    again = atoms("dev", "user", "add", "quinn@pumpco.test")
    assert again.exit_code == 0 and "already exists (unchanged)" in again.output
    assert db.execute("select count(*) from auth.users where email = 'quinn@pumpco.test'").fetchone() == (1,)


def test_dev_user_add_refuses_a_malformed_email_in_one_line() -> None:
    result = atoms("dev", "user", "add", "not an email")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        'email must be an email address such as alice@example.com, got "not an email"'
    ]


def test_dev_token_for_an_unknown_email_says_how_to_add_one() -> None:
    result = atoms("dev", "token", "--user", "alice@pumpco.test")
    assert result.exit_code == 1
    assert 'add one with: atoms dev user add alice@pumpco.test --name "Their Name"' in result.output


def test_org_is_inferred_when_the_caller_administers_exactly_one(db: psycopg.Connection) -> None:
    invited = atoms("member", "invite", "new@pumpco.test", "--role", "editor", "--as", "admin@acme.test")
    assert invited.exit_code == 0, invited.output
    assert "Invitation pending" in invited.output
    row = db.execute(
        "select org_id::text, role::text from public.organization_invitations where email = 'new@pumpco.test'"
    )
    assert row.fetchone() == (ACME_ORG, "editor")
    # The CLI's actor in the organisation's chain, its client in the audit log filed under the organisation.
    actor = db.execute(
        "select actor from public.change_history where scope = 'org' and event_type = 'invitation_created'"
        " order by id desc limit 1"
    ).fetchone()
    assert actor == ("cli",)
    audit = db.execute(
        "select org_id::text, client_name from public.mcp_audit_log where tool_name = 'atoms_invite_member'"
    ).fetchall()
    assert audit == [(ACME_ORG, "atoms-cli")]
    # The organisation's admins read those organisation-level records.
    with db.transaction(force_rollback=True):
        act_as(db, PRINCIPALS["admin"])
        page = db.execute("select public.atoms_get_audit_log(org_id => %s)", (ACME_ORG,)).fetchone()
    assert page is not None
    assert [r["tool_name"] for r in page[0]["data"]] == ["atoms_invite_member"]
    assert page[0]["data"][0]["org_id"] == ACME_ORG


def test_a_caller_administering_several_organisations_must_choose(db: psycopg.Connection) -> None:
    assert atoms("org", "create", "Second Org", "--as", "admin@acme.test").exit_code == 0
    result = atoms("project", "create", "Pump", "--as", "admin@acme.test")
    assert result.exit_code == 1
    assert "several organisations (Acme Automotive, Second Org)" in result.output
    chosen = atoms("project", "create", "Pump", "--org", "second org", "--as", "admin@acme.test")
    assert chosen.exit_code == 0, chosen.output
    listed = atoms("org", "list", "--as", "admin@acme.test")
    assert "Second Org" in listed.output and "Acme Automotive" in listed.output


def test_a_caller_administering_no_organisation_is_told_how_to_create_one() -> None:
    result = atoms("member", "list", "--as", "editor@acme.test")
    assert result.exit_code == 1
    assert 'you administer no organisation; create one with `atoms org create "NAME"`' in result.output


def test_naming_an_organisation_one_does_not_belong_to_finds_nothing() -> None:
    result = atoms("member", "list", "--org", "Globex Medical", "--as", "admin@acme.test")
    assert result.exit_code == 1
    assert "no single organisation of yours is named 'Globex Medical'" in result.output


def test_a_viewer_is_refused_in_one_line_by_the_database() -> None:
    result = atoms(
        "member", "invite", "x@pumpco.test", "--role", "viewer", "--org", "Acme Automotive", "--as", "viewer@acme.test"
    )
    assert result.exit_code == 1
    assert result.output.startswith("PermissionDeniedError: permission denied: this action needs the admin role")


def test_invitation_accept_by_organisation_name_and_member_commands() -> None:
    listed = atoms("invitation", "list", "--as", "outsider@example.test")
    assert "Acme Automotive" in listed.output and "viewer" in listed.output
    accepted = atoms("invitation", "accept", "acme automotive", "--as", "outsider@example.test")
    assert accepted.exit_code == 0, accepted.output
    assert "You joined Acme Automotive as viewer." in accepted.output
    promoted = atoms("member", "role", "OUTSIDER@example.test", "editor", "--as", "admin@acme.test")
    assert "outsider@example.test is now editor (was viewer)." in promoted.output
    removed = atoms("member", "remove", "outsider@example.test", "--as", "admin@acme.test")
    assert removed.exit_code == 0 and "no longer a member" in removed.output
    last = atoms("member", "remove", "admin@acme.test", "--as", "admin@acme.test")
    assert last.exit_code == 1 and "ConflictError: cannot remove the last admin" in last.output
    unknown = atoms("member", "role", "nobody@acme.test", "viewer", "--as", "admin@acme.test")
    assert unknown.exit_code == 1 and "nobody@acme.test is not a member" in unknown.output


def test_invitation_decline_and_project_archive() -> None:
    declined = atoms("invitation", "decline", "a0000000-0000-4000-8000-0000000001e1", "--as", "outsider@example.test")
    assert declined.exit_code == 0 and "declined" in declined.output
    archived = atoms("project", "archive", "Brake controller", "--as", "admin@acme.test")
    assert archived.exit_code == 0 and "Project archived" in archived.output
    assert "Brake controller" not in atoms("project", "list", "--as", "viewer@acme.test").output
    assert "Brake controller" in atoms("project", "list", "--include-archived", "--as", "viewer@acme.test").output
    restored = atoms("project", "archive", "Brake controller", "--undo", "--as", "admin@acme.test")
    assert "unarchived" in restored.output
