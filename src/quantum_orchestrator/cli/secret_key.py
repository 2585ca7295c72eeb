"""``qo admin rotate-secret-key``: a new master key, and every secret re-encrypted under it
(workspace secrets and the signing secrets of webhook triggers).

Offline (it works on the database of the settings, not through a server) and safe while servers
run: old keys stay in the keyring, so every row stays readable while it waits for its turn, and
each row is replaced only if nobody changed it meanwhile. See "Rotating the secrets master key"
in ``docs/security.md``.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from quantum_orchestrator.cli._common import JsonOpt, build_settings, echo_json, err, guarded
from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.engine.secrets import Reencryption
from quantum_orchestrator.security.keyring import (
    KeyFiles,
    Keys,
    SecretKeyError,
    decode_key,
    env_previous_keys,
    key_files,
    key_id_of,
    new_key,
)
from quantum_orchestrator.security.secrets import SecretBox
from quantum_orchestrator.settings import Settings
from quantum_orchestrator.store.database import Database, DatabaseOptions
from quantum_orchestrator.store.migrate import current_revision, head_revision

# A key file holds one line of base64; anything much longer is not a key file.
_MAX_KEY_FILE_CHARS = 1000


class RotationError(QOError):
    """The rotation cannot start (no new key given, a database not migrated...)."""

    code = "secret_key_rotation_failed"


def _read_new_key(path: Path) -> bytes:
    """The key in ``path`` (``-``: standard input), or a clear ``SecretKeyError``."""
    if str(path) == "-":
        text, source = sys.stdin.read(_MAX_KEY_FILE_CHARS + 1), "the new key (stdin)"
    else:
        with path.open(encoding="utf-8", errors="replace") as handle:
            text, source = handle.read(_MAX_KEY_FILE_CHARS + 1), f"the new key file {path}"
    if len(text) > _MAX_KEY_FILE_CHARS:
        raise SecretKeyError(f"{source} is too long to be a key")
    return decode_key(text, source)


async def _check_database(db: Database) -> None:
    revision = await current_revision(db)
    head = head_revision()
    if revision != head:
        raise RotationError(
            f"the database is at revision {revision or 'none'}, this qo expects {head}: "
            "run `qo db upgrade` first"
        )


def _check_sqlite_file(url: str) -> None:
    # Opening a missing SQLite file would create an empty database as a side effect.
    parsed = make_url(url)
    path = parsed.database or ""
    on_disk = parsed.get_backend_name() == "sqlite" and path not in ("", ":memory:")
    if on_disk and not Path(path).exists():
        raise RotationError(
            f"there is no database at {path}: check QO_DATA_DIR and QO_DATABASE__URL "
            "(or run `qo db upgrade` first)"
        )


async def _rotate(
    settings: Settings, new: bytes | None, batch_size: int
) -> tuple[Reencryption, Keys, KeyFiles | None]:
    _check_sqlite_file(settings.database_url())
    db = Database(
        options=DatabaseOptions(url=settings.database_url(), pool_size=2, echo=False),
    )
    try:
        # The database is checked before any key file changes: a rotation that cannot reach
        # its database leaves everything as it was.
        await _check_database(db)
        files = key_files(settings)
        if files is None:
            # QO_SECRET_KEY: the operator keeps the keys; only the rows change.
            assert settings.secret_key is not None  # noqa: S101 - key_files said so
            assert new is not None  # noqa: S101 - checked by the caller
            current = decode_key(settings.secret_key.get_secret_value(), "QO_SECRET_KEY")
            keys = Keys(current=new, previous=(current, *env_previous_keys(settings)))
        else:
            keys = files.install(new if new is not None else new_key())
        box = SecretBox(keys.current, previous=keys.previous)
        engine = Engine(db=db, settings=settings.engine, secret_box=box)
        report = await engine.secrets.reencrypt(batch_size=batch_size)
    finally:
        await db.dispose()
    return report, keys, files


@guarded
def rotate_secret_key(
    new_key_file: Annotated[
        Path | None,
        typer.Option(
            "--new-key-file",
            help="Read the new key (URL-safe base64 of 32 bytes) from this file; `-` reads "
            "stdin. Required when QO_SECRET_KEY is set; otherwise a key is generated.",
            show_default=False,
        ),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Data directory (env QO_DATA_DIR).", show_default=False),
    ] = None,
    batch_size: Annotated[
        int,
        typer.Option("--batch-size", min=1, max=10_000, help="Secrets re-encrypted per write."),
    ] = 200,
    json_output: JsonOpt = False,
) -> None:
    """Rotate the master key of secrets and re-encrypt every secret under it.

    Workspace secrets and the signing secrets of webhook triggers are both re-encrypted, so
    that once every server has the new key no row needs the old one.

    Without QO_SECRET_KEY the new key becomes the data dir's `secret.key` and the old one is
    kept in `secret.keyring` (mode 0600), where running servers find it. With QO_SECRET_KEY the
    operator gives the new key and deploys it (see docs/security.md).
    """
    settings = build_settings(data_dir=data_dir)
    new = _read_new_key(new_key_file) if new_key_file is not None else None
    if settings.secret_key is not None and new is None:
        raise RotationError(
            "QO_SECRET_KEY is set, so the keys are yours to keep: give the new key with "
            "--new-key-file PATH (or --new-key-file - to read it from stdin)"
        )
    report, keys, files = asyncio.run(_rotate(settings, new, batch_size))
    if json_output:
        echo_json(
            {
                "key_id": report.key_id,
                "previous_key_ids": [key_id_of(key) for key in keys.previous],
                "reencrypted": report.reencrypted,
                "remaining": report.remaining,
                "failed": [
                    {"workspace_id": ws, "name": name, "error": reason}
                    for ws, name, reason in report.failed
                ],
                "webhooks_reencrypted": report.webhooks_reencrypted,
                "webhooks_remaining": report.webhooks_remaining,
                "webhooks_failed": [
                    {"workspace_id": ws, "trigger_id": trigger, "error": reason}
                    for ws, trigger, reason in report.webhooks_failed
                ],
            }
        )
    else:
        # Rows no key opens are reported below; the others changed while the command ran.
        stale = (
            report.remaining
            - len(report.failed)
            + report.webhooks_remaining
            - len(report.webhooks_failed)
        )
        typer.echo(
            f"re-encrypted {report.reencrypted} secret(s) and {report.webhooks_reencrypted} "
            f"webhook secret(s) under the key {report.key_id}"
            + (
                f"; {stale} changed meanwhile and still use an older key (run the command "
                "again once every server uses the new key)"
                if stale > 0
                else ""
            )
        )
        if files is not None:
            typer.echo(f"current key: {files.key_path}; older keys kept in {files.keyring_path}")
        else:
            typer.echo(
                "now deploy the new key as QO_SECRET_KEY on every server and keep the old one "
                "in QO_SECRET_KEYS_PREVIOUS until no secret uses it"
            )
    for workspace_id, name, reason in report.failed:
        err(f"error: secret {name} of workspace {workspace_id}: {reason}")
    for workspace_id, trigger_id, reason in report.webhooks_failed:
        err(f"error: webhook secret of trigger {trigger_id} of workspace {workspace_id}: {reason}")
    if report.failed or report.webhooks_failed:
        raise typer.Exit(1)
