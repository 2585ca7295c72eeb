"""Counts of rows by state, for metrics and readiness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.tables import agents, runs, steps


@dataclass(frozen=True, slots=True)
class StateCounts:
    """How many runs, steps and agents are in each state; how many steps are claimable."""

    runs: dict[str, int]
    steps: dict[str, int]
    agents: dict[str, int]
    queue_depth: int


async def state_counts(conn: AsyncConnection, *, now: datetime) -> StateCounts:
    """Read the counts in one snapshot."""

    async def by_state(table: object) -> dict[str, int]:
        column = table.c.state  # type: ignore[attr-defined]
        result = await conn.execute(select(column, func.count()).group_by(column))
        return {state: int(count) for state, count in result.all()}

    queued = await conn.execute(
        select(func.count()).where(steps.c.state == "queued", steps.c.available_at <= now)
    )
    return StateCounts(
        runs=await by_state(runs),
        steps=await by_state(steps),
        agents=await by_state(agents),
        queue_depth=int(queued.scalar_one()),
    )
