"""What a client reads before calling anything is true: the RFC 9728 metadata of `atoms serve --port N` names
port N, and the tool annotations say what the tools do (a retried atoms_update_item with a status appends
a second test result, so it is not idempotent; atoms_link_items can remove a link)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from atoms_mcp.core.registry import TOOLS_BY_NAME
from atoms_mcp.server.app import to_mcp_tool
from conftest import REPO_ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("configured", [False, True])
def test_serve_advertises_the_port_it_serves_unless_app_url_is_set(tmp_path: Path, configured: bool) -> None:
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ATOMS_") and key != "PYTHONPATH"}
    env |= {
        "PYTHONPATH": str(REPO_ROOT / "python" / "src"),
        "ATOMS_STATE_DIR": str(tmp_path / "state"),
        "ATOMS_POOL_MIN_SIZE": "0",
    }
    if configured:
        # A public deployment: its own keys, no development mode.
        env["ATOMS_APP_URL"] = "https://atoms.example.com"
        env["ATOMS_JWT_SECRET"] = "a-deployment-secret-of-at-least-32-characters"
        env["ATOMS_SESSION_KEY"] = "a-session-key-of-at-least-32-characters-long"
    else:
        env["ATOMS_DEV"] = "1"
    command = [sys.executable, "-m", "atoms_mcp", "serve", "--transport", "http", "--port", str(port)]
    log = tmp_path / "server.log"
    with log.open("wb") as stderr:
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        metadata = None
        deadline = time.monotonic() + 30
        while metadata is None:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not answer"
            try:
                response = httpx2.get(f"http://127.0.0.1:{port}/.well-known/oauth-protected-resource/mcp")
            except httpx2.TransportError:
                time.sleep(0.1)
                continue
            assert response.status_code == 200
            metadata = response.json()
    finally:
        server.terminate()
        server.wait(timeout=20)
    expected = "https://atoms.example.com/mcp" if configured else f"http://127.0.0.1:{port}/mcp"
    assert metadata["resource"] == expected


def test_update_item_is_not_idempotent_because_a_status_appends_a_result() -> None:
    annotations = to_mcp_tool(TOOLS_BY_NAME["atoms_update_item"]).annotations
    assert annotations is not None
    assert annotations.idempotent_hint is False
    assert annotations.destructive_hint is False


def test_link_items_is_destructive_and_says_it_can_remove() -> None:
    tool = to_mcp_tool(TOOLS_BY_NAME["atoms_link_items"])
    assert tool.annotations is not None and tool.annotations.destructive_hint is True
    assert "remove" in (tool.description or "").lower()
    assert "destructive" in (tool.description or "").lower()
