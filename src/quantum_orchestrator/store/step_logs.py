"""Reads and writes of ``step_logs``: the lines each attempt's handler logged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.pagination import Page, SortKey, cursor_int, keyset_page
from quantum_orchestrator.store.tables import step_logs

Row = dict[str, Any]

_COLUMNS = (
    step_logs.c.id,
    step_logs.c.attempt,
    step_logs.c.at,
    step_logs.c.level,
    step_logs.c.message,
)

_BY_ID = (SortKey(column=step_logs.c.id, field="id", parse=cursor_int),)


class StepLogStore:
    """The ``step_logs`` table."""

    async def append(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        """Insert log lines (``step_id``, ``run_id``, ``attempt``, ``at``, ``level``,
        ``message``), in the order given."""
        if rows:
            await conn.execute(step_logs.insert(), list(rows))

    async def count(self, conn: AsyncConnection, *, step_id: str, attempt: int) -> int:
        """How many lines an attempt has stored."""
        query = select(func.count()).where(
            step_logs.c.step_id == step_id, step_logs.c.attempt == attempt
        )
        return int((await conn.execute(query)).scalar_one())

    async def page(
        self,
        conn: AsyncConnection,
        *,
        step_id: str,
        attempt: int | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """A step's lines, oldest first, of one attempt or of all of them."""
        query = select(*_COLUMNS).where(step_logs.c.step_id == step_id)
        if attempt is not None:
            query = query.where(step_logs.c.attempt == attempt)
        return await keyset_page(conn, query, keys=_BY_ID, limit=limit, cursor=cursor)
