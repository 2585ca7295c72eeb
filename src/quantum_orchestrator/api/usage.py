"""``/api/v1/usage``: LLM tokens and cost per workflow, run, agent or model; monthly budgets."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import EngineDep, RunsRead, WorkspaceRead, WorkspaceWrite
from quantum_orchestrator.api.routing import JsonRoute

router = APIRouter(prefix="/api/v1/usage", tags=["usage"], route_class=JsonRoute)

GroupBy = Literal["workspace", "workflow", "run", "agent", "model"]


class BudgetBody(BaseModel):
    """``PUT /api/v1/usage/budget``: monthly limits; null or absent means no limit."""

    model_config = ConfigDict(extra="forbid")

    token_limit: int | None = Field(
        None, ge=0, le=2**63 - 1, description="Tokens per calendar month (UTC)."
    )
    cost_limit: float | None = Field(None, ge=0, description="Cost per calendar month (UTC).")
    alert_ratio: float = Field(
        0.8, gt=0, le=1, description="Share of a limit past which the soft alert is raised."
    )


def _group_out(group_by: str, row: dict[str, Any]) -> dict[str, Any]:
    key = {
        "workspace": {"workspace_id": row.get("workspace_id")},
        "workflow": {"workflow_id": row.get("workflow_id"), "workflow": row.get("workflow_name")},
        "run": {"run_id": row.get("run_id")},
        "agent": {"agent_id": row.get("agent_id")},
        "model": {"model": row.get("model")},
    }[group_by]
    prompt, completion = int(row["prompt_tokens"] or 0), int(row["completion_tokens"] or 0)
    return {
        **key,
        "steps": int(row["steps"]),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cost": round(float(row["cost"] or 0.0), 6),
    }


@router.get("")
async def get_usage(
    engine: EngineDep,
    principal: RunsRead,
    group_by: GroupBy = "workflow",
    since: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="At or after; ISO 8601 with a time zone."),
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(alias="to", description="Before; ISO 8601 with a time zone.")
    ] = None,
) -> dict[str, Any]:
    """LLM usage of the workspace summed per group, largest cost first, with the total."""
    rows = await engine.agents.usage.summary(
        workspace_id=principal.workspace_id, group_by=group_by, since=since, until=until
    )
    items = [_group_out(group_by, row) for row in rows]
    total = {
        name: sum(item[name] for item in items)
        for name in ("steps", "prompt_tokens", "completion_tokens", "total_tokens")
    }
    total["cost"] = round(sum(item["cost"] for item in items), 6)
    return {"group_by": group_by, "items": items, "total": total}


@router.get("/budget")
async def get_budget(engine: EngineDep, principal: WorkspaceRead) -> dict[str, Any]:
    """The workspace's monthly limits and what it spent this month."""
    status = await engine.agents.usage.budget(workspace_id=principal.workspace_id)
    return status.to_dict()


@router.put("/budget")
async def set_budget(
    body: BudgetBody, engine: EngineDep, principal: WorkspaceWrite, request: Request
) -> dict[str, Any]:
    """Replace the monthly limits. Past a limit, new LLM steps fail with ``budget_exceeded``."""
    status = await engine.agents.usage.set_budget(
        workspace_id=principal.workspace_id,
        token_limit=body.token_limit,
        cost_limit=body.cost_limit,
        alert_ratio=body.alert_ratio,
    )
    await audit(
        request,
        principal,
        action="usage.budget_change",
        target_type="workspace",
        target_id=principal.workspace_id,
        details=body.model_dump(),
    )
    return status.to_dict()
