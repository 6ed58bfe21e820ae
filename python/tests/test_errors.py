"""Database errors map to the documented error codes; only our own SQLSTATEs carry their message through."""

from __future__ import annotations

import psycopg
import pytest

from atoms_mcp.core.clients import CLI_ACTOR, actor_for, client_label
from atoms_mcp.core.errors import (
    SQLSTATE_TO_ERROR,
    AtomsError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    UnauthenticatedError,
    ValidationError,
    from_database_error,
)
from conftest import TEST_SERVER_URL


def raised(sql: str) -> psycopg.Error:
    with psycopg.connect(TEST_SERVER_URL, autocommit=True) as conn:
        try:
            conn.execute(sql)
        except psycopg.Error as error:
            return error
    raise AssertionError("no error")


def raise_sql(sqlstate: str, message: str = "Item REQ-9 not found", hint: str = "List the items first") -> str:
    return f"do $$ begin raise exception '{message}' using errcode = '{sqlstate}', hint = '{hint}'; end $$"


@pytest.mark.parametrize(
    ("sqlstate", "cls", "code"),
    [
        ("22023", ValidationError, "VALIDATION_ERROR"),
        ("PT404", NotFoundError, "NOT_FOUND"),
        ("42501", PermissionDeniedError, "PERMISSION_DENIED"),
        ("PT409", ConflictError, "CONFLICT"),
        ("28000", UnauthenticatedError, "UNAUTHENTICATED"),
    ],
)
def test_our_sqlstates_map_to_codes_with_their_message(sqlstate: str, cls: type[AtomsError], code: str) -> None:
    error = from_database_error(raised(raise_sql(sqlstate)))
    assert type(error) is cls and error.code == code
    assert error.message == "Item REQ-9 not found (List the items first)"


def test_rate_limited_carries_retry_after_from_detail() -> None:
    sql = "do $$ begin raise exception 'slow down' using errcode = 'PT429', detail = '17'; end $$"
    error = from_database_error(raised(sql))
    assert isinstance(error, RateLimitedError)
    assert error.to_error() == {"code": "RATE_LIMITED", "message": "slow down", "retryAfterSeconds": 17}


@pytest.mark.parametrize(
    "sql",
    [
        "select 1/0",
        "select * from public.secret_table_name",
        raise_sql("P0001", "constraint items_key_check violated on public.items"),
        "select 'x'::uuid",  # 22P02: mapped, but the cast's own text is replaced
        "create temp table t (id int primary key); insert into t values (1), (1)",  # 23505
    ],
)
def test_other_database_errors_never_leak_their_text(sql: str) -> None:
    db_error = raised(sql)
    error = from_database_error(db_error)
    assert error.code in {"INTERNAL", "VALIDATION_ERROR", "CONFLICT"}
    assert db_error.diag.message_primary not in error.message
    for leak in ("public.", "constraint", "secret_table", "syntax", "duplicate key", "division"):
        assert leak not in error.message.lower()


def test_every_mapped_sqlstate_is_a_known_code() -> None:
    assert {cls.code for cls in SQLSTATE_TO_ERROR.values()} == {
        "VALIDATION_ERROR",
        "NOT_FOUND",
        "PERMISSION_DENIED",
        "CONFLICT",
        "RATE_LIMITED",
        "UNAUTHENTICATED",
    }


@pytest.mark.parametrize(
    ("client", "override", "actor"),
    [
        ("claude-code", None, "mcp_claude"),
        ("claude-ai", None, "mcp_claude"),
        ("Cursor", None, "mcp_cursor"),
        ("windsurf-next", None, "mcp_windsurf"),
        ("Visual Studio Code", None, "mcp_vscode"),
        ("visual-studio-code", None, "mcp_vscode"),
        ("some-new-agent", None, "mcp_other"),
        (None, None, "mcp_other"),
        ("claude-code", "CI Runner #7", "mcp_ci_runner_7"),
        ("claude-code", "!!!", "mcp_claude"),
    ],
)
def test_actor_names_the_client_family(client: str | None, override: str | None, actor: str) -> None:
    assert actor_for(client, override) == actor


@pytest.mark.parametrize(
    ("client", "override"),
    [("cli", None), ("atoms-cli", None), ("CLI", None), (None, "cli"), ("claude-code", "atoms-cli"), ("user", None)],
)
def test_no_client_name_makes_the_mcp_actor_the_cli_or_a_user(client: str | None, override: str | None) -> None:
    """The MCP server derives every actor with the mcp_ prefix: a client calling itself the CLI stays an MCP client."""
    actor = actor_for(client, override)
    assert actor.startswith("mcp_") and actor not in (CLI_ACTOR, "user")


def test_client_label_keeps_the_raw_name_capped_and_printable() -> None:
    assert client_label("claude-code") == "claude-code"
    assert client_label("x\x00y" + "z" * 300) == "xy" + "z" * 98
    assert client_label(None, "bot") == "bot"
    assert client_label(None) is None
