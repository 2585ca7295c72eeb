"""Reads and writes of ``step_logs``: the lines each attempt's handler logged."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.pagination import Page, cursor_int, decode_cursor, encode_cursor
from quantum_orchestrator.store.tables import step_logs

Row = dict[str, Any]

_COLUMNS = (
    step_logs.c.id,
    step_logs.c.attempt,
    step_logs.c.at,
    step_logs.c.level,
    step_logs.c.message,
)


class StepLogStore:
    """The ``step_logs`` table."""

    async def append(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        """Insert log lines (``step_id``, ``run_id``, ``attempt``, ``at``, ``level``,
        ``message``), in the order given."""
        if rows:
            await conn.execute(step_logs.insert(), list(rows))

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
        if cursor:
            (last,) = decode_cursor(cursor, 1)
            query = query.where(step_logs.c.id > cursor_int(last))
        rows = [
            dict(row)
            for row in (
                await conn.execute(query.order_by(step_logs.c.id).limit(limit + 1))
            ).mappings()
        ]
        more = len(rows) > limit
        items = rows[:limit]
        return Page(items=items, next_cursor=encode_cursor(str(items[-1]["id"])) if more else None)
