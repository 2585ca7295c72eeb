"""``/api/v1/overview``: the dashboard's home page figures for the caller's workspace."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from quantum_orchestrator.api.deps import EngineDep, RunsRead
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.domain.overview import (
    DEFAULT_WINDOW_HOURS,
    MAX_WINDOW_HOURS,
    MIN_WINDOW_HOURS,
)
from quantum_orchestrator.engine.overview import OverviewService

router = APIRouter(prefix="/api/v1/overview", tags=["overview"], route_class=JsonRoute)


@router.get("")
async def get_overview(
    engine: EngineDep,
    principal: RunsRead,
    window_hours: Annotated[
        int,
        Query(
            ge=MIN_WINDOW_HOURS,
            le=MAX_WINDOW_HOURS,
            description=f"Hours to look back, {MIN_WINDOW_HOURS} to {MAX_WINDOW_HOURS}.",
        ),
    ] = DEFAULT_WINDOW_HOURS,
) -> dict[str, Any]:
    """Agents online, runs and their success rate, step throughput and durations, the queue,
    LLM usage and an hourly chart, all computed from the database for the last
    ``window_hours`` hours."""
    service = OverviewService(uow=engine.uow)
    return await service.overview(workspace_id=principal.workspace_id, window_hours=window_hours)
