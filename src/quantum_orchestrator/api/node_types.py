"""``/api/v1/node-types``: the catalog (built-in types and agents' capabilities)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from quantum_orchestrator.api.deps import EngineDep, WorkflowsRead
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.domain.node_types import CATEGORIES

router = APIRouter(prefix="/api/v1/node-types", tags=["node types"], route_class=JsonRoute)


@router.get("")
async def list_node_types(engine: EngineDep, principal: WorkflowsRead) -> dict[str, Any]:
    """Every node type with its category, description and params JSON Schema."""
    catalog = await engine.catalog.for_workspace(principal.workspace_id)
    order = {name: i for i, name in enumerate(CATEGORIES)}
    items = sorted(
        catalog.values(), key=lambda t: (order.get(t.category, len(order)), t.category, t.name)
    )
    return {"items": [t.to_dict() for t in items], "categories": list(CATEGORIES)}
