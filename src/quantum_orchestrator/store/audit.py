"""The audit log table: append at the chain's head, page with filters, read it all in order.

Appends are serialized so each entry links to the one before it: SQLite has one writer at a
time already; on PostgreSQL the write transaction takes a transaction-level advisory lock
before it reads the head, so concurrent appends from several servers queue up there.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.pagination import Page, SortKey, cursor_int, keyset_page
from quantum_orchestrator.store.tables import audit_log, memberships

Row = dict[str, Any]

# Any fixed 64-bit number works; this one is "qo-audit" in ASCII, so it is recognizable in
# pg_locks and unlikely to collide with another application's advisory locks.
CHAIN_LOCK_KEY = 0x716F2D6175646974
_BY_SEQ = (SortKey(column=audit_log.c.seq, field="seq", parse=cursor_int),)
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")
_HEAD = select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)


class AuditStore:
    """Reads and writes of ``audit_log``."""

    async def lock_head(self, conn: AsyncConnection) -> tuple[int, str | None]:
        """Serialize appends, then answer the head's ``seq`` and ``hash`` (0, None when empty).

        Call it in the write transaction that appends; the lock is held until it ends.
        """
        if conn.dialect.name == "postgresql":
            await conn.execute(_LOCK, {"key": CHAIN_LOCK_KEY})
        return await self.head(conn)

    async def insert(self, conn: AsyncConnection, row: Row) -> None:
        """Append a sealed entry (its ``seq`` is set by the caller, after ``lock_head``)."""
        await conn.execute(audit_log.insert().values(**row))

    async def head(self, conn: AsyncConnection) -> tuple[int, str | None]:
        """The newest entry's ``seq`` and ``hash`` without locking (0, None when empty)."""
        row = (await conn.execute(_HEAD)).first()
        if row is None:
            return 0, None
        return int(row[0]), str(row[1])

    async def page(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        limit: int,
        cursor: str | None,
        action: str | None = None,
        actor_id: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page:
        """A workspace's entries, newest first.

        Account entries (logins, logouts) belong to no workspace; a workspace sees those of
        its current members: as actor, or as the account a failed login tried.
        """
        members = select(memberships.c.user_id).where(memberships.c.workspace_id == workspace_id)
        query = select(audit_log).where(
            or_(
                audit_log.c.workspace_id == workspace_id,
                and_(
                    audit_log.c.workspace_id.is_(None),
                    or_(
                        audit_log.c.actor_id.in_(members),
                        and_(audit_log.c.target_type == "user", audit_log.c.target_id.in_(members)),
                    ),
                ),
            )
        )
        if action:
            query = query.where(audit_log.c.action == action)
        if actor_id:
            query = query.where(audit_log.c.actor_id == actor_id)
        if target_type:
            query = query.where(audit_log.c.target_type == target_type)
        if target_id:
            query = query.where(audit_log.c.target_id == target_id)
        if since:
            query = query.where(audit_log.c.at >= since)
        if until:
            query = query.where(audit_log.c.at < until)
        return await keyset_page(
            conn, query, keys=_BY_SEQ, limit=limit, cursor=cursor, descending=True
        )

    async def iterate(
        self, conn: AsyncConnection, *, batch: int = 1000
    ) -> AsyncGenerator[Row, None]:
        """Every entry in ``seq`` order, ``batch`` at a time.

        Entries appended while it reads come last (appends only extend the chain), so a read
        that is not one snapshot (PostgreSQL's read committed) still sees a consistent chain.
        """
        after: int | None = None
        while True:
            query = select(audit_log).order_by(audit_log.c.seq).limit(batch)
            if after is not None:
                query = query.where(audit_log.c.seq > after)
            rows = [dict(row) for row in (await conn.execute(query)).mappings()]
            for row in rows:
                yield row
            if len(rows) < batch:
                return
            after = rows[-1]["seq"]
