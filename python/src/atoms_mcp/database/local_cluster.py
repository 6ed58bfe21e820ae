"""Make sure a local PostgreSQL answers before `atoms db up` (DESIGN §5): use the server at the URL if it answers;
else start the machine's Debian cluster; else, if PostgreSQL binaries are installed, run a private cluster under
`.atoms/pgdata`. PostgreSQL refuses to run as root, so clusters are started as the `postgres` OS user."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

__all__ = ["ensure_local_server", "stop_private_cluster"]

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def ensure_local_server(url: str, state_dir: Path, *, wait_seconds: float = 30.0) -> str:
    """Return how the server at ``url`` was made available: 'running', 'cluster started' or 'private cluster'."""
    if _answers(url):
        return "running"
    info = conninfo_to_dict(url)
    if str(info.get("host", "")) not in _LOCAL_HOSTS:
        raise RuntimeError(f"no PostgreSQL answers at {info.get('host')}:{info.get('port', 5432)}")
    port = int(str(info.get("port", 5432)))
    cluster = _debian_cluster_on(port) if shutil.which("pg_ctlcluster") else None
    if cluster is not None:
        version, name = cluster
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "start"], check=True)
        _wait(url, wait_seconds)
        return "cluster started"
    bindir = _postgres_bindir()
    if bindir is None:
        raise RuntimeError(
            "no PostgreSQL answers and no PostgreSQL binaries are installed (apt-get install postgresql-15)"
        )
    datadir = state_dir / "pgdata"
    state_dir.mkdir(parents=True, exist_ok=True)
    if not (datadir / "PG_VERSION").exists():
        datadir.mkdir(mode=0o700, exist_ok=True)
        _chown_to_postgres(datadir)
        _as_postgres([str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    log = datadir / "server.log"
    options = f"-p {port} -k /tmp -c listen_addresses=127.0.0.1"
    _as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-o", options, "start"])
    _wait(url, wait_seconds)
    return "private cluster"


def stop_private_cluster(state_dir: Path) -> bool:
    """Stop the private cluster under ``state_dir/pgdata`` if one runs there; False when there is none."""
    datadir = state_dir / "pgdata"
    bindir = _postgres_bindir()
    if bindir is None or not (datadir / "postmaster.pid").exists():
        return False
    _as_postgres([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "stop"])
    return True


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, dbname="postgres", connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def _debian_cluster_on(port: int) -> tuple[str, str] | None:
    for conf in sorted(glob.glob("/etc/postgresql/*/*/postgresql.conf")):
        text = Path(conf).read_text(encoding="utf-8", errors="replace")
        if f"port = {port}" in text:
            parts = Path(conf).parts
            return parts[-3], parts[-2]
    return None


def _postgres_bindir() -> Path | None:
    if pg_config := shutil.which("pg_config"):
        found = Path(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
        if (found / "initdb").exists():
            return found
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def _as_postgres(command: list[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=True)


def _chown_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, user="postgres", group="postgres")


def _wait(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _answers(url):
            return
        time.sleep(0.5)
    raise RuntimeError(f"PostgreSQL did not answer within {seconds:.0f} s")
