"""The credentials file of ``qo login``: where it lives, who may read it, how it is written."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from quantum_orchestrator.sdk.credentials import (
    CredentialsError,
    CredentialStore,
    StoredLogin,
    config_dir,
    credentials_path,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_location_follows_xdg_config_home(
    config_home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert config_dir() == config_home / "quantum-orchestrator"
    assert credentials_path() == config_home / "quantum-orchestrator" / "credentials.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert credentials_path() == tmp_path / "home" / ".config/quantum-orchestrator/credentials.json"


def test_saved_privately_and_atomically(config_home: Path) -> None:
    store = CredentialStore()
    assert store.load() == {}
    assert store.get("http://a:1") is None
    store.save("http://a:1", StoredLogin(token="t-a", email="a@example.com", expires_at="x"))
    store.save("http://b:2", StoredLogin(token="t-b"))
    store.save("http://a:1", StoredLogin(token="t-a2", email="a@example.com"))
    path = config_home / "quantum-orchestrator" / "credentials.json"
    assert mode(path.parent) == 0o700
    assert mode(path) == 0o600
    # Only the file and its lock: no temporary file is left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "credentials.json",
        "credentials.json.lock",
    ]
    document = json.loads(path.read_text())
    assert document == {
        "version": 1,
        "servers": {
            "http://a:1": {"token": "t-a2", "email": "a@example.com"},
            "http://b:2": {"token": "t-b"},
        },
    }
    assert store.token_for("http://b:2") == "t-b"
    assert store.remove("http://b:2") == StoredLogin(token="t-b")
    assert store.remove("http://b:2") is None
    assert list(store.load()) == ["http://a:1"]


def test_a_loose_directory_is_made_private(config_home: Path) -> None:
    directory = config_home / "quantum-orchestrator"
    directory.mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)
    CredentialStore().save("http://a:1", StoredLogin(token="t"))
    assert mode(directory) == 0o700


def test_a_broken_file_is_reported_then_replaced(config_home: Path) -> None:
    path = config_home / "quantum-orchestrator" / "credentials.json"
    path.parent.mkdir(parents=True)
    store = CredentialStore()
    for text in ("{not json", "[]", '{"servers": 3}'):
        path.write_text(text)
        with pytest.raises(CredentialsError, match=r"credentials.json is not a credentials file"):
            store.load()
        assert store.token_for("http://a:1") is None
    # Entries that are not logins are skipped, the others kept.
    path.write_text(json.dumps({"servers": {"http://a:1": {"token": ""}, "http://b:2": 1}}))
    assert store.load() == {}
    path.write_text("{not json")
    store.save("http://a:1", StoredLogin(token="fresh"))
    assert store.token_for("http://a:1") == "fresh"
    assert mode(path) == 0o600


def test_unwritable_directory_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = CredentialStore(path=blocker / "sub" / "credentials.json")
    with pytest.raises(CredentialsError, match="cannot create"):
        store.save("http://a:1", StoredLogin(token="t"))
    unreadable = CredentialStore(path=tmp_path)
    with pytest.raises(CredentialsError, match="cannot read"):
        unreadable.load()
