"""Encryption of workspace secrets: AES-256-GCM under one master key.

Each value is sealed with a fresh 12-byte random nonce and bound to where it belongs by its
associated data (``f"{workspace_id}:{name}"``), so a ciphertext copied to another row or
workspace does not decrypt. The master key comes from ``QO_SECRET_KEY`` or, when that is not
set, from ``<data_dir>/secret.key`` (created on first use, mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_FILE = "secret.key"


class SecretKeyError(QOError):
    """The master key is missing, malformed or unsafely stored."""

    code = "secret_key_invalid"


class SecretDecryptError(QOError):
    """A ciphertext does not open with this key and associated data."""

    code = "secret_undecryptable"


def secret_aad(workspace_id: str, name: str) -> bytes:
    """The associated data that binds a secret's ciphertext to its workspace and name."""
    return f"{workspace_id}:{name}".encode()


class SecretBox:
    """AES-GCM sealing and opening of secret values under one key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise SecretKeyError(f"the secret key must be {KEY_BYTES} bytes, not {len(key)}")
        self._aead = AESGCM(key)
        self.key_id = hashlib.sha256(key).hexdigest()[:16]

    def encrypt(self, value: str, *, aad: bytes) -> bytes:
        """``nonce (12 bytes) + ciphertext and tag``."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value.encode(), aad)

    def decrypt(self, blob: bytes, *, aad: bytes) -> str:
        """The value sealed in ``blob``; ``SecretDecryptError`` for a wrong key, AAD or blob."""
        if len(blob) <= NONCE_BYTES:
            raise SecretDecryptError("the ciphertext is too short")
        try:
            plain = self._aead.decrypt(bytes(blob[:NONCE_BYTES]), bytes(blob[NONCE_BYTES:]), aad)
        except InvalidTag:
            raise SecretDecryptError(
                "the secret does not decrypt with this key (was QO_SECRET_KEY changed?)"
            ) from None
        return plain.decode()


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SecretKeyError(
            f"{source} is not URL-safe base64 of {KEY_BYTES} bytes; generate one with "
            '`python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32))'
            '.decode())"`'
        ) from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError(
            f"{source} decodes to {len(key)} bytes; it must be URL-safe base64 of {KEY_BYTES} "
            "random bytes"
        )
    return key


def load_master_key(settings: Settings) -> bytes:
    """``QO_SECRET_KEY``, else the key file in the data dir (created on first use)."""
    if settings.secret_key is not None:
        return _decode_key(settings.secret_key.get_secret_value(), "QO_SECRET_KEY")
    path = Path(settings.data_dir) / KEY_FILE
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"{path} is readable by group or others (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )
    return _decode_key(path.read_text(), str(path))
