"""`atoms db start` when no PostgreSQL answers at a local URL: a private cluster under the cluster directory, run
as the `postgres` OS user (PostgreSQL refuses root); a second start finds it running."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from atoms_mcp.cli.app import app
from atoms_mcp.database.local_cluster import stop_private_cluster


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster_dir() -> Iterator[Path]:
    """A directory the postgres OS user can reach; the cluster in it is stopped and removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="atoms-cluster-", dir="/tmp"))
    base.chmod(0o755)
    try:
        yield base / "state"
    finally:
        stop_private_cluster(base / "state")
        shutil.rmtree(base, ignore_errors=True)


def test_db_start_runs_a_private_cluster_when_nothing_answers(
    cluster_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"postgresql://postgres@127.0.0.1:{_free_port()}/postgres"
    monkeypatch.setenv("ATOMS_CLUSTER_DIR", str(cluster_dir))
    first = CliRunner().invoke(app, ["db", "start", "--database-url", url])
    assert first.exit_code == 0, first.output
    assert first.output.strip().endswith("private cluster")
    with psycopg.connect(url, connect_timeout=5) as conn:
        assert conn.execute("select current_setting('data_directory')").fetchone() == (str(cluster_dir / "pgdata"),)
    again = CliRunner().invoke(app, ["db", "start", "--database-url", url])
    assert again.exit_code == 0 and again.output.strip().endswith("running")
