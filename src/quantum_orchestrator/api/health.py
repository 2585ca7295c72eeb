"""Probes and metrics: ``/healthz`` (alive), ``/readyz`` (database and schema), ``/metrics``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from quantum_orchestrator.api.deps import EngineDep, MetricsRead
from quantum_orchestrator.api.problems import problem
from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.observability.metrics import Metrics
from quantum_orchestrator.store.migrate import current_revision, head_revision
from quantum_orchestrator.store.stats import state_counts
from quantum_orchestrator.store.types import utcnow

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
async def readyz(request: Request, engine: EngineDep) -> dict[str, Any] | JSONResponse:
    """Ready to serve: the database answers and its schema is current."""
    try:
        await engine.db.ping()
        revision = await current_revision(engine.db)
    except QOError as exc:
        return problem(request, status=503, detail=exc.message, code="not_ready")
    head = head_revision()
    if revision != head:
        return problem(
            request,
            status=503,
            detail=f"the database schema is at {revision}, not {head}: run `qo db upgrade`",
            code="not_ready",
        )
    return {"status": "ready", "database": engine.db.dialect, "schema": revision}


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, engine: EngineDep, principal: MetricsRead) -> Response:
    """Prometheus exposition of the platform's metrics (admins; scrape with an API key)."""
    registry: Metrics = request.app.state.metrics
    async with engine.uow.read() as conn:
        counts = await state_counts(conn, now=utcnow())
    registry.set_state_counts(
        runs=counts.runs, steps=counts.steps, agents=counts.agents, queue_depth=counts.queue_depth
    )
    return Response(registry.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
