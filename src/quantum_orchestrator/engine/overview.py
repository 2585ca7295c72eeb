"""The dashboard overview of one workspace: agents, runs, steps, queue, LLM usage and a chart.

Every figure is read from the database in one read transaction (a consistent snapshot on
PostgreSQL), so several API servers answer the same; nothing is kept in memory between calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quantum_orchestrator.domain.errors import InvalidInputError
from quantum_orchestrator.domain.overview import (
    MAX_WINDOW_HOURS,
    MIN_WINDOW_HOURS,
    PERCENTILES,
    RUN_FINISHED_STATES,
    RUN_STATES,
    Window,
    chart,
    count_agents,
    nearest_rank,
    success_rate,
)
from quantum_orchestrator.engine.unit import UnitOfWork
from quantum_orchestrator.store.overview import OverviewStore
from quantum_orchestrator.store.types import utcnow

Row = dict[str, Any]


def _percentiles(count: int, by_rank: dict[int, float]) -> dict[str, float | None]:
    """``{"p50_ms": ..., "p95_ms": ...}`` from values picked by rank (None when no values)."""
    return {
        f"p{percentile}_ms": (
            round(by_rank[nearest_rank(count, percentile)] * 1000, 3) if count else None
        )
        for percentile in PERCENTILES
    }


class OverviewService:
    """Computes the overview; stateless, cheap to build."""

    def __init__(self, *, uow: UnitOfWork) -> None:
        self._uow = uow
        self._store = OverviewStore(dialect=uow.db.dialect)

    async def overview(
        self, *, workspace_id: str, window_hours: int, now: datetime | None = None
    ) -> Row:
        """The overview of ``workspace_id`` over the last ``window_hours`` hours."""
        if not MIN_WINDOW_HOURS <= window_hours <= MAX_WINDOW_HOURS:
            raise InvalidInputError(
                f"window_hours must be between {MIN_WINDOW_HOURS} and {MAX_WINDOW_HOURS}"
            )
        window = Window(now=now or utcnow(), hours=window_hours)
        store = self._store
        ws = workspace_id
        async with self._uow.read() as conn:
            agents = await store.agents(conn, workspace_id=ws)
            created = await store.runs_created(conn, workspace_id=ws, since=window.since)
            finished_runs = await store.runs_finished(conn, workspace_id=ws, since=window.since)
            runs_done = sum(finished_runs.values())
            run_ranks = [nearest_rank(runs_done, p) for p in PERCENTILES] if runs_done else []
            run_durations = await store.run_durations_at(
                conn, workspace_id=ws, since=window.since, ranks=run_ranks
            )
            steps_done, steps_timed = await store.steps_finished(
                conn, workspace_id=ws, since=window.since
            )
            step_ranks = [nearest_rank(steps_timed, p) for p in PERCENTILES] if steps_timed else []
            step_durations = await store.step_durations_at(
                conn, workspace_id=ws, since=window.since, ranks=step_ranks
            )
            queue_depth = await store.queue_depth(conn, workspace_id=ws, now=window.now)
            llm = await store.llm_usage(conn, workspace_id=ws, since=window.since)
            runs_by_hour = await store.runs_by_hour(conn, workspace_id=ws, start=window.chart_since)
            steps_by_hour = await store.steps_by_hour(
                conn, workspace_id=ws, start=window.chart_since
            )
        agents_by_state, online_by_category = count_agents(agents)
        return {
            "generated_at": window.now.isoformat(),
            "workspace_id": ws,
            "window_hours": window_hours,
            "since": window.since.isoformat(),
            "agents": {
                "online": agents_by_state.get("online", 0),
                "by_state": agents_by_state,
                "online_by_category": online_by_category,
            },
            "runs": {
                "created": sum(created.values()),
                "by_state": {state: created.get(state, 0) for state in RUN_STATES},
                "finished": runs_done,
                "finished_by_state": {
                    state: finished_runs.get(state, 0) for state in RUN_FINISHED_STATES
                },
                "success_rate": success_rate(finished_runs),
                "duration": _percentiles(runs_done, run_durations),
            },
            "steps": {
                "finished": steps_done,
                "per_minute": round(steps_done / (window_hours * 60), 3),
                "duration": _percentiles(steps_timed, step_durations),
            },
            "queue_depth": queue_depth,
            "llm": llm,
            "chart": chart(window, runs_by_hour, steps_by_hour),
        }
