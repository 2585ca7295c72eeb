"""Workspace secrets: create, rotate, list and delete them; resolve them for agents.

Values are encrypted with the ``SecretBox`` before they reach the store and leave this module
only through ``resolve`` (the engine hands them to an agent with its task). Listings carry
names and timestamps, never values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.errors import NotFoundError, QOError
from quantum_orchestrator.engine.unit import UnitOfWork
from quantum_orchestrator.security.secrets import (
    SecretBox,
    SecretDecryptError,
    secret_aad,
    webhook_secret_aad,
)
from quantum_orchestrator.store.pagination import Page

Row = dict[str, Any]


class SecretsUnavailableError(QOError):
    """The server has no master key, so it cannot store or read secrets."""

    code = "secrets_unavailable"


# A rotation sweeps the table again when rows changed under it, at most this many times.
_REENCRYPT_PASSES = 3


@dataclass(kw_only=True)
class Reencryption:
    """What a rotation's re-encryption did, to workspace secrets and webhook secrets."""

    key_id: str
    reencrypted: int = 0
    # Rows left under an old key at the end: the ``failed`` ones, and rows that servers kept
    # writing with an old key while the sweeps ran.
    remaining: int = 0
    # ``(workspace_id, name, reason)`` of every secret no key of the keyring opens.
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    # The same three for the signing secrets of webhook triggers; ``webhooks_failed`` holds
    # ``(workspace_id, trigger_id, reason)``.
    webhooks_reencrypted: int = 0
    webhooks_remaining: int = 0
    webhooks_failed: list[tuple[str, str, str]] = field(default_factory=list)


def _public(row: Row) -> Row:
    return {
        "name": row["name"],
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "last_used_at": row["last_used_at"],
    }


