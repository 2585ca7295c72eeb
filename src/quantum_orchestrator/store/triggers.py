"""Triggers: schedules, webhooks and run-completion triggers of the workflows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.errors import ConflictError, NotFoundError
from quantum_orchestrator.store.pagination import Page, SortKey, cursor_datetime, keyset_page
from quantum_orchestrator.store.tables import triggers

Row = dict[str, Any]

_OLDEST_FIRST = (
    SortKey(column=triggers.c.created_at, field="created_at", parse=cursor_datetime),
    SortKey(column=triggers.c.id, field="id"),
)


class TriggerStore:
    """Reads and writes of ``triggers``."""

    def __init__(self, *, skip_locked: bool = False) -> None:
        # PostgreSQL: replicas claim due schedules with SKIP LOCKED, so each row is fired by
        # one of them. SQLite has one writer at a time and needs no lock clause.
        self._skip_locked = skip_locked

    async def insert(self, conn: AsyncConnection, row: Row) -> None:
        """Insert a trigger; ``ConflictError`` when the workflow has one with that name."""
        try:
            async with conn.begin_nested():
                await conn.execute(triggers.insert(), row)
        except IntegrityError:
            raise ConflictError(
                f"the workflow already has a trigger named {row['name']!r}"
            ) from None

    async def get(
        self, conn: AsyncConnection, *, trigger_id: str, workspace_id: str | None = None
    ) -> Row:
        """One trigger; scoped by workspace when one is given."""
        query = select(triggers).where(triggers.c.id == trigger_id)
        if workspace_id is not None:
            query = query.where(triggers.c.workspace_id == workspace_id)
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFoundError(f"no trigger {trigger_id!r}")
        return dict(row)

    async def page(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        workflow_id: str | None,
        kind: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """One page of the workspace's triggers, oldest first, keyed on (created_at, id)."""
        query = select(triggers).where(triggers.c.workspace_id == workspace_id)
        if workflow_id is not None:
            query = query.where(triggers.c.workflow_id == workflow_id)
        if kind is not None:
            query = query.where(triggers.c.kind == kind)
        return await keyset_page(conn, query, keys=_OLDEST_FIRST, limit=limit, cursor=cursor)

    async def update(
        self,
        conn: AsyncConnection,
        *,
        trigger_id: str,
        values: dict[str, Any],
        expected_state: str | None = None,
        expected_next: datetime | None = None,
    ) -> bool:
        """Change a trigger, guarded by its state and timer when given; True when it changed."""
        query = update(triggers).where(triggers.c.id == trigger_id)
        if expected_state is not None:
            query = query.where(triggers.c.state == expected_state)
        if expected_next is not None:
            query = query.where(triggers.c.next_fire_at == expected_next)
        result = await conn.execute(query.values(**values))
        return bool(result.rowcount)

    async def delete(self, conn: AsyncConnection, *, workspace_id: str, trigger_id: str) -> None:
        """Remove a trigger; ``NotFoundError`` when there is none."""
        result = await conn.execute(
            delete(triggers).where(
                triggers.c.id == trigger_id, triggers.c.workspace_id == workspace_id
            )
        )
        if not result.rowcount:
            raise NotFoundError(f"no trigger {trigger_id!r}")

    async def due(self, conn: AsyncConnection, *, now: datetime, limit: int) -> list[Row]:
        """Active schedules whose next fire time has come, claimed for this transaction."""
        query = (
            select(triggers)
            .where(
                triggers.c.state == "active",
                triggers.c.next_fire_at.is_not(None),
                triggers.c.next_fire_at <= now,
            )
            .order_by(triggers.c.next_fire_at, triggers.c.id)
            .limit(limit)
        )
        if self._skip_locked:
            query = query.with_for_update(skip_locked=True)
        return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def listening(self, conn: AsyncConnection, *, workspace_id: str, kind: str) -> list[Row]:
        """The workspace's active triggers of one kind (run-completion listeners)."""
        query = select(triggers).where(
            triggers.c.workspace_id == workspace_id,
            triggers.c.kind == kind,
            triggers.c.state == "active",
        )
        return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def sealed_with_other_keys(
        self, conn: AsyncConnection, *, key_id: str, after: str | None, limit: int
    ) -> list[Row]:
        """Up to ``limit`` webhooks whose secret is not sealed with ``key_id``, of every
        workspace, in id order after ``after``: one page of a master key rotation."""
        query = select(triggers).where(
            triggers.c.secret_ciphertext.is_not(None), triggers.c.secret_key_id != key_id
        )
        if after is not None:
            # Keyset paging: rows re-encrypted meanwhile drop out without shifting the rest.
            query = query.where(triggers.c.id > after)
        query = query.order_by(triggers.c.id).limit(limit)
        return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def count_sealed_with_other_keys(self, conn: AsyncConnection, *, key_id: str) -> int:
        """How many webhook secrets are not sealed with ``key_id``."""
        query = (
            select(func.count())
            .select_from(triggers)
            .where(triggers.c.secret_ciphertext.is_not(None), triggers.c.secret_key_id != key_id)
        )
        return int((await conn.execute(query)).scalar_one())

    async def reseal(
        self,
        conn: AsyncConnection,
        *,
        trigger_id: str,
        old_key_id: str,
        old_ciphertext: bytes,
        ciphertext: bytes,
        key_id: str,
    ) -> bool:
        """Replace a webhook secret's ciphertext with the same secret sealed under another
        key, unless the row changed since it was read; False then (or when it is gone).

        The guard names the old ciphertext too: a server that rotated the webhook's secret
        meanwhile (even under the old key) left another ciphertext, and that new secret must
        not be overwritten with the old one. ``updated_at`` stays: the secret did not change.
        """
        result = await conn.execute(
            update(triggers)
            .where(
                triggers.c.id == trigger_id,
                triggers.c.secret_key_id == old_key_id,
                triggers.c.secret_ciphertext == old_ciphertext,
            )
            .values(secret_ciphertext=ciphertext, secret_key_id=key_id)
        )
        return bool(result.rowcount)
