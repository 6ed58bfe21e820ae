"""One Settings object for the whole package: every ATOMS_* environment variable is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/atoms"
DEFAULT_GATEWAY_DATABASE_URL = "postgresql://atoms_mcp_gateway@127.0.0.1:5432/atoms"
# The well-known local-only secret of `supabase start`: never use it for a real project.
DEV_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long"


class Settings(BaseSettings):
    """Configuration of atoms, from ATOMS_* environment variables (see README "Configuration")."""

    model_config = SettingsConfigDict(env_prefix="ATOMS_", extra="ignore")

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="Administrative URL of the database (migrations, seed, dev tooling).",
    )
    supabase_dir: Path = Field(
        default=REPO_ROOT / "supabase",
        description="Folder holding config.toml, migrations/, compat/ and seed.sql.",
    )
    bench_database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/atoms_bench",
        description="Database of the benchmark dataset (make bench-data, make bench); recreated by bench-data.",
    )

    # ---- MCP server ("the shim") ----
    gateway_database_url: str = Field(
        default=DEFAULT_GATEWAY_DATABASE_URL,
        description="URL the MCP server logs in with (role atoms_mcp_gateway); every tool call runs as the user.",
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
    app_url: str = Field(
        default="http://127.0.0.1:8765",
        description="Public base URL of the HTTP server (its OAuth protected-resource metadata names it).",
    )
    auth_issuer_url: str = Field(
        default="http://127.0.0.1:54321/auth/v1",
        description="Authorization server that issues user tokens (Supabase Auth), advertised to HTTP clients.",
    )
    pool_min_size: int = Field(default=1, ge=0, le=100, description="Gateway connection pool: connections kept open.")
    pool_max_size: int = Field(default=10, ge=1, le=500, description="Gateway connection pool: upper bound.")
    statement_timeout_ms: int = Field(default=15_000, ge=100, le=600_000, description="Per tool call.")
    state_dir: Path = Field(
        default=Path.home() / ".atoms", description="Local state: credentials.json, audit spill file."
    )
    audit_queue_size: int = Field(default=10_000, ge=1, description="Audit records held in memory before spilling.")
    audit_batch_size: int = Field(default=200, ge=1, le=5_000, description="Audit records written per statement.")