class SecretService:
    """Secrets of workspaces, encrypted at rest."""

    def __init__(self, *, uow: UnitOfWork, box: SecretBox | None) -> None:
        self._uow = uow
        self._box = box

    def _require_box(self) -> SecretBox:
        if self._box is None:
            raise SecretsUnavailableError("secrets are not configured on this server (no key)")
        return self._box

    async def create(self, *, workspace_id: str, name: str, value: str) -> Row:
        """Store a new secret; ``ConflictError`` (409) when the name is taken."""
        box = self._require_box()
        async with self._uow.write() as tx:
            row = {
                "workspace_id": workspace_id,
                "name": name,
                "ciphertext": box.encrypt(value, aad=secret_aad(workspace_id, name)),
                "key_id": box.key_id,
                "created_at": tx.now,
                "updated_at": tx.now,
                "last_used_at": None,
            }
            await self._uow.repos.secrets.insert(tx.conn, row)
        return _public(row)

    async def update(self, *, workspace_id: str, name: str, value: str) -> Row:
        """Replace a secret's value; ``NotFoundError`` (404) when there is no such secret."""
        box = self._require_box()
        repos = self._uow.repos
        async with self._uow.write() as tx:
            changed = await repos.secrets.update(
                tx.conn,
                workspace_id=workspace_id,
                name=name,
                ciphertext=box.encrypt(value, aad=secret_aad(workspace_id, name)),
                key_id=box.key_id,
                now=tx.now,
            )
            if not changed:
                raise NotFoundError(f"no secret {name!r}")
            row = await repos.secrets.get(tx.conn, workspace_id=workspace_id, name=name)
        assert row is not None  # noqa: S101 - updated in this transaction
        return _public(row)

    async def list(self, *, workspace_id: str) -> list[Row]:
        """Names and timestamps of the workspace's secrets."""
        async with self._uow.read() as conn:
            rows = await self._uow.repos.secrets.list(conn, workspace_id=workspace_id)
        return [_public(row) for row in rows]

    async def page(self, *, workspace_id: str, limit: int, cursor: str | None) -> Page:
        """One page of the workspace's secrets (names and timestamps), by name."""
        async with self._uow.read() as conn:
            page = await self._uow.repos.secrets.page(
                conn, workspace_id=workspace_id, limit=limit, cursor=cursor
            )
        return Page(items=[_public(row) for row in page.items], next_cursor=page.next_cursor)

    async def delete(self, *, workspace_id: str, name: str) -> None:
        """Remove a secret; ``NotFoundError`` (404) when there is none."""
        async with self._uow.write() as tx:
            if not await self._uow.repos.secrets.delete(
                tx.conn, workspace_id=workspace_id, name=name
            ):
                raise NotFoundError(f"no secret {name!r}")

    async def resolve(
        self, conn: AsyncConnection, workspace_id: str, names: Iterable[str]
    ) -> dict[str, str]:
        """The decrypted values of ``names`` that exist in the workspace (absent ones are
        left out: the caller decides what a missing secret means)."""
        wanted = set(names)
        if not wanted:
            return {}
        rows = await self._uow.repos.secrets.get_many(conn, workspace_id=workspace_id, names=wanted)
        if not rows:
            return {}
        box = self._require_box()
        return {
            name: box.decrypt(
                row["ciphertext"], aad=secret_aad(workspace_id, name), key_id=row["key_id"]
            )
            for name, row in rows.items()
        }

    async def reencrypt(self, *, batch_size: int = 200) -> Reencryption:
        """Seal every secret of every workspace, and the signing secret of every webhook
        trigger, with the box's current key.

        Rows are handled in batches, one short write transaction each, so servers keep
        working meanwhile. Each row is replaced only if it is still what was read (see
        ``SecretStore.reseal`` and ``TriggerStore.reseal``); rows that changed are swept again
        in a later pass, since a server may have written them with the old key before it saw
        the new one.
        """
        box = self._require_box()
        report = Reencryption(key_id=box.key_id)
        failed: set[tuple[str, str]] = set()
        for _ in range(_REENCRYPT_PASSES):
            if not await self._reencrypt_pass(box, batch_size, report, failed):
                break
        failed_hooks: set[str] = set()
        for _ in range(_REENCRYPT_PASSES):
            if not await self._reencrypt_webhooks_pass(box, batch_size, report, failed_hooks):
                break
        repos = self._uow.repos
        async with self._uow.read() as conn:
            report.remaining = await repos.secrets.count_sealed_with_other_keys(
                conn, key_id=box.key_id
            )
            report.webhooks_remaining = await repos.triggers.count_sealed_with_other_keys(
                conn, key_id=box.key_id
            )
        return report

    async def _reencrypt_webhooks_pass(
        self, box: SecretBox, batch_size: int, report: Reencryption, failed: set[str]
    ) -> bool:
        """One sweep of the webhook triggers; True when some rows changed under it."""
        store = self._uow.repos.triggers
        after: str | None = None
        raced = False
        while True:
            async with self._uow.write() as tx:
                rows = await store.sealed_with_other_keys(
                    tx.conn, key_id=box.key_id, after=after, limit=batch_size
                )
                for row in rows:
                    aad = webhook_secret_aad(row["workspace_id"], row["id"])
                    try:
                        secret = box.decrypt(
                            row["secret_ciphertext"], aad=aad, key_id=row["secret_key_id"]
                        )
                    except SecretDecryptError as exc:
                        if row["id"] not in failed:
                            failed.add(row["id"])
                            report.webhooks_failed.append(
                                (row["workspace_id"], row["id"], exc.message)
                            )
                        continue
                    if await store.reseal(
                        tx.conn,
                        trigger_id=row["id"],
                        old_key_id=row["secret_key_id"],
                        old_ciphertext=row["secret_ciphertext"],
                        ciphertext=box.encrypt(secret, aad=aad),
                        key_id=box.key_id,
                    ):
                        report.webhooks_reencrypted += 1
                    else:
                        raced = True
            if len(rows) < batch_size:
                return raced
            after = rows[-1]["id"]

    async def _reencrypt_pass(
        self, box: SecretBox, batch_size: int, report: Reencryption, failed: set[tuple[str, str]]
    ) -> bool:
        """One sweep of the table; True when some rows changed under it."""
        store = self._uow.repos.secrets
        after: tuple[str, str] | None = None
        raced = False
        while True:
            async with self._uow.write() as tx:
                rows = await store.sealed_with_other_keys(
                    tx.conn, key_id=box.key_id, after=after, limit=batch_size
                )
                for row in rows:
                    where = (row["workspace_id"], row["name"])
                    aad = secret_aad(*where)
                    try:
                        value = box.decrypt(row["ciphertext"], aad=aad, key_id=row["key_id"])
                    except SecretDecryptError as exc:
                        if where not in failed:
                            failed.add(where)
                            report.failed.append((*where, exc.message))
                        continue
                    if await store.reseal(
                        tx.conn,
                        workspace_id=row["workspace_id"],
                        name=row["name"],
                        old_key_id=row["key_id"],
                        old_ciphertext=row["ciphertext"],
                        ciphertext=box.encrypt(value, aad=aad),
                        key_id=box.key_id,
                    ):
                        report.reencrypted += 1
                    else:
                        raced = True
            if len(rows) < batch_size:
                return raced
            after = (rows[-1]["workspace_id"], rows[-1]["name"])
