"""`make setup`'s install step (scripts/install-debian-packages) against fake dpkg-query, apt-get and id on PATH:
nothing missing -> nothing done; missing as root -> `apt-get update` once, then one `apt-get install`; missing
as another user -> stops with the exact command. And the one package list it reads."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "install-debian-packages"
LIST = REPO_ROOT / "packages" / "debian.txt"

FAKES = {
    # Installed packages are named in $FAKE_INSTALLED; dpkg-query fails for any other, as the real one does.
    "dpkg-query": 'pkg="${@: -1}"; for p in $FAKE_INSTALLED; do [ "$p" = "$pkg" ] && { printf "install ok installed"; '
    'exit 0; }; done; echo "dpkg-query: no packages found matching $pkg" >&2; exit 1',
    "apt-get": 'echo "$*" >> "$FAKE_LOG"',
    "id": 'if [ "$1" = "-u" ]; then echo "$FAKE_UID"; else /usr/bin/id "$@"; fi',
}


def _run(
    tmp_path: Path, installed: list[str], uid: int, packages: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, body in FAKES.items():
        fake = bin_dir / name
        fake.write_text(f"#!/bin/bash\n{body}\n", encoding="utf-8")
        fake.chmod(0o755)
    listed = tmp_path / "debian.txt"
    listed.write_text(packages, encoding="utf-8")
    log = tmp_path / "apt.log"
    env = {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "FAKE_INSTALLED": " ".join(installed),
        "FAKE_UID": str(uid),
        "FAKE_LOG": str(log),
    }
    done = subprocess.run(
        ["bash", str(SCRIPT), str(listed)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    return done, log.read_text(encoding="utf-8").splitlines() if log.exists() else []


PACKAGES = "# comment line\npgtap-a\n\n  tap-b   # trailing comment\ncheck-c\n"


def test_nothing_is_done_when_every_package_is_installed(tmp_path: Path) -> None:
    done, apt = _run(tmp_path, ["pgtap-a", "tap-b", "check-c"], uid=0, packages=PACKAGES)
    assert (done.returncode, apt, done.stderr) == (0, [], "")


def test_missing_packages_are_installed_as_root_after_one_update(tmp_path: Path) -> None:
    done, apt = _run(tmp_path, ["tap-b"], uid=0, packages=PACKAGES)
    assert done.returncode == 0, done.stderr
    assert apt == [
        "-o DPkg::Lock::Timeout=600 update -qq",
        "-o DPkg::Lock::Timeout=600 install -y -qq pgtap-a check-c",
    ]


@pytest.mark.parametrize("installed", [[], ["pgtap-a", "check-c"]])
def test_another_user_gets_the_exact_command_and_nothing_runs(tmp_path: Path, installed: list[str]) -> None:
    done, apt = _run(tmp_path, installed, uid=1000, packages=PACKAGES)
    missing = " ".join(p for p in ("pgtap-a", "tap-b", "check-c") if p not in installed)
    assert done.returncode == 1 and apt == []
    assert f"sudo apt-get update && sudo apt-get install -y {missing}" in done.stderr


def test_the_package_list_names_what_the_tests_need() -> None:
    listed = [line.split("#")[0].strip() for line in LIST.read_text(encoding="utf-8").splitlines()]
    assert [p for p in listed if p] == [
        "postgresql-15-pgtap",
        "libtap-parser-sourcehandler-pgtap-perl",
        "postgresql-15-plpgsql-check",
    ]
