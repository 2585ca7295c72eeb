"""Encryption of workspace secrets: AES-256-GCM under a keyring of master keys.

Each value is sealed with a fresh 12-byte random nonce and bound to where it belongs by its
associated data (``f"{workspace_id}:{name}"``), so a ciphertext copied to another row or
workspace does not decrypt. A ``SecretBox`` encrypts with the keyring's current key and
decrypts with whichever key a row names by its ``key_id``, so that rows sealed before a key
rotation stay readable (see ``security/keyring.py`` for where the keys come from).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.security.keyring import (
    KEY_BYTES,
    KEY_FILE,
    Keys,
    SecretKeyError,
    key_files,
    key_id_of,
    load_keys,
)
from quantum_orchestrator.settings import Settings

__all__ = [
    "KEY_BYTES",
    "KEY_FILE",
    "NONCE_BYTES",
    "KeySource",
    "SecretBox",
    "SecretDecryptError",
    "SecretKeyError",
    "load_master_key",
    "load_secret_box",
    "secret_aad",
    "webhook_secret_aad",
]

NONCE_BYTES = 12

logger = logging.getLogger("quantum_orchestrator.security")


class SecretDecryptError(QOError):
    """A ciphertext does not open with this key and associated data."""

    code = "secret_undecryptable"


class KeySource(Protocol):
    """Where a box can read its keys again (the data dir's key files)."""

    def load(self) -> Keys:
        """The keys as they are now."""
        ...

    def fingerprint(self) -> object:
        """A cheap value that changes when the keys may have changed."""
        ...


def secret_aad(workspace_id: str, name: str) -> bytes:
    """The associated data that binds a secret's ciphertext to its workspace and name."""
    return f"{workspace_id}:{name}".encode()


def webhook_secret_aad(workspace_id: str, trigger_id: str) -> bytes:
    """The associated data of a webhook trigger's signing secret: bound to the workspace and
    the trigger, so a sealed secret copied to another row does not open."""
    return secret_aad(workspace_id, f"trigger:{trigger_id}")


class SecretBox:
    """AES-GCM sealing under the current key, opening under any key of the keyring.

    With a ``source``, the box follows the keys on disk: it reads them again when a row names
    a key it does not know (a rotation by another process), and before encrypting when the
    files changed, so that new values are sealed with the newest key.
    """

    def __init__(
        self,
        key: bytes,
        *,
        previous: Iterable[bytes] = (),
        source: KeySource | None = None,
    ) -> None:
        self._source = source
        self._fingerprint = source.fingerprint() if source is not None else None
        self._install(Keys(current=key, previous=tuple(previous)))

    @classmethod
    def from_source(cls, source: KeySource) -> SecretBox:
        """A box holding ``source``'s keys, that follows them when they change."""
        keys = source.load()
        return cls(keys.current, previous=keys.previous, source=source)

    def _install(self, keys: Keys) -> None:
        for key in (keys.current, *keys.previous):
            if len(key) != KEY_BYTES:
                raise SecretKeyError(f"the secret key must be {KEY_BYTES} bytes, not {len(key)}")
        # One assignment, so a reader never sees half a keyring.
        self._keys = {key_id_of(key): AESGCM(key) for key in (*keys.previous, keys.current)}
        self.key_id = keys.key_id

    @property
    def key_ids(self) -> list[str]:
        """The ids of every key this box can decrypt with, the current one first."""
        return [self.key_id, *(k for k in self._keys if k != self.key_id)]

    def reload(self) -> bool:
        """Read the keys again from the source; False when there is none."""
        if self._source is None:
            return False
        fingerprint = self._source.fingerprint()
        self._install(self._source.load())
        self._fingerprint = fingerprint
        return True

    def _follow_source(self) -> None:
        if self._source is None or self._source.fingerprint() == self._fingerprint:
            return
        try:
            self.reload()
        except (OSError, QOError) as exc:
            # Keep sealing with the key we have (still a valid key): refusing to store
            # secrets because a key file is being edited would be worse.
            logger.warning("secret keys not reloaded (%s); using the loaded ones", exc)

    def encrypt(self, value: str, *, aad: bytes) -> bytes:
        """``nonce (12 bytes) + ciphertext and tag``, under the current key."""
        self._follow_source()
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._keys[self.key_id].encrypt(nonce, value.encode(), aad)

    def decrypt(self, blob: bytes, *, aad: bytes, key_id: str | None = None) -> str:
        """The value sealed in ``blob`` with the key ``key_id`` (default: the current key).

        An unknown ``key_id`` makes the box read its keys again, once, before it gives up with
        ``SecretDecryptError``; so does a wrong key, AAD or blob (without the reload).
        """
        wanted = key_id or self.key_id
        aead = self._keys.get(wanted)
        if aead is None and self.reload():
            aead = self._keys.get(wanted)
        if aead is None:
            raise SecretDecryptError(
                f"the secret was sealed with the key {wanted}, which this server does not have: "
                "keep old keys in QO_SECRET_KEYS_PREVIOUS (or the data dir's secret.keyring) "
                "until `qo admin rotate-secret-key` has re-encrypted every secret"
            )
        if len(blob) <= NONCE_BYTES:
            raise SecretDecryptError("the ciphertext is too short")
        try:
            plain = aead.decrypt(bytes(blob[:NONCE_BYTES]), bytes(blob[NONCE_BYTES:]), aad)
        except InvalidTag:
            raise SecretDecryptError(
                "the secret does not decrypt with this key (was QO_SECRET_KEY changed?)"
            ) from None
        return plain.decode()


def load_master_key(settings: Settings) -> bytes:
    """The current key: ``QO_SECRET_KEY``, else the key file in the data dir (created on
    first use)."""
    return load_keys(settings).current


def load_secret_box(settings: Settings) -> SecretBox:
    """The box of a server or CLI: every key of the keyring; it follows the data dir's key
    files when those hold the keys."""
    files = key_files(settings)
    if files is not None:
        return SecretBox.from_source(files)
    keys = load_keys(settings)
    return SecretBox(keys.current, previous=keys.previous)
