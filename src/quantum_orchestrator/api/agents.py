"""``/api/v1/agents``: the agent control board's data, and draining."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import AgentsManage, AgentsRead, EngineDep, SettingsDep
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.api.schemas import agent_out
from quantum_orchestrator.domain.overview import agent_categories, agent_category
from quantum_orchestrator.domain.states import AgentState

router = APIRouter(prefix="/api/v1/agents", tags=["agents"], route_class=JsonRoute)


def _agent(row: dict[str, Any]) -> dict[str, Any]:
    """An agent with the categories of the node types it serves (see domain.overview)."""
    return {
        **agent_out(row),
        "category": agent_category(row["capabilities"]),
        "categories": agent_categories(row["capabilities"]),
    }


@router.get("")
async def list_agents(
    engine: EngineDep,
    principal: AgentsRead,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    state: AgentState | None = None,
    pool: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Agents with pool, capabilities, category, state, load (``running`` steps against
    ``concurrency``), steps done and last heartbeat."""
    page = await engine.agents.page(
        workspace_id=principal.workspace_id,
        limit=page_limit(limit, settings),
        cursor=cursor,
        state=state.value if state else None,
        pool=pool,
    )
    return {"items": [_agent(row) for row in page.items], "next_cursor": page.next_cursor}


@router.get("/{agent_id}")
async def get_agent(agent_id: str, engine: EngineDep, principal: AgentsRead) -> dict[str, Any]:
    """One agent."""
    return _agent(await engine.agents.get(agent_id=agent_id, workspace_id=principal.workspace_id))


@router.post("/{agent_id}/drain")
async def drain_agent(
    agent_id: str, engine: EngineDep, principal: AgentsManage, request: Request
) -> dict[str, Any]:
    """Ask an online agent to take no more work; it finishes what it holds."""
    row = await engine.agents.drain(agent_id=agent_id, workspace_id=principal.workspace_id)
    await audit(
        request,
        principal,
        action="agent.drain",
        target_type="agent",
        target_id=row["id"],
        details={"name": row.get("name"), "pool": row.get("pool")},
    )
    return _agent(row)
