"""The run timeline: every state change, appended in the transaction that made it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.tables import events

Row = dict[str, Any]

_APPEND = events.insert().returning(events.c.id, sort_by_parameter_order=True)


class EventStore:
    """Reads and writes of ``events``."""

    async def append(self, conn: AsyncConnection, rows: Sequence[Row]) -> list[Row]:
        """Insert events; answers them with their ids (in order)."""
        if not rows:
            return []
        result = await conn.execute(_APPEND, list(rows))
        ids = list(result.scalars())
        return [{**row, "id": event_id} for row, event_id in zip(rows, ids, strict=True)]

    async def for_run(
        self, conn: AsyncConnection, *, run_id: str, after: int = 0, limit: int = 1000
    ) -> list[Row]:
        """A run's events with an id above ``after``, oldest first."""
        rows = await conn.execute(
            select(events)
            .where(events.c.run_id == run_id, events.c.id > after)
            .order_by(events.c.id)
            .limit(limit)
        )
        return [dict(row) for row in rows.mappings()]
