"""Steps and their attempts: the engine's work queue lives in these two tables."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.tables import attempts, runs, step_logs, steps

Row = dict[str, Any]

# What the engine needs to decide about a step, without its params, output and error (JSON
# that would be decoded for nothing on the hot path).
STATE_COLUMNS = (
    steps.c.id,
    steps.c.run_id,
    steps.c.workspace_id,
    steps.c.node_id,
    steps.c.node_type,
    steps.c.parent_id,
    steps.c.map_index,
    steps.c.state,
    steps.c.attempts,
    steps.c.attempt_base,
    steps.c.redeliveries,
    steps.c.retry,
    steps.c.trigger_rule,
    steps.c.up_total,
    steps.c.up_succeeded,
    steps.c.up_failed,
    steps.c.up_skipped,
    steps.c.agent_id,
    steps.c.started_at,
)


# Statements on the engine's hot path are built once: building one costs more than running it.
# A report also needs the params, to know which secrets a step was given.
_HEADS = select(*STATE_COLUMNS, steps.c.params).where(
    steps.c.id.in_(bindparam("ids", expanding=True))
)
_HEADS_LOCKED = _HEADS.with_for_update()
_OUTPUTS = select(steps.c.node_id, steps.c.state, steps.c.output, steps.c.skipped_targets).where(
    steps.c.run_id == bindparam("run_id"), steps.c.node_id.in_(bindparam("ids", expanding=True))
)
_ADD_OUTCOMES = (
    update(steps)
    .where(
        steps.c.run_id == bindparam("rid"),
        steps.c.node_id.in_(bindparam("ids", expanding=True)),
    )
    .values(
        up_succeeded=steps.c.up_succeeded + bindparam("s"),
        up_failed=steps.c.up_failed + bindparam("f"),
        up_skipped=steps.c.up_skipped + bindparam("k"),
    )
    .returning(*STATE_COLUMNS)
)
_CLOSE_SUCCEEDED_ATTEMPT = (
    update(attempts)
    .where(
        attempts.c.step_id == bindparam("sid"),
        attempts.c.number == bindparam("num"),
        attempts.c.state == "running",
    )
    .values(state="succeeded", finished_at=bindparam("now"))
)
_SUCCEED = (
    update(steps)
    .where(steps.c.id == bindparam("sid"), steps.c.state == "running")
    .values(
        state="succeeded",
        output=bindparam("out"),
        error=None,
        finished_at=bindparam("now"),
        lease_expires_at=None,
        deadline_at=None,
    )
)
_CLAIMABLE = (
    select(
        steps.c.id,
        steps.c.run_id,
        steps.c.workspace_id,
        steps.c.node_id,
        steps.c.node_type,
        steps.c.params,
        steps.c.timeout,
        steps.c.attempts,
        runs.c.state.label("run_state"),
    )
    .join(runs, runs.c.id == steps.c.run_id)
    .where(
        steps.c.state == "queued",
        steps.c.available_at <= bindparam("now"),
        steps.c.node_type.in_(bindparam("types", expanding=True)),
        or_(steps.c.pool.is_(None), steps.c.pool == bindparam("pool")),
    )
    .order_by(steps.c.available_at, steps.c.id)
    .limit(bindparam("limit"))
)
# Agents other than the built-in ones run only their own workspace's steps.
_CLAIMABLE_IN = _CLAIMABLE.where(steps.c.workspace_id == bindparam("ws"))
_CLAIMABLE_LOCKED = _CLAIMABLE.with_for_update(skip_locked=True, of=steps)
_CLAIMABLE_IN_LOCKED = _CLAIMABLE_IN.with_for_update(skip_locked=True, of=steps)
_CLAIM = (
    update(steps)
    .where(steps.c.id == bindparam("sid"), steps.c.state == "queued")
    .values(
        state="running",
        attempts=bindparam("n"),
        agent_id=bindparam("aid"),
        lease_expires_at=bindparam("lease"),
        deadline_at=bindparam("dl"),
        started_at=func.coalesce(steps.c.started_at, bindparam("now")),
    )
)
_QUEUE = (
    update(steps)
    .where(steps.c.id == bindparam("sid"), steps.c.state == "pending")
    .values(
        state="queued",
        params=bindparam("params"),
        available_at=bindparam("now"),
        queued_at=bindparam("now"),
    )
)
_INSERT_STEPS = steps.insert()
_INSERT_ATTEMPTS = attempts.insert()


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
            await conn.execute(_INSERT_STEPS, list(rows))

    async def get_many(self, conn: AsyncConnection, step_ids: Iterable[str]) -> dict[str, Row]:
        """Steps by id, locked for this transaction on PostgreSQL."""
        ids = list(step_ids)
        if not ids:
            return {}
        query = select(steps).where(steps.c.id.in_(ids))
        if self._skip_locked:
            query = query.with_for_update()
        return {row["id"]: dict(row) for row in (await conn.execute(query)).mappings()}

    async def heads(self, conn: AsyncConnection, step_ids: Iterable[str]) -> dict[str, Row]:
        """The ``STATE_COLUMNS`` and params of steps by id, locked for this transaction on
        PostgreSQL."""
        ids = list(step_ids)
        if not ids:
            return {}
        query = _HEADS_LOCKED if self._skip_locked else _HEADS
        rows = (await conn.execute(query, {"ids": ids})).mappings()
        return {row["id"]: dict(row) for row in rows}

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
        rows = await conn.execute(_OUTPUTS, {"run_id": run_id, "ids": ids})
        return {row["node_id"]: dict(row) for row in rows.mappings()}

    async def id_of(self, conn: AsyncConnection, *, run_id: str, node_id: str) -> str | None:
        """The id of the step of ``node_id`` in a run, or None."""
        found = await conn.execute(
            select(steps.c.id).where(steps.c.run_id == run_id, steps.c.node_id == node_id)
        )
        return found.scalar_one_or_none()

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
        """Count finished upstream steps into their downstream steps; answers those steps.

        Targets that receive the same increments share one statement (a fan-out is one).
        """
        groups: dict[tuple[int, int, int], list[str]] = {}
        for node_id, counts in increments.items():
            groups.setdefault(counts, []).append(node_id)
        changed: list[Row] = []
        for (succeeded, failed, skipped), node_ids in groups.items():
            result = await conn.execute(
                _ADD_OUTCOMES,
                {"rid": run_id, "ids": node_ids, "s": succeeded, "f": failed, "k": skipped},
            )
            changed.extend(dict(row) for row in result.mappings())
        return changed

    async def succeed_many(
        self, conn: AsyncConnection, *, outcomes: Sequence[tuple[str, int, Any]], now: datetime
    ) -> None:
        """Running steps succeed with their outputs: ``(step id, attempt, output)`` each."""
        if not outcomes:
            return
        await conn.execute(
            _CLOSE_SUCCEEDED_ATTEMPT,
            [{"sid": sid, "num": number, "now": now} for sid, number, _ in outcomes],
        )
        await conn.execute(
            _SUCCEED, [{"sid": sid, "out": output, "now": now} for sid, _, output in outcomes]
        )

    async def claim(
        self,
        conn: AsyncConnection,
        *,
        agent_id: str,
        capabilities: Sequence[str],
        pool: str,
        workspace_id: str | None,
        now: datetime,
        lease_expires_at: datetime,
        grace: float,
        limit: int,
    ) -> list[Row]:
        """Claim up to ``limit`` queued steps this agent may run, oldest first.

        They become running under the agent's lease, with a deadline of their timeout plus
        ``grace``. Answers the claimed steps (with their new attempt number) and the state of
        each one's run as ``run_state``.
        """
        params: dict[str, Any] = {
            "now": now,
            "types": list(capabilities),
            "pool": pool,
            "limit": limit,
        }
        if workspace_id is None:
            query = _CLAIMABLE_LOCKED if self._skip_locked else _CLAIMABLE
        else:
            query = _CLAIMABLE_IN_LOCKED if self._skip_locked else _CLAIMABLE_IN
            params["ws"] = workspace_id
        rows = [dict(row) for row in (await conn.execute(query, params)).mappings()]
        if not rows:
            return []
        for row in rows:
            row["attempts"] += 1
            row["deadline_at"] = now + timedelta(seconds=row["timeout"] + grace)
        # The rows are ours (locked on PostgreSQL, the single writer on SQLite), so the state
        # guard below is a safety net rather than a race to lose.
        await conn.execute(
            _CLAIM,
            [
                {
                    "sid": r["id"],
                    "n": r["attempts"],
                    "dl": r["deadline_at"],
                    "aid": agent_id,
                    "lease": lease_expires_at,
                    "now": now,
                }
                for r in rows
            ],
        )
        return rows

    async def queue_many(
        self, conn: AsyncConnection, *, items: Sequence[Mapping[str, Any]], now: datetime
    ) -> None:
        """Pending steps become queued with their rendered params (``{"sid", "params"}`` each)."""
        if items:
            await conn.execute(_QUEUE, [{**item, "now": now} for item in items])

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

    async def waiting_of_type(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        node_type: str,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[Row]:
        """Top-level waiting steps of one type in a workspace, oldest first, each with its
        run's workflow name and version (the pending approvals); ``after`` is the
        ``(started_at, id)`` of the last step of the previous page."""
        query = (
            select(
                steps.c.id,
                steps.c.run_id,
                steps.c.node_id,
                steps.c.node_type,
                steps.c.params,
                steps.c.wake_at,
                steps.c.started_at,
                runs.c.workflow_name,
                runs.c.version,
            )
            .join(runs, runs.c.id == steps.c.run_id)
            .where(
                steps.c.workspace_id == workspace_id,
                steps.c.node_type == node_type,
                steps.c.state == "waiting",
                steps.c.parent_id.is_(None),
            )
            .order_by(steps.c.started_at, steps.c.id)
            .limit(limit)
        )
        if after is not None:
            started_at, step_id = after
            query = query.where(
                or_(
                    steps.c.started_at > started_at,
                    and_(steps.c.started_at == started_at, steps.c.id > step_id),
                )
            )
        return [dict(row) for row in (await conn.execute(query)).mappings()]

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
        """Remove steps with their attempts and logs (SQLite may not enforce the cascade)."""
        if step_ids:
            await conn.execute(step_logs.delete().where(step_logs.c.step_id.in_(list(step_ids))))
            await conn.execute(attempts.delete().where(attempts.c.step_id.in_(list(step_ids))))
            await conn.execute(steps.delete().where(steps.c.id.in_(list(step_ids))))

    async def attempt_agent(
        self, conn: AsyncConnection, *, step_id: str, number: int
    ) -> str | None:
        """The agent that ran attempt ``number`` of a step (None if none or no such attempt)."""
        found = await conn.execute(
            select(attempts.c.agent_id).where(
                attempts.c.step_id == step_id, attempts.c.number == number
            )
        )
        return found.scalar_one_or_none()

    async def insert_attempts(self, conn: AsyncConnection, rows: Sequence[Row]) -> None:
        """Record attempts as they start."""
        if rows:
            await conn.execute(_INSERT_ATTEMPTS, list(rows))

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
