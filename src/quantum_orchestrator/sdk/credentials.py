"""The tokens ``qo login`` keeps, one per server, in the user's config directory.

The file is ``$XDG_CONFIG_HOME/quantum-orchestrator/credentials.json`` (else
``~/.config/quantum-orchestrator/credentials.json``)::

    {"version": 1,
     "servers": {"http://127.0.0.1:8787": {"token": "qo_s_...", "email": "admin@localhost",
                                            "created_at": "...", "expires_at": "..."}}}

It holds bearer tokens, so the directory is 0700 and the file 0600, and every change is written
to a temporary file in the same directory and renamed over the old one: a crash or a full disk
never leaves half a file, and no other user can read it at any moment.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from quantum_orchestrator.domain.errors import QOError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: writes are still atomic, only not serialised
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CredentialStore",
    "CredentialsError",
    "StoredLogin",
    "config_dir",
    "credentials_path",
]

_FORMAT_VERSION = 1
_DIR_MODE = 0o700
_FILE_MODE = 0o600


class CredentialsError(QOError):
    """The credentials file cannot be read or written; the message names the file."""

    code = "credentials_error"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/quantum-orchestrator``, else ``~/.config/quantum-orchestrator``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "quantum-orchestrator"


def credentials_path() -> Path:
    """Where ``qo login`` stores its tokens."""
    return config_dir() / "credentials.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredLogin:
    """One server's entry: the session token and who it belongs to."""

    token: str
    email: str | None = None
    created_at: str | None = None
    expires_at: str | None = None


class CredentialStore:
    """Read and change the credentials file; ``path`` defaults to :func:`credentials_path`."""

    def __init__(self, *, path: Path | None = None) -> None:
        self.path = path if path is not None else credentials_path()

    def load(self) -> dict[str, StoredLogin]:
        """Every stored login by server URL; ``{}`` when there is no file yet.

        ``CredentialsError`` when the file exists but is not one of ours.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise CredentialsError(f"cannot read {self.path}: {exc.strerror}") from None
        try:
            document: Any = json.loads(text)
        except ValueError:
            raise self._corrupt() from None
        servers = document.get("servers") if isinstance(document, dict) else None
        if not isinstance(servers, dict):
            raise self._corrupt()
        logins: dict[str, StoredLogin] = {}
        for server, entry in servers.items():
            if isinstance(entry, dict) and isinstance(entry.get("token"), str) and entry["token"]:
                logins[str(server)] = StoredLogin(
                    token=entry["token"],
                    email=_opt_str(entry.get("email")),
                    created_at=_opt_str(entry.get("created_at")),
                    expires_at=_opt_str(entry.get("expires_at")),
                )
        return logins

    def get(self, server: str) -> StoredLogin | None:
        """The login stored for ``server`` (a normalised URL), or None."""
        return self.load().get(server)

    def token_for(self, server: str) -> str | None:
        """The stored token of ``server``, or None; a broken file counts as no token.

        This is the lenient read behind every request: a damaged file must not stop commands
        that are given a token another way (``qo login`` then says what is wrong with it).
        """
        try:
            login = self.get(server)
        except CredentialsError:
            return None
        return login.token if login is not None else None

    def save(self, server: str, login: StoredLogin) -> None:
        """Store (or replace) the login of ``server``."""
        with self._locked():
            logins = self._load_for_update()
            logins[server] = login
            self._write(logins)

    def remove(self, server: str) -> StoredLogin | None:
        """Forget the login of ``server``; returns what was stored (None when nothing was)."""
        with self._locked():
            logins = self._load_for_update()
            removed = logins.pop(server, None)
            if removed is not None:
                self._write(logins)
            return removed

    def _corrupt(self) -> CredentialsError:
        return CredentialsError(
            f"{self.path} is not a credentials file of qo; delete it and run `qo login` again"
        )

    def _load_for_update(self) -> dict[str, StoredLogin]:
        # A damaged file is replaced rather than blocking every later login.
        try:
            return self.load()
        except CredentialsError:
            return {}

    def _ensure_dir(self) -> None:
        directory = self.path.parent
        try:
            directory.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
            # mkdir leaves an existing directory's mode alone; this one holds only our tokens.
            os.chmod(directory, _DIR_MODE)
        except OSError as exc:
            raise CredentialsError(f"cannot create {directory}: {exc.strerror}") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise read-modify-write cycles: two logins at once must not lose one."""
        self._ensure_dir()
        if fcntl is None:  # pragma: no cover - see the import
            yield
            return
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, _FILE_MODE)
        except OSError as exc:
            raise CredentialsError(f"cannot open {lock_path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write(self, logins: dict[str, StoredLogin]) -> None:
        document = {
            "version": _FORMAT_VERSION,
            "servers": {
                server: {k: v for k, v in asdict(login).items() if v is not None}
                for server, login in sorted(logins.items())
            },
        }
        data = json.dumps(document, indent=2, sort_keys=True) + "\n"
        directory = self.path.parent
        try:
            # mkstemp creates the file 0600 from the start: the token is never readable by others.
            fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=".credentials-", suffix=".tmp")
        except OSError as exc:
            raise CredentialsError(f"cannot write in {directory}: {exc.strerror}") from None
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, _FILE_MODE)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise CredentialsError(f"cannot write {self.path}: {exc.strerror}") from None
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
