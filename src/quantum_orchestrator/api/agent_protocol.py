"""``/api/v1/agent/...``: the agent protocol (plain HTTP + JSON) for agents anywhere."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Response

from quantum_orchestrator.api.deps import AgentProtocol, EngineDep
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.api.schemas import (
    ClaimBody,
    HeartbeatBody,
    LogsBody,
    ProgressBody,
    RegistrationBody,
    ResultsBody,
)
from quantum_orchestrator.domain.agent_protocol import (
    HeartbeatAnswer,
    Registration,
    RegistrationAnswer,
    Result,
    ResultsAnswer,
)
from quantum_orchestrator.domain.auth import PermissionDeniedError
from quantum_orchestrator.domain.step_logs import LogLine

router = APIRouter(prefix="/api/v1/agent", tags=["agent protocol"], route_class=JsonRoute)


@router.post("/register", status_code=201)
async def register(
    body: RegistrationBody, engine: EngineDep, principal: AgentProtocol
) -> RegistrationAnswer:
    """Introduce an agent: its pool, capabilities and concurrency."""
    registration = cast(Registration, body.model_dump(exclude_none=True))
    if registration["pool"] != principal.pool:
        raise PermissionDeniedError(
            f"this agent token is for the pool {principal.pool!r}, not {registration['pool']!r}"
        )
    return await engine.agents.register(
        workspace_id=principal.workspace_id, registration=registration
    )


@router.post("/{agent_id}/heartbeat")
async def heartbeat(
    agent_id: str, body: HeartbeatBody, engine: EngineDep, principal: AgentProtocol
) -> HeartbeatAnswer:
    """Extend the agent's leases; the answer lists steps to stop."""
    return await engine.agents.heartbeat(
        agent_id=agent_id,
        running=body.running,
        workspace_id=principal.workspace_id,
        pool=principal.pool,
    )


@router.post("/{agent_id}/claim")
async def claim(
    agent_id: str, body: ClaimBody, engine: EngineDep, principal: AgentProtocol
) -> dict[str, Any]:
    """Claim up to ``max`` attempts, waiting up to ``wait`` seconds for work."""
    tasks = await engine.agents.claim(
        agent_id=agent_id,
        max_tasks=body.max,
        wait=body.wait,
        workspace_id=principal.workspace_id,
        pool=principal.pool,
    )
    return {"tasks": tasks}


@router.post("/{agent_id}/results")
async def results(
    agent_id: str, body: ResultsBody, engine: EngineDep, principal: AgentProtocol
) -> ResultsAnswer:
    """Report finished attempts in one batch."""
    items = [cast(Result, item.model_dump(exclude_none=True)) for item in body.results]
    return await engine.agents.report(
        agent_id=agent_id, results=items, workspace_id=principal.workspace_id, pool=principal.pool
    )


@router.post("/{agent_id}/progress", status_code=204)
async def progress(
    agent_id: str, body: ProgressBody, engine: EngineDep, principal: AgentProtocol
) -> Response:
    """Partial output of a running attempt (streamed text): a ``step.progress`` event."""
    await engine.agents.progress(
        agent_id=agent_id,
        step_id=body.step_id,
        attempt=body.attempt,
        data=body.data,
        workspace_id=principal.workspace_id,
        pool=principal.pool,
    )
    return Response(status_code=204)


@router.post("/{agent_id}/logs", status_code=204)
async def logs(
    agent_id: str, body: LogsBody, engine: EngineDep, principal: AgentProtocol
) -> Response:
    """Lines a running attempt logged so far (a ``step.logs`` event tells watchers)."""
    await engine.agents.append_logs(
        agent_id=agent_id,
        step_id=body.step_id,
        attempt=body.attempt,
        lines=[cast(LogLine, line.model_dump()) for line in body.lines],
        workspace_id=principal.workspace_id,
        pool=principal.pool,
    )
    return Response(status_code=204)


@router.post("/{agent_id}/deregister", status_code=204)
async def deregister(agent_id: str, engine: EngineDep, principal: AgentProtocol) -> Response:
    """The agent leaves; anything it still holds goes back to the queue."""
    await engine.agents.deregister(
        agent_id=agent_id, workspace_id=principal.workspace_id, pool=principal.pool
    )
    return Response(status_code=204)
