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
    bench_database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/atoms_bench",
        description="Database of the benchmark dataset (make bench-data, make bench); recreated by bench-data.",
    )
