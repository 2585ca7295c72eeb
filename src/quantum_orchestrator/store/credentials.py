"""Sessions, API keys and agent tokens: each found by the SHA-256 of its token."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.pagination import Page, SortKey, cursor_datetime, keyset_page
from quantum_orchestrator.store.tables import agent_tokens, api_keys, sessions, users

Row = dict[str, Any]


class CredentialStore:
    """Reads and writes of ``sessions``, ``api_keys`` and ``agent_tokens``."""

    # Sessions

    async def insert_session(self, conn: AsyncConnection, row: Row) -> None:
        """Record a new session."""
        await conn.execute(sessions.insert().values(**row))

    async def session_by_hash(self, conn: AsyncConnection, token_hash: str) -> Row | None:
        """The session with this token hash, joined with its user's e-mail, or None."""
        query = (
            select(sessions, users.c.email)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.token_hash == token_hash)
        )
        row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def touch_session(self, conn: AsyncConnection, *, session_id: str, now: datetime) -> None:
        """Note that the session was just used (its idle timeout restarts)."""
        await conn.execute(
            update(sessions).where(sessions.c.id == session_id).values(last_seen_at=now)
        )

    async def revoke_session(
        self, conn: AsyncConnection, *, session_id: str, now: datetime
    ) -> bool:
        """End a session; False when it was already ended."""
        result = await conn.execute(
            update(sessions)
            .where(sessions.c.id == session_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return bool(result.rowcount)

    async def revoke_user_sessions(
        self, conn: AsyncConnection, *, user_id: str, now: datetime
    ) -> int:
        """End every open session of a user (after a password reset)."""
        result = await conn.execute(
            update(sessions)
            .where(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    # API keys and agent tokens share their shape.

    async def insert_key(self, conn: AsyncConnection, table: Table, row: Row) -> None:
        """Record a new API key or agent token."""
        await conn.execute(table.insert().values(**row))

    async def key_by_hash(self, conn: AsyncConnection, table: Table, token_hash: str) -> Row | None:
        """The API key or agent token with this hash, or None."""
        query = select(table).where(table.c.token_hash == token_hash)
        row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def get_key(
        self, conn: AsyncConnection, table: Table, *, workspace_id: str, key_id: str
    ) -> Row | None:
        """The API key or agent token of the workspace with this id, or None."""
        query = select(table).where(table.c.workspace_id == workspace_id, table.c.id == key_id)
        row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def list_keys(
        self, conn: AsyncConnection, table: Table, *, workspace_id: str, now: datetime
    ) -> list[Row]:
        """The workspace's API keys or agent tokens that still work, newest first."""
        query = (
            select(table)
            .where(
                table.c.workspace_id == workspace_id,
                table.c.revoked_at.is_(None),
                or_(table.c.expires_at.is_(None), table.c.expires_at > now),
            )
            .order_by(table.c.created_at.desc(), table.c.id.desc())
        )
        return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def page_keys(
        self,
        conn: AsyncConnection,
        table: Table,
        *,
        workspace_id: str,
        now: datetime,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """One page of ``list_keys``: newest first, keyed on (created_at, id)."""
        query = select(table).where(
            table.c.workspace_id == workspace_id,
            table.c.revoked_at.is_(None),
            or_(table.c.expires_at.is_(None), table.c.expires_at > now),
        )
        keys = (
            SortKey(column=table.c.created_at, field="created_at", parse=cursor_datetime),
            SortKey(column=table.c.id, field="id"),
        )
        return await keyset_page(
            conn, query, keys=keys, limit=limit, cursor=cursor, descending=True
        )

    async def update_key(
        self, conn: AsyncConnection, table: Table, key_id: str, **values: Any
    ) -> None:
        """Change columns of an API key or agent token."""
        await conn.execute(update(table).where(table.c.id == key_id).values(**values))


API_KEYS = api_keys
AGENT_TOKENS = agent_tokens
