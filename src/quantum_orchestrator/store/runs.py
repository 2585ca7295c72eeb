"""Runs: insert, read, list, and guarded state updates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.errors import NotFoundError
from quantum_orchestrator.store.pagination import (
    Page,
    cursor_datetime,
    decode_cursor,
    encode_cursor,
)
from quantum_orchestrator.store.tables import runs, steps

Row = dict[str, Any]

# Statements on the engine's hot path are built once: building one costs more than running it.
_RUNS_BY_ID = (
    select(runs).where(runs.c.id.in_(bindparam("ids", expanding=True))).order_by(runs.c.id)
)
_RUNS_BY_ID_LOCKED = _RUNS_BY_ID.with_for_update()
_MARK_RUNNING = (
    update(runs)
    .where(
        runs.c.id.in_(bindparam("ids", expanding=True)),
        runs.c.state.in_(bindparam("sources", expanding=True)),
    )
    .values(
        state="running",
        started_at=func.coalesce(runs.c.started_at, bindparam("now")),
        updated_at=bindparam("now"),
    )
    .returning(runs.c.id, runs.c.workspace_id)
)
_STATE_COUNTS = (
    select(steps.c.state, func.count())
    .where(steps.c.run_id == bindparam("run_id"))
    .group_by(steps.c.state)
)
_INSERT = runs.insert()


class DuplicateRunError(Exception):
    """The idempotency key is already used by another run of the workspace."""


class RunStore:
    """Reads and writes of ``runs``."""

    async def insert(self, conn: AsyncConnection, row: Row) -> None:
        """Insert a run; raises ``DuplicateRunError`` when its idempotency key is taken."""
        try:
            async with conn.begin_nested():
                await conn.execute(_INSERT, row)
        except IntegrityError:
            raise DuplicateRunError(row.get("idempotency_key")) from None

    async def find_by_key(
        self, conn: AsyncConnection, *, workspace_id: str, key: str
    ) -> Row | None:
        """The run created with this idempotency key, if any."""
        row = (
            (
                await conn.execute(
                    select(runs).where(
                        runs.c.workspace_id == workspace_id, runs.c.idempotency_key == key
                    )
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def get(
        self, conn: AsyncConnection, *, run_id: str, workspace_id: str | None = None
    ) -> Row:
        """One run; scoped by workspace when one is given."""
        query = select(runs).where(runs.c.id == run_id)
        if workspace_id is not None:
            query = query.where(runs.c.workspace_id == workspace_id)
        row = (await conn.execute(query)).mappings().first()
        if row is None:
            raise NotFoundError(f"no run {run_id!r}")
        return dict(row)

    async def get_many(
        self, conn: AsyncConnection, run_ids: Sequence[str], *, lock: bool = False
    ) -> dict[str, Row]:
        """Runs by id; with ``lock``, row-locked (in id order) until the transaction ends.

        SQLite has one writer at a time and renders no lock clause.
        """
        if not run_ids:
            return {}
        query = _RUNS_BY_ID_LOCKED if lock else _RUNS_BY_ID
        rows = (await conn.execute(query, {"ids": list(run_ids)})).mappings()
        return {row["id"]: dict(row) for row in rows}

    async def child_of_step(self, conn: AsyncConnection, parent_step_id: str) -> Row | None:
        """The newest run a ``core.subworkflow`` step started (a retried step starts anew)."""
        query = (
            select(runs)
            .where(runs.c.parent_step_id == parent_step_id)
            .order_by(runs.c.created_at.desc(), runs.c.id.desc())
            .limit(1)
        )
        row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def active_children(self, conn: AsyncConnection, parent_run_id: str) -> list[Row]:
        """The runs started by a run's ``core.subworkflow`` steps that have not ended."""
        query = select(runs).where(
            runs.c.parent_run_id == parent_run_id,
            runs.c.state.not_in(["succeeded", "failed", "cancelled"]),
        )
        return [dict(row) for row in (await conn.execute(query.order_by(runs.c.id))).mappings()]

    async def set_state(
        self,
        conn: AsyncConnection,
        *,
        run_id: str,
        expected: str,
        values: dict[str, Any],
    ) -> bool:
        """Change a run only if it is still in ``expected`` state; True when it changed."""
        result = await conn.execute(
            update(runs).where(runs.c.id == run_id, runs.c.state == expected).values(**values)
        )
        return bool(result.rowcount)

    async def mark_running(
        self,
        conn: AsyncConnection,
        *,
        run_ids: Sequence[str],
        sources: Sequence[str],
        now: datetime,
    ) -> list[Row]:
        """Runs among ``run_ids`` in a ``sources`` state become running; answers the changed."""
        if not run_ids:
            return []
        result = await conn.execute(
            _MARK_RUNNING, {"ids": list(run_ids), "sources": list(sources), "now": now}
        )
        return [dict(row) for row in result.mappings()]

    async def step_state_counts(self, conn: AsyncConnection, run_id: str) -> dict[str, int]:
        """How many steps of the run are in each state."""
        result = await conn.execute(_STATE_COUNTS, {"run_id": run_id})
        return {state: int(count) for state, count in result.all()}

    async def first_failed_step(self, conn: AsyncConnection, run_id: str) -> Row | None:
        """The top-level step of the run that failed first."""
        row = (
            (
                await conn.execute(
                    select(steps.c.node_id, steps.c.error)
                    .where(
                        steps.c.run_id == run_id,
                        steps.c.state == "failed",
                        steps.c.parent_id.is_(None),
                    )
                    .order_by(steps.c.finished_at, steps.c.id)
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return dict(row) if row else None

    async def page(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        limit: int,
        cursor: str | None,
        workflow_id: str | None = None,
        state: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page:
        """Runs, newest first, with filters."""
        query = select(runs).where(runs.c.workspace_id == workspace_id)
        if workflow_id:
            query = query.where(runs.c.workflow_id == workflow_id)
        if state:
            query = query.where(runs.c.state == state)
        if created_after:
            query = query.where(runs.c.created_at >= created_after)
        if created_before:
            query = query.where(runs.c.created_at < created_before)
        if cursor:
            created, run_id = decode_cursor(cursor, 2)
            created_at = cursor_datetime(created)
            query = query.where(
                tuple_(runs.c.created_at, runs.c.id) < tuple_(_bind(created_at), run_id)
            )
        query = query.order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit + 1)
        rows = (await conn.execute(query)).mappings().all()
        items = [dict(row) for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(last["created_at"].isoformat(), last["id"])
        return Page(items=items, next_cursor=next_cursor)


def _bind(value: datetime) -> Any:
    from sqlalchemy import literal

    return literal(value, type_=runs.c.created_at.type)
