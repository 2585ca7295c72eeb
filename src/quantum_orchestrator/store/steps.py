"""Steps and their attempts: the engine's work queue lives in these two tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.tables import attempts, steps

Row = dict[str, Any]


class StepStore:
    """Reads and writes of ``steps`` and ``attempts``."""

    def __init__(self, *, skip_locked: bool) -> None:
        # PostgreSQL lets several servers claim at once without waiting on each other's rows;
        # SQLite has a single writer and needs no row locks.
        self._skip_locked = skip_locked

    def _locked(self, query: Select[Any]) -> Select[Any]:
        return query.with_for_update(skip_locked=True) if self._skip_locked else query

    async def insert_many(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        """Insert steps (all with the same columns)."""
        if rows:
            await conn.execute(steps.insert(), list(rows))

    async def get_many(self, conn: AsyncConnection, step_ids: Iterable[str]) -> dict[str, Row]:
        """Steps by id, locked for this transaction on PostgreSQL."""
        ids = list(step_ids)
        if not ids:
            return {}
        query = select(steps).where(steps.c.id.in_(ids))
        if self._skip_locked:
            query = query.with_for_update()
        return {row["id"]: dict(row) for row in (await conn.execute(query)).mappings()}

    async def get(self, conn: AsyncConnection, step_id: str) -> Row | None:
        """One step by id."""
        row = (await conn.execute(select(steps).where(steps.c.id == step_id))).mappings().first()
        return dict(row) if row else None

    async def by_nodes(
        self, conn: AsyncConnection, run_id: str, node_ids: Iterable[str]
    ) -> dict[str, Row]:
        """Top-level steps of a run by node id."""
        ids = list(node_ids)
        if not ids:
            return {}
        rows = await conn.execute(
            select(steps).where(steps.c.run_id == run_id, steps.c.node_id.in_(ids))
        )
        return {row["node_id"]: dict(row) for row in rows.mappings()}

    async def outputs(
        self, conn: AsyncConnection, run_id: str, node_ids: Iterable[str]
    ) -> dict[str, Row]:
        """State, output and untaken connections of top-level steps (what templates read)."""
        ids = list(node_ids)
        if not ids:
            return {}
        rows = await conn.execute(
            select(steps.c.node_id, steps.c.state, steps.c.output, steps.c.skipped_targets).where(
                steps.c.run_id == run_id, steps.c.node_id.in_(ids)
            )
        )
        return {row["node_id"]: dict(row) for row in rows.mappings()}

    async def for_run(self, conn: AsyncConnection, run_id: str) -> list[Row]:
        """Every step of a run, in creation order, each with its attempts."""
        rows = [
            dict(row)
            for row in (
                await conn.execute(
                    select(steps).where(steps.c.run_id == run_id).order_by(steps.c.id)
                )
            ).mappings()
        ]
        tries: dict[str, list[Row]] = {}
        for attempt in (
            await conn.execute(
                select(attempts).where(attempts.c.run_id == run_id).order_by(attempts.c.number)
            )
        ).mappings():
            tries.setdefault(attempt["step_id"], []).append(dict(attempt))
        for row in rows:
            row["attempt_rows"] = tries.get(row["id"], [])
        return rows

    async def children(self, conn: AsyncConnection, parent_id: str) -> list[Row]:
        """The item steps of a ``core.map`` step, by index."""
        rows = await conn.execute(
            select(steps).where(steps.c.parent_id == parent_id).order_by(steps.c.map_index)
        )
        return [dict(row) for row in rows.mappings()]

    async def update(
        self,
        conn: AsyncConnection,
        *,
        step_id: str,
        sources: Sequence[str],
        values: Mapping[str, Any],
    ) -> bool:
        """Change one step only if its state is one of ``sources``; True when it changed."""
        result = await conn.execute(
            update(steps)
            .where(steps.c.id == step_id, steps.c.state.in_(list(sources)))
            .values(**values)
        )
        return bool(result.rowcount)

    async def update_run_steps(
        self,
        conn: AsyncConnection,
        *,
        run_id: str,
        sources: Sequence[str],
        values: Mapping[str, Any],
    ) -> list[Row]:
        """Change every step of a run in a ``sources`` state; answers the changed ones."""
        result = await conn.execute(
            update(steps)
            .where(steps.c.run_id == run_id, steps.c.state.in_(list(sources)))
            .values(**values)
            .returning(steps.c.id, steps.c.node_id, steps.c.state, steps.c.attempts)
        )
        return [dict(row) for row in result.mappings()]

    async def add_upstream_outcomes(
        self, conn: AsyncConnection, *, run_id: str, increments: Mapping[str, tuple[int, int, int]]
    ) -> list[Row]:
        """Count finished upstream steps into their downstream steps; answers those steps."""
        if not increments:
            return []
        await conn.execute(
            update(steps)
            .where(steps.c.run_id == run_id, steps.c.node_id == bindparam("nid"))
            .values(
                up_succeeded=steps.c.up_succeeded + bindparam("s"),
                up_failed=steps.c.up_failed + bindparam("f"),
                up_skipped=steps.c.up_skipped + bindparam("k"),
            ),
            [
                {"nid": node_id, "s": counts[0], "f": counts[1], "k": counts[2]}
                for node_id, counts in increments.items()
            ],
        )
        rows = await conn.execute(
            select(steps).where(steps.c.run_id == run_id, steps.c.node_id.in_(list(increments)))
        )
        return [dict(row) for row in rows.mappings()]

    async def succeed_many(
        self, conn: AsyncConnection, *, outcomes: Sequence[tuple[str, int, Any]], now: datetime
    ) -> None:
        """Running steps succeed with their outputs: ``(step id, attempt, output)`` each."""
        if not outcomes:
            return
        await conn.execute(
            update(attempts)
            .where(
                attempts.c.step_id == bindparam("sid"),
                attempts.c.number == bindparam("num"),
                attempts.c.state == "running",
            )
            .values(state="succeeded", finished_at=now),
            [{"sid": sid, "num": number} for sid, number, _ in outcomes],
        )
        await conn.execute(
            update(steps)
            .where(steps.c.id == bindparam("sid"), steps.c.state == "running")
            .values(
                state="succeeded",
                output=bindparam("out"),
                error=None,
                finished_at=now,
                lease_expires_at=None,
                deadline_at=None,
            ),
            [{"sid": sid, "out": output} for sid, _, output in outcomes],
        )

    async def claimable(
        self,
        conn: AsyncConnection,
        *,
        capabilities: Sequence[str],
        pool: str,
        now: datetime,
        limit: int,
    ) -> list[str]:
        """Ids of queued steps this agent may run now, oldest first."""
        query = (
            select(steps.c.id)
            .where(
                steps.c.state == "queued",
                steps.c.available_at <= now,
                steps.c.node_type.in_(list(capabilities)),
                or_(steps.c.pool.is_(None), steps.c.pool == pool),
            )
            .order_by(steps.c.available_at, steps.c.id)
            .limit(limit)
        )
        return list((await conn.execute(self._locked(query))).scalars())

    async def claim(
        self,
        conn: AsyncConnection,
        *,
        step_ids: Sequence[str],
        agent_id: str,
        now: datetime,
        lease_expires_at: datetime,
    ) -> list[Row]:
        """Queued steps become running under the agent's lease; answers the claimed rows."""
        if not step_ids:
            return []
        result = await conn.execute(
            update(steps)
            .where(steps.c.id.in_(list(step_ids)), steps.c.state == "queued")
            .values(
                state="running",
                attempts=steps.c.attempts + 1,
                agent_id=agent_id,
                lease_expires_at=lease_expires_at,
                started_at=func.coalesce(steps.c.started_at, now),
            )
            .returning(*steps.c)
        )
        return [dict(row) for row in result.mappings()]

    async def queue_many(
        self, conn: AsyncConnection, *, items: Sequence[Mapping[str, Any]], now: datetime
    ) -> None:
        """Pending steps become queued with their rendered params (``{"sid", "params"}`` each)."""
        if items:
            await conn.execute(
                update(steps)
                .where(steps.c.id == bindparam("sid"), steps.c.state == "pending")
                .values(
                    state="queued", params=bindparam("params"), available_at=now, queued_at=now
                ),
                list(items),
            )

    async def set_deadlines(self, conn: AsyncConnection, deadlines: Mapping[str, datetime]) -> None:
        """Record when each claimed attempt must have ended."""
        if deadlines:
            await conn.execute(
                update(steps)
                .where(steps.c.id == bindparam("sid"))
                .values(deadline_at=bindparam("dl")),
                [{"sid": sid, "dl": deadline} for sid, deadline in deadlines.items()],
            )

    async def extend_leases(
        self, conn: AsyncConnection, *, agent_id: str, step_ids: Sequence[str], until: datetime
    ) -> list[str]:
        """Extend the leases the agent still holds; answers the step ids it holds."""
        if not step_ids:
            return []
        result = await conn.execute(
            update(steps)
            .where(
                steps.c.id.in_(list(step_ids)),
                steps.c.agent_id == agent_id,
                steps.c.state == "running",
            )
            .values(lease_expires_at=until)
            .returning(steps.c.id)
        )
        return list(result.scalars())

    async def expire_agent_leases(
        self, conn: AsyncConnection, *, agent_id: str, now: datetime
    ) -> None:
        """End the leases of a lost agent now, so the timer loop hands its steps back."""
        await conn.execute(
            update(steps)
            .where(steps.c.agent_id == agent_id, steps.c.state == "running")
            .values(lease_expires_at=now)
        )

    async def due(
        self, conn: AsyncConnection, *, column: str, state: str, now: datetime, limit: int
    ) -> list[str]:
        """Ids of steps in ``state`` whose timer ``column`` has passed."""
        col = steps.c[column]
        query = (
            select(steps.c.id)
            .where(steps.c.state == state, col.is_not(None), col <= now)
            .order_by(col)
            .limit(limit)
        )
        return list((await conn.execute(self._locked(query))).scalars())

    async def any_became_available(
        self, conn: AsyncConnection, *, after: datetime, now: datetime
    ) -> bool:
        """True when a retry timer of a queued step fell in ``(after, now]``."""
        query = select(steps.c.id).where(
            and_(
                steps.c.state == "queued", steps.c.available_at > after, steps.c.available_at <= now
            )
        )
        return (await conn.execute(query.limit(1))).first() is not None

    async def delete(self, conn: AsyncConnection, step_ids: Sequence[str]) -> None:
        """Remove steps (and, by cascade, their attempts)."""
        if step_ids:
            await conn.execute(attempts.delete().where(attempts.c.step_id.in_(list(step_ids))))
            await conn.execute(steps.delete().where(steps.c.id.in_(list(step_ids))))

    async def insert_attempts(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        """Record attempts as they start."""
        if rows:
            await conn.execute(attempts.insert(), list(rows))

    async def close_attempt(
        self,
        conn: AsyncConnection,
        *,
        step_id: str,
        number: int,
        state: str,
        error: Mapping[str, Any] | None,
        now: datetime,
    ) -> None:
        """Record how an attempt ended (only if it is still open)."""
        await conn.execute(
            update(attempts)
            .where(
                attempts.c.step_id == step_id,
                attempts.c.number == number,
                attempts.c.state == "running",
            )
            .values(state=state, error=dict(error) if error else None, finished_at=now)
        )

    async def close_run_attempts(
        self, conn: AsyncConnection, *, run_id: str, state: str, now: datetime
    ) -> None:
        """Close every open attempt of a run (cancellation)."""
        await conn.execute(
            update(attempts)
            .where(attempts.c.run_id == run_id, attempts.c.state == "running")
            .values(state=state, finished_at=now)
        )
