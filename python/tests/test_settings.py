"""Settings from the environment: each field from its ATOMS_* variable in any case, the documented alias names in
order, a constructor argument over its variable, a bad value refused with the variable's field named, and
nothing read that is not an ATOMS_* variable."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest
from psycopg.conninfo import conninfo_to_dict

from atoms_mcp.settings import DEFAULT_DATABASE_URL, Settings


def test_without_variables_every_field_has_its_default() -> None:
    settings = Settings()
    assert settings.database_url == DEFAULT_DATABASE_URL
    assert settings.rate_limit_rpm == 60
    assert settings.allowed_hosts == []
    assert settings.jwks_url is None
    assert conninfo_to_dict(settings.gateway_database_url) == {
        "host": "127.0.0.1",
        "port": "5432",
        "dbname": "atoms",
        "user": "atoms_mcp_gateway",
    }


def test_each_field_reads_its_variable_in_any_case_and_converts_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_RATE_LIMIT_RPM", "120")
    monkeypatch.setenv("atoms_state_dir", "/tmp/atoms-state")
    monkeypatch.setenv("Atoms_Login_Timeout_Seconds", "2.5")
    monkeypatch.setenv("ATOMS_JWKS_URL", "")
    settings = Settings()
    assert settings.rate_limit_rpm == 120
    assert settings.state_dir == Path("/tmp/atoms-state")
    assert settings.login_timeout_seconds == 2.5
    assert settings.jwks_url == ""  # set but empty: kept as given, as for any other variable


def test_the_gateway_url_derives_from_the_database_url_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_DATABASE_URL", "postgresql://postgres:pw@db.example:6543/atoms_x")
    gateway = conninfo_to_dict(Settings().gateway_database_url)
    assert gateway == {"host": "db.example", "port": "6543", "dbname": "atoms_x", "user": "atoms_mcp_gateway"}


def test_the_auth_url_takes_its_documented_name_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_AUTH_ISSUER_URL", "https://second.example/auth/v1")
    assert Settings().auth_issuer_url == "https://second.example/auth/v1"
    monkeypatch.setenv("ATOMS_AUTH_URL", "https://first.example/auth/v1")
    assert Settings().auth_issuer_url == "https://first.example/auth/v1"


def test_only_atoms_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_ISSUER_URL", "https://unprefixed.example")
    monkeypatch.setenv("DATABASE_URL", "postgresql://elsewhere/db")
    monkeypatch.setenv("ATOMS_NO_SUCH_SETTING", "ignored")
    settings = Settings()
    assert settings.auth_issuer_url == "http://127.0.0.1:54321/auth/v1"
    assert settings.database_url == DEFAULT_DATABASE_URL


def test_a_constructor_argument_wins_over_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_RATE_LIMIT_RPM", "120")
    monkeypatch.setenv("ATOMS_AUTH_URL", "https://from-environment.example")
    monkeypatch.setenv("ATOMS_POOL_MAX_SIZE", "7")
    settings = Settings(rate_limit_rpm=5, auth_issuer_url="https://given.example")
    assert (settings.rate_limit_rpm, settings.auth_issuer_url) == (5, "https://given.example")
    assert settings.pool_max_size == 7


def test_comma_separated_lists_are_split_and_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ATOMS_ALLOWED_ORIGINS", " https://a.example ,, https://b.example ")
    assert Settings().allowed_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ATOMS_RATE_LIMIT_RPM", "many"),
        ("ATOMS_RATE_LIMIT_RPM", "0"),
        ("ATOMS_POOL_MAX_SIZE", "100000"),
        ("ATOMS_LOGIN_PORT", "70000"),
        ("ATOMS_STATEMENT_TIMEOUT_MS", "1e3"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(pydantic.ValidationError) as refused:
        Settings()
    assert [error["loc"] for error in refused.value.errors()] == [(variable.removeprefix("ATOMS_").lower(),)]
