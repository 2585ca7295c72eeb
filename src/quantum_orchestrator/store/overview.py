"""Aggregate reads behind the dashboard overview, computed in SQL on SQLite and PostgreSQL.

Every query here reads one workspace over a time window and answers counts, sums or a few
values picked by rank: no query brings a row per run or step back to Python. Durations and hour
buckets are computed from seconds since the epoch, spelled per dialect (SQLite keeps datetimes
as text, read with ``julianday``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Float, Select, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.tables import agents, runs, steps, usage

Row = dict[str, Any]
# julianday() of 1970-01-01T00:00:00Z.
_UNIX_EPOCH_JULIAN = 2440587.5
_SECONDS_PER_DAY = 86400.0


def _number(value: float) -> ColumnElement[float]:
    # Constants are written into the SQL rather than bound: PostgreSQL must see the bucket
    # expression of SELECT and GROUP BY as the same text, and two bound parameters differ.
    return literal_column(repr(float(value)), Float)


class OverviewStore:
    """Counts, sums and ranked durations of one workspace since a moment."""

    def __init__(self, *, dialect: str) -> None:
        self._sqlite = dialect == "sqlite"

    def _epoch(self, column: Any) -> ColumnElement[float]:
        """Seconds since the Unix epoch of a datetime column, as a float."""
        if self._sqlite:
            return cast(
                (func.julianday(column) - _number(_UNIX_EPOCH_JULIAN)) * _number(_SECONDS_PER_DAY),
                Float,
            )
        return cast(func.extract("epoch", column), Float)

    def _bucket(self, column: Any, start: datetime) -> ColumnElement[int]:
        """The 0-based hour of ``column`` counted from ``start`` (rows are never before it)."""
        seconds = self._epoch(column) - _number(start.timestamp())
        if self._sqlite:
            # CAST truncates toward zero in SQLite: the floor of a non-negative number.
            return cast(seconds / _number(3600), BigInteger)
        # PostgreSQL's CAST rounds; floor first.
        return cast(func.floor(seconds / _number(3600)), BigInteger)

    async def agents(self, conn: AsyncConnection, *, workspace_id: str) -> list[tuple[str, Any]]:
        """``(state, capabilities)`` of the workspace's live agents (offline ones only as a
        count, with ``None`` capabilities: they pile up over time and serve nothing)."""
        live = await conn.execute(
            select(agents.c.state, agents.c.capabilities).where(
                agents.c.workspace_id == workspace_id, agents.c.state != "offline"
            )
        )
        offline = await conn.execute(
            select(func.count()).where(
                agents.c.workspace_id == workspace_id, agents.c.state == "offline"
            )
        )
        found: list[tuple[str, Any]] = [
            (row["state"], row["capabilities"] or []) for row in live.mappings()
        ]
        found.extend(("offline", []) for _ in range(int(offline.scalar_one())))
        return found

    async def runs_created(
        self, conn: AsyncConnection, *, workspace_id: str, since: datetime
    ) -> dict[str, int]:
        """Runs created since ``since``, counted by their state now."""
        query = (
            select(runs.c.state, func.count().label("n"))
            .where(runs.c.workspace_id == workspace_id, runs.c.created_at >= since)
            .group_by(runs.c.state)
        )
        return {row["state"]: int(row["n"]) for row in (await conn.execute(query)).mappings()}

    def _finished_runs(self, workspace_id: str, since: datetime) -> Any:
        return runs.c.workspace_id == workspace_id, runs.c.finished_at >= since

    async def runs_finished(
        self, conn: AsyncConnection, *, workspace_id: str, since: datetime
    ) -> dict[str, int]:
        """Runs that finished since ``since``, counted by state."""
        query = (
            select(runs.c.state, func.count().label("n"))
            .where(*self._finished_runs(workspace_id, since))
            .group_by(runs.c.state)
        )
        return {row["state"]: int(row["n"]) for row in (await conn.execute(query)).mappings()}

    def _run_durations(self, workspace_id: str, since: datetime) -> Select[Any]:
        return select(
            (self._epoch(runs.c.finished_at) - self._epoch(runs.c.created_at)).label("d")
        ).where(*self._finished_runs(workspace_id, since))

    def _step_durations(self, workspace_id: str, since: datetime) -> Select[Any]:
        return select(
            (self._epoch(steps.c.finished_at) - self._epoch(steps.c.started_at)).label("d")
        ).where(
            steps.c.workspace_id == workspace_id,
            steps.c.finished_at >= since,
            steps.c.started_at.is_not(None),
        )

    async def steps_finished(
        self, conn: AsyncConnection, *, workspace_id: str, since: datetime
    ) -> tuple[int, int]:
        """Steps that finished since ``since``: ``(all of them, those that had started)``
        (skipped and never-claimed cancelled steps have no duration)."""
        query = select(
            func.count().label("finished"),
            func.count(steps.c.started_at).label("timed"),
        ).where(steps.c.workspace_id == workspace_id, steps.c.finished_at >= since)
        row = (await conn.execute(query)).mappings().one()
        return int(row["finished"]), int(row["timed"])

    async def run_durations_at(
        self, conn: AsyncConnection, *, workspace_id: str, since: datetime, ranks: Sequence[int]
    ) -> dict[int, float]:
        """Seconds from creation to end of the finished runs, picked by 1-based rank."""
        return await self._at_ranks(conn, self._run_durations(workspace_id, since), ranks)

    async def step_durations_at(
        self, conn: AsyncConnection, *, workspace_id: str, since: datetime, ranks: Sequence[int]
    ) -> dict[int, float]:
        """Seconds from start to end of the finished steps, picked by 1-based rank."""
        return await self._at_ranks(conn, self._step_durations(workspace_id, since), ranks)

    async def _at_ranks(
        self, conn: AsyncConnection, durations: Select[Any], ranks: Sequence[int]
    ) -> dict[int, float]:
        # One sort in the database, two rows back: a window function both dialects have.
        if not ranks:
            return {}
        inner = durations.subquery()
        ranked = select(
            inner.c.d, func.row_number().over(order_by=inner.c.d).label("rank")
        ).subquery()
        query = select(ranked.c.d, ranked.c.rank).where(ranked.c.rank.in_(sorted(set(ranks))))
        return {int(row["rank"]): float(row["d"]) for row in (await conn.execute(query)).mappings()}

    async def queue_depth(self, conn: AsyncConnection, *, workspace_id: str, now: datetime) -> int:
        """Steps queued and due now: what a claim could hand out if an agent asked."""
        query = select(func.count()).where(
            steps.c.state == "queued",
            steps.c.available_at <= now,
            steps.c.workspace_id == workspace_id,
        )
        return int((await conn.execute(query)).scalar_one())

    async def llm_usage(self, conn: AsyncConnection, *, workspace_id: str, since: datetime) -> Row:
        """Prompt and completion tokens, cost and calls of LLM steps since ``since``."""
        query = select(
            func.coalesce(func.sum(usage.c.prompt_tokens), 0).label("prompt_tokens"),
            func.coalesce(func.sum(usage.c.completion_tokens), 0).label("completion_tokens"),
            func.coalesce(func.sum(usage.c.cost), 0.0).label("cost"),
            func.count().label("calls"),
        ).where(usage.c.workspace_id == workspace_id, usage.c.created_at >= since)
        row = (await conn.execute(query)).mappings().one()
        return {
            "prompt_tokens": int(row["prompt_tokens"]),
            "completion_tokens": int(row["completion_tokens"]),
            "cost": float(row["cost"]),
            "calls": int(row["calls"]),
        }

    async def runs_by_hour(
        self, conn: AsyncConnection, *, workspace_id: str, start: datetime
    ) -> list[tuple[int, str, int]]:
        """``(hour index from start, state, runs created)`` since ``start``."""
        bucket = self._bucket(runs.c.created_at, start).label("bucket")
        query = (
            select(bucket, runs.c.state, func.count().label("n"))
            .where(runs.c.workspace_id == workspace_id, runs.c.created_at >= start)
            .group_by(bucket, runs.c.state)
        )
        return [
            (int(row["bucket"]), str(row["state"]), int(row["n"]))
            for row in (await conn.execute(query)).mappings()
        ]

    async def steps_by_hour(
        self, conn: AsyncConnection, *, workspace_id: str, start: datetime
    ) -> list[tuple[int, int]]:
        """``(hour index from start, steps finished)`` since ``start``."""
        bucket = self._bucket(steps.c.finished_at, start).label("bucket")
        query = (
            select(bucket, func.count().label("n"))
            .where(steps.c.workspace_id == workspace_id, steps.c.finished_at >= start)
            .group_by(bucket)
        )
        return [
            (int(row["bucket"]), int(row["n"])) for row in (await conn.execute(query)).mappings()
        ]
