"""Workspace secrets (ciphertexts only: encryption is ``security/secrets.py``'s job)."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.errors import ConflictError
from quantum_orchestrator.store.pagination import Page, SortKey, keyset_page
from quantum_orchestrator.store.tables import secrets

Row = dict[str, Any]

_META = (
    secrets.c.name,
    secrets.c.key_id,
    secrets.c.created_at,
    secrets.c.updated_at,
    secrets.c.last_used_at,
)


class SecretStore:
    """Reads and writes of ``secrets``."""

    async def insert(self, conn: AsyncConnection, row: Row) -> None:
        """Add a secret; ``ConflictError`` when the name is taken in the workspace."""
        try:
            async with conn.begin_nested():
                await conn.execute(secrets.insert().values(**row))
        except IntegrityError:
            raise ConflictError(f"a secret named {row['name']!r} already exists") from None

    async def update(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        name: str,
        ciphertext: bytes,
        key_id: str,
        now: datetime,
    ) -> bool:
        """Replace a secret's value; False when there is no such secret."""
        result = await conn.execute(
            update(secrets)
            .where(secrets.c.workspace_id == workspace_id, secrets.c.name == name)
            .values(ciphertext=ciphertext, key_id=key_id, updated_at=now)
        )
        return bool(result.rowcount)

    async def get(self, conn: AsyncConnection, *, workspace_id: str, name: str) -> Row | None:
        """A secret's metadata (no ciphertext), or None."""
        row = (
            (
                await conn.execute(
                    select(*_META).where(
                        secrets.c.workspace_id == workspace_id, secrets.c.name == name
                    )
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def get_many(
        self, conn: AsyncConnection, *, workspace_id: str, names: Iterable[str]
    ) -> dict[str, Row]:
        """Secrets (with their ciphertexts) by name; unknown names are absent."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        rows = await conn.execute(
            select(secrets).where(
                secrets.c.workspace_id == workspace_id, secrets.c.name.in_(wanted)
            )
        )
        return {row["name"]: dict(row) for row in rows.mappings()}

    async def names(self, conn: AsyncConnection, *, workspace_id: str) -> set[str]:
        """The names of the workspace's secrets."""
        rows = await conn.execute(
            select(secrets.c.name).where(secrets.c.workspace_id == workspace_id)
        )
        return {str(name) for name in rows.scalars()}

    async def list(self, conn: AsyncConnection, *, workspace_id: str) -> list[Row]:
        """Every secret's metadata (never the ciphertext), by name."""
        rows = await conn.execute(
            select(*_META).where(secrets.c.workspace_id == workspace_id).order_by(secrets.c.name)
        )
        return [dict(row) for row in rows.mappings()]

    async def page(
        self, conn: AsyncConnection, *, workspace_id: str, limit: int, cursor: str | None
    ) -> Page:
        """One page of ``list``: by name, keyed on the name."""
        query = select(*_META).where(secrets.c.workspace_id == workspace_id)
        keys = (SortKey(column=secrets.c.name, field="name"),)
        return await keyset_page(conn, query, keys=keys, limit=limit, cursor=cursor)

    async def delete(self, conn: AsyncConnection, *, workspace_id: str, name: str) -> bool:
        """Remove a secret; False when there was none."""
        result = await conn.execute(
            delete(secrets).where(secrets.c.workspace_id == workspace_id, secrets.c.name == name)
        )
        return bool(result.rowcount)

    async def touch(
        self, conn: AsyncConnection, *, workspace_id: str, names: Iterable[str], now: datetime
    ) -> None:
        """Record that secrets were handed to an agent."""
        used = sorted(set(names))
        if used:
            await conn.execute(
                update(secrets)
                .where(secrets.c.workspace_id == workspace_id, secrets.c.name.in_(used))
                .values(last_used_at=now)
            )

    async def sealed_with_other_keys(
        self, conn: AsyncConnection, *, key_id: str, after: tuple[str, str] | None, limit: int
    ) -> builtins.list[Row]:
        """Up to ``limit`` secrets (with ciphertexts) not sealed with ``key_id``, of every
        workspace, in (workspace, name) order after ``after``: one page of a rotation."""
        query = select(secrets).where(secrets.c.key_id != key_id)
        if after is not None:
            workspace_id, name = after
            # Keyset paging: rows re-encrypted meanwhile drop out without shifting the rest.
            query = query.where(
                or_(
                    secrets.c.workspace_id > workspace_id,
                    and_(secrets.c.workspace_id == workspace_id, secrets.c.name > name),
                )
            )
        query = query.order_by(secrets.c.workspace_id, secrets.c.name).limit(limit)
        return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def count_sealed_with_other_keys(self, conn: AsyncConnection, *, key_id: str) -> int:
        """How many secrets are not sealed with ``key_id``."""
        query = select(func.count()).select_from(secrets).where(secrets.c.key_id != key_id)
        return int((await conn.execute(query)).scalar_one())

    async def reseal(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        name: str,
        old_key_id: str,
        old_ciphertext: bytes,
        ciphertext: bytes,
        key_id: str,
    ) -> bool:
        """Replace a secret's ciphertext with the same value sealed under another key, unless
        the row changed since it was read; False then (or when it is gone).

        The guard names the old key *and* the old ciphertext: a server that wrote a new value
        meanwhile, even with the old key, left another ciphertext (every seal has a fresh
        nonce), and that new value must not be overwritten with the old one. ``updated_at``
        stays: the value did not change.
        """
        result = await conn.execute(
            update(secrets)
            .where(
                secrets.c.workspace_id == workspace_id,
                secrets.c.name == name,
                secrets.c.key_id == old_key_id,
                secrets.c.ciphertext == old_ciphertext,
            )
            .values(ciphertext=ciphertext, key_id=key_id)
        )
        return bool(result.rowcount)
