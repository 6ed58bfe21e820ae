"""One Settings object for the whole package: every ATOMS_* environment variable is read here and nowhere else.

A process builds it once (the `atoms` command's callback, the benchmark's entry point) and passes it down.
`Settings()` reads each field from `ATOMS_<FIELD>` (any case; a field with a validation alias from the ATOMS_* names
it lists, first found wins); a value given to the constructor wins over its variable. The values then go through
the same pydantic validation as any model input (a plain model: pydantic-settings' import cost is not paid at
every start of the `atoms` command).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, cast

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo

ENV_PREFIX = "ATOMS_"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/atoms"
# The well-known local-only secret of `supabase start`: never use it for a real project.
DEV_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


def default_supabase_dir() -> Path:
    """The folder of migrations/, compat/ and seed.sql: the copy shipped inside the package (an installed wheel),
    else `./supabase` (a checkout of the repository, like the Supabase CLI's project folder)."""
    packaged = Path(str(resources.files("atoms_mcp").joinpath("supabase")))
    if (packaged / "migrations").is_dir():
        return packaged
    return Path.cwd() / "supabase"


def _variables(name: str, field: FieldInfo) -> list[str]:
    """The environment variables of a field, in order of precedence (upper case)."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        choices = [choice.upper() for choice in alias.choices if isinstance(choice, str)]
        return [choice for choice in choices if choice.startswith(ENV_PREFIX)]
    return [ENV_PREFIX + name.upper()]


def _accepted_keys(name: str, field: FieldInfo) -> set[str]:
    """The keys under which a constructor argument sets the field (its name and its aliases)."""
    alias = field.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else []
    return {name, *(choice for choice in choices if isinstance(choice, str))}


def environment_values(fields: Mapping[str, FieldInfo], environ: Mapping[str, str]) -> dict[str, str]:
    """The raw value of each field set by an ATOMS_* variable of ``environ`` (names compared in upper case)."""
    variables = {name.upper(): value for name, value in environ.items() if name.upper().startswith(ENV_PREFIX)}
    values: dict[str, str] = {}
    for name, field in fields.items():
        found = next((variables[variable] for variable in _variables(name, field) if variable in variables), None)
        if found is not None:
            values[name] = found
    return values


class Settings(BaseModel):
    """Configuration of atoms, from ATOMS_* environment variables (see README "Configuration")."""

    model_config = ConfigDict(extra="ignore", validate_default=True, validate_by_name=True)

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="Administrative URL of the database (migrations, seed, dev tooling).",
    )
    supabase_dir: Path = Field(
        default_factory=default_supabase_dir,
        description="Folder holding config.toml, migrations/, compat/ and seed.sql (default: the copy shipped in "
        "the package, else ./supabase).",
    )
    cluster_dir: Path = Field(
        default=Path(".atoms"),
        description="Where `atoms db start` / `atoms db up` keep a private PostgreSQL cluster (pgdata/) when no "
        "server answers on a local URL.",
    )
    bench_database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/atoms_bench",
        description="Database of the benchmark dataset (make bench-data, make bench); recreated by bench-data.",
    )

    # ---- MCP server ("the shim") ----
    gateway_database_url: str = Field(
        default="",
        description="URL the MCP server logs in with (role atoms_mcp_gateway); every tool call runs as the user. "
        "Default: ATOMS_DATABASE_URL with the user atoms_mcp_gateway and no password.",
    )
    access_token: str | None = Field(
        default=None, description="The user's JWT for stdio (else the credentials file written by `atoms login`)."
    )
    jwt_secret: str = Field(
        default=DEV_JWT_SECRET,
        description="HS256 secret of user JWTs (Supabase: the project's JWT secret). Default: local-only dev secret.",
    )
    jwks_url: str | None = Field(
        default=None, description="JWKS URL for RS256/ES256 tokens (Supabase asymmetric keys); replaces the secret."
    )
    jwt_audience: str = Field(default="authenticated", description="Required `aud` claim of user JWTs.")
    jwt_issuer: str | None = Field(default=None, description="Required `iss` claim of user JWTs (unchecked if unset).")
    rate_limit_rpm: int = Field(default=60, ge=1, le=100_000, description="Tool calls per user per minute.")
    client_name: str | None = Field(
        default=None, description="Overrides the MCP client name (and so the history actor mcp_<client>)."
    )
    app_url: str | None = Field(
        default=None,
        description="Public base URL of the HTTP server (its OAuth protected-resource metadata names it); unset: "
        "http://HOST:PORT of `atoms serve --transport http` (http://127.0.0.1:8765 by default).",
    )
    auth_issuer_url: str = Field(
        default="http://127.0.0.1:54321/auth/v1",
        # ATOMS_AUTH_URL is the documented name; ATOMS_AUTH_ISSUER_URL is accepted too.
        validation_alias=AliasChoices("ATOMS_AUTH_URL", "ATOMS_AUTH_ISSUER_URL", "auth_issuer_url"),
        description="Authorization server (issuer) of user tokens: Supabase Auth's OAuth 2.1 server or any OIDC "
        "provider. Advertised to HTTP clients (RFC 9728); `atoms login` discovers its endpoints from RFC 8414 / "
        "OIDC metadata under this URL.",
    )
    pool_min_size: int = Field(default=1, ge=0, le=100, description="Gateway connection pool: connections kept open.")
    pool_max_size: int = Field(default=10, ge=1, le=500, description="Gateway connection pool: upper bound.")
    statement_timeout_ms: int = Field(default=15_000, ge=100, le=600_000, description="Per tool call.")
    state_dir: Path = Field(
        default=Path.home() / ".atoms", description="Local state: credentials.json, audit spill file."
    )
    audit_queue_size: int = Field(default=10_000, ge=1, description="Audit records held in memory before spilling.")
    audit_batch_size: int = Field(default=200, ge=1, le=1_000, description="Audit records written per statement.")

    # ---- sign-in (`atoms login`) and the HTTP transport as OAuth 2.1 resource server ----
    oauth_client_id: str = Field(
        default="atoms-cli", description="OAuth client id of the CLI (a public client: PKCE, no secret)."
    )
    oauth_scopes: str = Field(
        default="openid email profile",
        description="Scopes `atoms login` requests (space separated); offline_access is added when the "
        "authorization server advertises it, so a refresh token is issued.",
    )
    login_port: int = Field(
        default=19275,
        ge=0,
        le=65535,
        description="Loopback port of the login callback http://127.0.0.1:<port>/callback (0: any free port).",
    )
    login_timeout_seconds: float = Field(default=300, gt=0, description="How long `atoms login` waits.")
    resource_url: str | None = Field(
        default=None,
        description="Canonical URL of the MCP endpoint (e.g. https://mcp.example.com/mcp) for authorization servers "
        "with RFC 8707 resource indicators: `atoms login` asks for a token for it, and the HTTP transport then "
        "requires it as the token's `aud`. Unset: the endpoint is ATOMS_APP_URL + /mcp and `aud` must be "
        "ATOMS_JWT_AUDIENCE (Supabase Auth issues `authenticated`).",
    )
    allowed_hosts: list[str] = Field(
        default=[],
        description="HTTP transport: extra Host header values accepted (comma separated; the hosts of "
        "ATOMS_APP_URL and ATOMS_RESOURCE_URL are always accepted). Anything else gets 421 (DNS rebinding).",
    )
    allowed_origins: list[str] = Field(
        default=[],
        description="HTTP transport: extra Origin header values accepted (comma separated), e.g. a web client.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, given: Any) -> Any:
        """The ATOMS_* variables, under what the constructor was given (a given field keeps the given value)."""
        if not isinstance(given, dict):
            return given
        arguments = cast(dict[str, Any], given)
        fields = cls.model_fields
        from_environment = {
            name: value
            for name, value in environment_values(fields, os.environ).items()
            if not _accepted_keys(name, fields[name]) & arguments.keys()
        }
        return {**from_environment, **arguments}

    @field_validator("allowed_hosts", "allowed_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _derive_gateway_url(self) -> Settings:
        if not self.gateway_database_url:
            info = conninfo_to_dict(self.database_url)
            info["user"] = "atoms_mcp_gateway"
            info.pop("password", None)
            self.gateway_database_url = make_conninfo("", **info)
        return self
