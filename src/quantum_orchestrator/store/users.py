"""Users: accounts with an e-mail and an Argon2id password hash."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.errors import ConflictError
from quantum_orchestrator.store.tables import users

Row = dict[str, Any]


class UserStore:
    """Reads and writes of ``users``."""

    async def insert(self, conn: AsyncConnection, row: Row) -> None:
        """Add a user; ``ConflictError`` when the e-mail is taken."""
        try:
            async with conn.begin_nested():
                await conn.execute(users.insert().values(**row))
        except IntegrityError:
            raise ConflictError(f"a user with the e-mail {row['email']!r} already exists") from None

    async def by_email(self, conn: AsyncConnection, email: str) -> Row | None:
        """The user with this (normalized) e-mail, or None."""
        row = (await conn.execute(select(users).where(users.c.email == email))).mappings().first()
        return dict(row) if row else None

    async def get(self, conn: AsyncConnection, user_id: str) -> Row | None:
        """The user with this id, or None."""
        row = (await conn.execute(select(users).where(users.c.id == user_id))).mappings().first()
        return dict(row) if row else None

    async def count(self, conn: AsyncConnection) -> int:
        """How many users exist."""
        return int((await conn.execute(select(func.count()).select_from(users))).scalar_one())

    async def set_password(
        self, conn: AsyncConnection, *, user_id: str, password_hash: str, now: datetime
    ) -> bool:
        """Replace a user's password hash; False when there is no such user."""
        result = await conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, updated_at=now)
        )
        return bool(result.rowcount)
