"""One Settings object for the whole package: every ATOMS_* environment variable is read here and nowhere else.

A process builds it once (the `atoms` command's callback, the benchmark's entry point) and passes it down.
`Settings()` reads each field from `ATOMS_<FIELD>` (any case; a field with a validation alias from the ATOMS_* names
it lists, first found wins); a value given to the constructor wins over its variable. The values then go through
the same pydantic validation as any model input (a plain model: pydantic-settings' import cost is not paid at
every start of the `atoms` command).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.fields import FieldInfo

ENV_PREFIX = "ATOMS_"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/atoms"
# The well-known local-only secret of `supabase start`: accepted only under ATOMS_DEV=1 (local development).
DEV_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


class ConfigurationError(Exception):
    """The configuration is unsafe or incomplete for what was asked (serving, verifying tokens); the message says
    which variable to set."""


def is_loopback_host(host: str | None) -> bool:
    """Whether ``host`` (a name or an address) is this machine only: localhost, 127.0.0.0/8, ::1."""
    if not host:
        return False
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine only."""
    return is_loopback_host(urlsplit(url).hostname)


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
    dev: bool = Field(
        default=False,
        description="Local development only (ATOMS_DEV=1): without ATOMS_JWT_SECRET the published local demo secret "
        "verifies tokens, HTTP binds to loopback only, a session key is generated into the state directory. Refused "
        "when ATOMS_APP_URL is not loopback.",
    )
    jwt_secret: str | None = Field(
        default=None,
        description="HS256 secret of user JWTs (Supabase: the project's JWT secret). Required unless ATOMS_JWKS_URL "
        "is set; under ATOMS_DEV=1 it defaults to the local demo secret.",
    )
    jwks_url: str | None = Field(
        default=None, description="JWKS URL for RS256/ES256 tokens (Supabase asymmetric keys); replaces the secret."
    )
    jwt_audience: str = Field(default="authenticated", description="Required `aud` claim of user JWTs.")
    jwt_issuer: str | None = Field(default=None, description="Required `iss` claim of user JWTs (unchecked if unset).")
    rate_limit_rpm: int = Field(
        default=60, ge=1, le=10_000, description="Tool calls per user per minute (the limiter allows 1-10000)."
    )
    client_name: str | None = Field(
        default=None, description="Overrides the MCP client name (and so the history actor mcp_<client>)."
    )
    session_key: str | None = Field(
        default=None,
        description="Secret (at least 32 characters) the recorded session ids are derived with: HMAC(key, user id + "
        "the transport's session). The same on every instance; required when ATOMS_APP_URL is not loopback. Under "
        "ATOMS_DEV=1 one is generated into the state directory.",
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses or networks (comma separated, e.g. 10.0.0.0/8) of reverse proxies whose "
        "X-Forwarded-For header names the client; from anyone else the header is ignored.",
    )
    max_body_bytes: int = Field(
        default=4 * 1024 * 1024, ge=1024, description="HTTP: largest request body (refused before identification)."
    )
    max_argument_keys: int = Field(
        default=2_000, ge=10, description="Most object keys a tool call's arguments may hold, at every depth together."
    )
    max_argument_depth: int = Field(
        default=12, ge=2, le=64, description="Deepest nesting of objects and lists in a tool call's arguments."
    )
    refusals_per_minute: int = Field(
        default=30,
        ge=1,
        description="HTTP: requests refused before identification (no or bad token, caps) per client address per "
        "minute; beyond it the address gets 429 until the minute ends.",
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

    @field_validator("allowed_hosts", "allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _development_is_local(self) -> Settings:
        """ATOMS_DEV=1 only for a loopback ATOMS_APP_URL; under it the demo secret is the default."""
        if self.dev:
            if self.app_url is not None and not is_loopback_url(self.app_url):
                raise ValueError(
                    f"ATOMS_DEV=1 is for local development only and ATOMS_APP_URL ({self.app_url}) is not a loopback "
                    "URL: unset ATOMS_DEV and set ATOMS_JWT_SECRET (or ATOMS_JWKS_URL) and ATOMS_SESSION_KEY."
                )
            if self.jwt_secret is None and self.jwks_url is None:
                self.jwt_secret = DEV_JWT_SECRET
        return self

    @model_validator(mode="after")
    def _derive_gateway_url(self) -> Settings:
        if not self.gateway_database_url:
            info = conninfo_to_dict(self.database_url)
            info["user"] = "atoms_mcp_gateway"
            info.pop("password", None)
            self.gateway_database_url = make_conninfo("", **info)
        return self


def require_token_keys(settings: Settings) -> None:
    """Refuse to verify tokens with no key, or with the published demo secret outside ATOMS_DEV=1.

    Raises:
        ConfigurationError: no ATOMS_JWT_SECRET nor ATOMS_JWKS_URL, or the demo secret without ATOMS_DEV=1.
    """
    if settings.jwks_url:
        return
    if not settings.jwt_secret:
        raise ConfigurationError(
            "No key to verify user tokens: set ATOMS_JWT_SECRET (the project's JWT secret) or ATOMS_JWKS_URL; "
            "for local development only, ATOMS_DEV=1 uses the local demo secret."
        )
    if settings.jwt_secret == DEV_JWT_SECRET and not settings.dev:
        raise ConfigurationError(
            "ATOMS_JWT_SECRET is the published local demo secret, which anyone can sign tokens with: set the "
            "project's own secret (or ATOMS_DEV=1 for local development only)."
        )


def require_servable(settings: Settings, *, http_host: str | None) -> None:
    """Refuse to serve an unsafe configuration (``http_host``: the HTTP bind address, None for stdio).

    Raises:
        ConfigurationError: no token keys (see require_token_keys), no ATOMS_SESSION_KEY for a non-loopback
            public URL (ATOMS_APP_URL, else the bind address), or ATOMS_DEV=1 with a non-loopback bind address.
    """
    require_token_keys(settings)
    # Without ATOMS_APP_URL the public URL is the bind address (stdio: this machine only).
    bind = http_host or "127.0.0.1"
    public_url = settings.app_url or (f"http://[{bind}]" if ":" in bind else f"http://{bind}")
    if settings.session_key is None and not is_loopback_url(public_url):
        raise ConfigurationError(
            "ATOMS_SESSION_KEY is required when the server's public URL (ATOMS_APP_URL, else the bind address) is not "
            "loopback (a secret of at least 32 characters, the same on every instance): the recorded session ids are "
            "derived with it."
        )
    if settings.session_key is not None and len(settings.session_key) < 32:
        raise ConfigurationError("ATOMS_SESSION_KEY must be at least 32 characters long.")
    if settings.dev and http_host is not None and not is_loopback_host(http_host):
        raise ConfigurationError(
            f"ATOMS_DEV=1 serves HTTP on loopback only; --host {http_host} is not (use 127.0.0.1, or unset ATOMS_DEV "
            "and configure ATOMS_JWT_SECRET and ATOMS_SESSION_KEY)."
        )
