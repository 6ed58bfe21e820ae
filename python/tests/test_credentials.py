"""The credentials file: atomic owner-only writes, refusal of files others can read, logout deletes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from atoms_mcp.identity.credentials import Credentials, CredentialsError, CredentialStore, InsecureCredentialsError


def _credentials(**changes: object) -> Credentials:
    base = Credentials(
        issuer="https://auth.example",
        client_id="atoms-cli",
        token_endpoint="https://auth.example/token",
        access_token="access-1",
        refresh_token="refresh-1",
        expires_at=2_000_000_000,
        obtained_at=1_900_000_000,  # fixed: two helpers built in different seconds compare equal
    )
    return base.model_copy(update=changes)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_save_writes_an_owner_only_file_in_an_owner_only_directory(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "state")
    path = store.save(_credentials())
    assert path == tmp_path / "state" / "credentials.json"
    assert _mode(path) == 0o600 and _mode(path.parent) == 0o700
    assert store.load() == _credentials()


def test_save_replaces_the_file_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "state")
    store.save(_credentials())
    first_inode = store.path.stat().st_ino
    store.save(_credentials(access_token="access-2", refresh_token="refresh-2"))
    assert store.path.stat().st_ino != first_inode  # a new file renamed over the old one, never rewritten in place
    assert os.listdir(store.directory) == ["credentials.json"]
    loaded = store.load()
    assert loaded is not None and loaded.refresh_token == "refresh-2"


def test_load_without_a_file_is_none(tmp_path: Path) -> None:
    assert CredentialStore(tmp_path / "state").load() is None


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660, 0o602])
def test_load_refuses_a_file_others_can_access_and_says_how_to_fix_it(tmp_path: Path, mode: int) -> None:
    store = CredentialStore(tmp_path / "state")
    store.save(_credentials())
    store.path.chmod(mode)
    with pytest.raises(InsecureCredentialsError) as refused:
        store.load()
    assert f"chmod 600 {store.path}" in str(refused.value)
    store.path.chmod(0o600)  # the fix works
    assert store.load() == _credentials()


def test_load_refuses_a_directory_others_can_write(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "state")
    store.save(_credentials())
    store.directory.chmod(0o777)
    with pytest.raises(InsecureCredentialsError, match=f"chmod 700 {store.directory}"):
        store.load()
    with pytest.raises(InsecureCredentialsError):
        store.save(_credentials())


def test_load_refuses_a_symbolic_link(tmp_path: Path) -> None:
    real = CredentialStore(tmp_path / "elsewhere")
    real.save(_credentials())
    store = CredentialStore(tmp_path / "state")
    store.directory.mkdir(mode=0o700)
    store.path.symlink_to(real.path)
    with pytest.raises(InsecureCredentialsError, match="symbolic link"):
        store.load()


def test_load_explains_a_corrupt_file(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "state")
    store.save(_credentials())
    store.path.write_text('{"access_token": ')
    with pytest.raises(CredentialsError, match="atoms login"):
        store.load()


def test_delete_removes_the_file_once(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "state")
    store.save(_credentials())
    assert store.delete() is True
    assert store.load() is None and store.delete() is False


def test_expires_within_uses_the_stored_expiry() -> None:
    credentials = _credentials(expires_at=1_000)
    assert credentials.expires_within(60, now=941)
    assert not credentials.expires_within(60, now=939)
    assert not _credentials(expires_at=None).expires_within(60)
