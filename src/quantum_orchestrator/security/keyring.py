"""The master keys of workspace secrets: where they come from and how a new one is installed.

A keyring is one **current** key (it encrypts) and any number of **previous** keys (they only
decrypt), so that rows written before a rotation stay readable until they are re-encrypted.

- ``QO_SECRET_KEY`` set: the operator manages the keys. The current key is ``QO_SECRET_KEY``;
  ``QO_SECRET_KEYS_PREVIOUS`` (a JSON list of keys) are the others. Nothing is read from or
  written to the data dir, and a running process cannot learn new keys (its environment is
  fixed): keys change by restarting with new variables.
- Otherwise the keys live in the data dir: ``secret.key`` is the current key (created on first
  use) and ``secret.keyring`` the previous ones, as a JSON list, newest first; both mode 0600.
  ``qo admin rotate-secret-key`` rewrites them (each file replaced atomically), and a running
  server reads them again when it meets a key it does not know.

Keys are URL-safe base64 of 32 random bytes. A key's id is the start of its SHA-256: it names
the key a secret row was sealed with, without revealing anything about it.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.settings import Settings

KEY_BYTES = 32
KEY_FILE = "secret.key"
KEYRING_FILE = "secret.keyring"
_LOCK_FILE = "secret.key.lock"
_GENERATE_HINT = (
    'generate one with `python -c "import base64, os; '
    'print(base64.urlsafe_b64encode(os.urandom(32)).decode())"`'
)


class SecretKeyError(QOError):
    """The master key is missing, malformed or unsafely stored."""

    code = "secret_key_invalid"


def key_id_of(key: bytes) -> str:
    """The id a key is known by in the ``secrets.key_id`` column (16 hex characters)."""
    return hashlib.sha256(key).hexdigest()[:16]


def new_key() -> bytes:
    """A fresh random key."""
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    """The text form of a key (URL-safe base64)."""
    return base64.urlsafe_b64encode(key).decode()


def decode_key(text: str, source: str) -> bytes:
    """The key written as ``text``; ``SecretKeyError`` naming ``source`` when it is not one."""
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise SecretKeyError(
            f"{source} is not URL-safe base64 of {KEY_BYTES} bytes; {_GENERATE_HINT}"
        ) from None
    if len(key) != KEY_BYTES:
        raise SecretKeyError(
            f"{source} decodes to {len(key)} bytes; it must be URL-safe base64 of {KEY_BYTES} "
            f"random bytes ({_GENERATE_HINT})"
        )
    return key


def decode_key_list(text: str, source: str) -> list[bytes]:
    """The keys of a JSON list of keys (the keyring file's format)."""
    try:
        items = json.loads(text) if text.strip() else []
    except ValueError:
        items = None
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise SecretKeyError(f'{source} must be a JSON list of keys, such as ["<key>", "<key>"]')
    return [decode_key(item, f"{source}[{index}]") for index, item in enumerate(items)]


def _unique(keys: Sequence[bytes]) -> tuple[bytes, ...]:
    seen: list[bytes] = []
    for key in keys:
        if key not in seen:
            seen.append(key)
    return tuple(seen)


@dataclass(frozen=True, kw_only=True)
class Keys:
    """A keyring's content: the key that encrypts, and the keys that still decrypt."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        # The current key is never also a previous one; order (newest first) is kept.
        object.__setattr__(
            self, "previous", tuple(k for k in _unique(self.previous) if k != self.current)
        )

    @property
    def key_id(self) -> str:
        """The id of the current key."""
        return key_id_of(self.current)


def env_previous_keys(settings: Settings) -> list[bytes]:
    """The keys of ``QO_SECRET_KEYS_PREVIOUS``."""
    return [
        decode_key(value.get_secret_value(), f"QO_SECRET_KEYS_PREVIOUS[{index}]")
        for index, value in enumerate(settings.secret_keys_previous)
    ]


def _check_private(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"{path} is readable by group or others (mode {stat.S_IMODE(mode):o}); "
            f"run `chmod 600 {path}`"
        )


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``text``.

    A reader sees the old file or the new one, never half of one: the text is written and
    flushed to a temporary file in the same directory, which is then renamed over ``path``.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


class KeyFiles:
    """The keyring kept in the data dir: ``secret.key`` and ``secret.keyring``.

    ``extra`` keys (from ``QO_SECRET_KEYS_PREVIOUS``) are added to the previous keys read from
    the files; they are never written.
    """

    def __init__(self, *, data_dir: Path, extra: Sequence[bytes] = ()) -> None:
        self.data_dir = Path(data_dir)
        self.key_path = self.data_dir / KEY_FILE
        self.keyring_path = self.data_dir / KEYRING_FILE
        self._extra = tuple(extra)

    def load(self) -> Keys:
        """The keys on disk; the current key is created (0600) when there is none yet."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(encode_key(new_key()) + "\n")
        return Keys(current=self._read_current(), previous=(*self._read_previous(), *self._extra))

    def fingerprint(self) -> tuple[object, ...]:
        """Changes whenever either file is replaced or rewritten (a ``stat``, no read)."""
        marks: list[object] = []
        for path in (self.key_path, self.keyring_path):
            try:
                info = path.stat()
            except FileNotFoundError:
                marks.append(None)
            else:
                marks.append((info.st_ino, info.st_mtime_ns, info.st_size))
        return tuple(marks)

    def install(self, key: bytes) -> Keys:
        """Make ``key`` the current key; the key it replaces joins the previous keys.

        The keyring file is written before ``secret.key``, so that a server reading the files
        at any moment finds every key a row may be sealed with. Concurrent installs (two
        rotations at once) are serialised by a lock file.
        """
        with self._locked():
            keys = self.load()
            if key == keys.current:
                return keys
            on_disk = self._read_previous()
            previous = _unique([keys.current, *on_disk])
            previous = tuple(k for k in previous if k != key)
            _write_private(
                self.keyring_path, json.dumps([encode_key(k) for k in previous], indent=2) + "\n"
            )
            _write_private(self.key_path, encode_key(key) + "\n")
        return Keys(current=key, previous=(*previous, *self._extra))

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.data_dir / _LOCK_FILE, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read_current(self) -> bytes:
        _check_private(self.key_path)
        return decode_key(self.key_path.read_text(), str(self.key_path))

    def _read_previous(self) -> list[bytes]:
        try:
            _check_private(self.keyring_path)
            text = self.keyring_path.read_text()
        except FileNotFoundError:
            return []
        return decode_key_list(text, str(self.keyring_path))


def key_files(settings: Settings) -> KeyFiles | None:
    """The data dir's keyring, or None when ``QO_SECRET_KEY`` manages the keys."""
    if settings.secret_key is not None:
        return None
    return KeyFiles(data_dir=Path(settings.data_dir), extra=env_previous_keys(settings))


def load_keys(settings: Settings) -> Keys:
    """The keyring of these settings (see the module's docstring)."""
    files = key_files(settings)
    if files is not None:
        return files.load()
    assert settings.secret_key is not None  # noqa: S101 - key_files said so
    return Keys(
        current=decode_key(settings.secret_key.get_secret_value(), "QO_SECRET_KEY"),
        previous=tuple(env_previous_keys(settings)),
    )
