"""One Settings object for the whole package: every ATOMS_* environment variable is read here and nowhere else."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/atoms"


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

    # ---- sign-in (`atoms login`) and the HTTP transport as OAuth 2.1 resource server ----
    state_dir: Path = Field(
        default=Path.home() / ".atoms", description="Local state: credentials.json, audit spill file."
    )
    auth_url: str = Field(
        default="http://127.0.0.1:54321/auth/v1",
        description="Authorization server (issuer) of user tokens: Supabase Auth's OAuth 2.1 server or any OIDC "
        "provider. `atoms login` discovers its endpoints from RFC 8414 / OIDC metadata under this URL.",
    )
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
        description="Canonical URL of the MCP server (e.g. https://mcp.example.com/mcp): the RFC 8707 resource "
        "`atoms login` asks a token for, and the audience the HTTP transport requires.",
    )
