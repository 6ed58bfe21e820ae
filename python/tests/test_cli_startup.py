"""What an `atoms call` process loads: the call pipeline core and the call command, with the token from the
environment or from `atoms login`'s credentials file, and nothing that only another path needs (the MCP SDK,
PyJWT with `cryptography` and its JWKS client, pydantic-settings, the OAuth client libraries, rich, anyio's
event-loop backend, the other commands' modules) and no pydantic plugin. Each call runs in a fresh interpreter;
the answer must be right too."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atoms_mcp.identity.credentials import Credentials, CredentialStore
from mcp_support import ACME_PROJECT, gateway_url, token_for

# Top-level packages and atoms_mcp modules the `atoms call` path never imports.
NOT_ON_THE_CALL_PATH = (
    "mcp",
    "mcp_types",
    "jwt",
    "cryptography",
    "pydantic_settings",
    "dotenv",
    "authlib",
    "httpx",
    "httpx2",
    "rich",
    "urllib.request",
    "anyio._backends",
    "atoms_mcp.server",
    "atoms_mcp.database",
    "atoms_mcp.identity.oauth_login",
    "atoms_mcp.identity.refresh",
    "atoms_mcp.identity.resource_server",
    "atoms_mcp.cli.database",
    "atoms_mcp.cli.dev",
    "atoms_mcp.cli.serve",
    "atoms_mcp.cli.session",
)

# A fresh interpreter runs the `atoms` entry point, then reports the modules it loaded.
CALL_SCRIPT = """
import json, sys
from atoms_mcp.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit as done:
    code = done.code
print(json.dumps({"exit": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def _atoms_call(env: dict[str, str], *arguments: str) -> tuple[int, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", CALL_SCRIPT, "call", *arguments],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
        check=False,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["exit"], report["modules"], done.stdout


def _loaded(modules: list[str], names: tuple[str, ...]) -> list[str]:
    return [m for m in modules if any(m == name or m.startswith(name + ".") for name in names)]


@pytest.fixture
def cli_env(url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "ATOMS_DEV": "1",
        "ATOMS_DATABASE_URL": url,
        "ATOMS_GATEWAY_DATABASE_URL": gateway_url(url),
        "ATOMS_STATE_DIR": str(tmp_path / "state"),
    }


@pytest.mark.parametrize("token_from", ["environment", "credentials file"])
def test_atoms_call_loads_only_what_the_call_needs(cli_env: dict[str, str], token_from: str, tmp_path: Path) -> None:
    env = dict(cli_env)
    if token_from == "environment":
        env["ATOMS_ACCESS_TOKEN"] = token_for("viewer")
    else:  # as after `atoms login`: a token valid for an hour, so no refresh is due
        CredentialStore(tmp_path / "state").save(
            Credentials(
                issuer="http://127.0.0.1:1/auth/v1",
                client_id="atoms-cli",
                token_endpoint="http://127.0.0.1:1/auth/v1/oauth/token",
                access_token=token_for("viewer"),
                refresh_token="refresh-token",
                expires_at=int(time.time()) + 3600,
            )
        )
    arguments = json.dumps({"project_id": ACME_PROJECT, "item_id": "REQ-001"})
    exit_code, modules, stdout = _atoms_call(env, "atoms_get_item", arguments)
    assert exit_code == 0, stdout
    assert json.loads(stdout)["data"]["id"] == "REQ-001"
    assert _loaded(modules, NOT_ON_THE_CALL_PATH) == []
    assert "atoms_mcp.cli.call" in modules and "atoms_mcp.core.pipeline" in modules


SPY_PLUGIN = """
from pathlib import Path
Path(__file__).with_name("plugin-loaded").write_text("loaded")


class Spy:
    def new_schema_validator(self, *args, **kwargs):
        return None, None, None


plugin = Spy()
"""


def test_atoms_call_loads_no_pydantic_plugin(cli_env: dict[str, str], tmp_path: Path) -> None:
    """An installed pydantic plugin (entry point group `pydantic`) is loaded by pydantic itself, not by atoms."""
    site = tmp_path / "site"
    (site / "spy_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "spy_plugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: spy-plugin\nVersion: 1.0\n"
    )
    (site / "spy_plugin-1.0.dist-info" / "entry_points.txt").write_text("[pydantic]\nspy = spy_plugin:plugin\n")
    (site / "spy_plugin.py").write_text(SPY_PLUGIN)
    marker = site / "plugin-loaded"
    env = {**cli_env, "PYTHONPATH": str(site), "ATOMS_ACCESS_TOKEN": token_for("viewer")}

    exit_code, _, stdout = _atoms_call(env, "atoms_list_projects", "{}")
    assert exit_code == 0, stdout
    assert not marker.exists()

    # The spy is a working plugin: a plain pydantic model in the same environment loads it.
    model = "import pydantic\nclass Probe(pydantic.BaseModel):\n    x: int = 0\n"
    subprocess.run([sys.executable, "-c", model], env={"PATH": "/usr/bin:/bin", **env}, check=True, timeout=60)
    assert marker.exists()
