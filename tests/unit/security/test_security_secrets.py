"""AES-GCM secret boxes and the master key (environment or key file)."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from quantum_orchestrator.security.secrets import (
    SecretBox,
    SecretDecryptError,
    SecretKeyError,
    load_master_key,
    secret_aad,
)
from quantum_orchestrator.settings import Settings


def test_round_trip_and_key_id() -> None:
    key = os.urandom(32)
    box = SecretBox(key)
    aad = secret_aad("ws1", "TOKEN")
    blob = box.encrypt("s3cr3t-välue", aad=aad)
    assert b"s3cr3t" not in blob
    assert len(blob) == 12 + len("s3cr3t-välue".encode()) + 16
    assert box.decrypt(blob, aad=aad) == "s3cr3t-välue"
    # A fresh nonce each time.
    assert box.encrypt("s3cr3t-välue", aad=aad) != blob
    assert len(box.key_id) == 16
    assert box.key_id == SecretBox(key).key_id != SecretBox(os.urandom(32)).key_id


def test_wrong_key_or_aad_fails() -> None:
    box = SecretBox(os.urandom(32))
    blob = box.encrypt("value", aad=secret_aad("ws1", "A"))
    with pytest.raises(SecretDecryptError):
        SecretBox(os.urandom(32)).decrypt(blob, aad=secret_aad("ws1", "A"))
    with pytest.raises(SecretDecryptError):
        box.decrypt(blob, aad=secret_aad("ws1", "B"))
    with pytest.raises(SecretDecryptError):
        box.decrypt(blob, aad=secret_aad("ws2", "A"))
    with pytest.raises(SecretDecryptError):
        box.decrypt(blob[:-1] + bytes([blob[-1] ^ 1]), aad=secret_aad("ws1", "A"))
    with pytest.raises(SecretDecryptError):
        box.decrypt(b"short", aad=b"")
    with pytest.raises(SecretKeyError):
        SecretBox(b"too short")


def test_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    key = load_master_key(settings)
    path = tmp_path / "data" / "secret.key"
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert base64.urlsafe_b64decode(path.read_text().strip()) == key
    assert load_master_key(settings) == key


def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    load_master_key(settings)
    (tmp_path / "secret.key").chmod(0o644)
    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_master_key(settings)


def test_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = os.urandom(32)
    monkeypatch.setenv("QO_SECRET_KEY", base64.urlsafe_b64encode(key).decode())
    settings = Settings(data_dir=tmp_path)
    assert load_master_key(settings) == key
    assert not (tmp_path / "secret.key").exists()
    assert str(key) not in repr(settings)


@pytest.mark.parametrize(
    "value",
    ["not base64 !!", base64.urlsafe_b64encode(b"x" * 16).decode(), "", "é"],
)
def test_a_bad_environment_key_is_a_clear_error(tmp_path: Path, value: str) -> None:
    settings = Settings(data_dir=tmp_path, secret_key=SecretStr(value))
    with pytest.raises(SecretKeyError, match="QO_SECRET_KEY") as caught:
        load_master_key(settings)
    assert "base64 of 32" in caught.value.message
