"""Approvals: deciding a ``core.approval`` step, and the list of those waiting for a decision."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field

from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import EngineDep, RunsRead, RunsWrite, SettingsDep
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.api.schemas import Strict
from quantum_orchestrator.domain.auth import Principal
from quantum_orchestrator.domain.control import Decision
from quantum_orchestrator.engine.engine import Engine

router = APIRouter(prefix="/api/v1", tags=["approvals"], route_class=JsonRoute)


class DecisionBody(Strict):
    """Why the approval is decided this way."""

    comment: str | None = Field(None, max_length=10_000, description="Why; kept and audited.")


def _approval_out(row: dict[str, Any]) -> dict[str, Any]:
    params = row["params"] or {}
    return {
        "run_id": row["run_id"],
        "node_id": row["node_id"],
        "step_id": row["id"],
        "workflow_name": row["workflow_name"],
        "version": row["version"],
        "message": params.get("message"),
        "state": "pending",
        "waiting_since": row["started_at"].isoformat() if row["started_at"] else None,
        "timeout_at": row["wake_at"].isoformat() if row["wake_at"] else None,
        "default_decision": params.get("default_decision", "rejected")
        if params.get("timeout") is not None
        else None,
    }


async def _decide(
    engine: Engine,
    principal: Principal,
    request: Request,
    *,
    run_id: str,
    node_id: str,
    decision: Decision,
    body: DecisionBody,
) -> dict[str, Any]:
    record = await engine.approvals.decide(
        workspace_id=principal.workspace_id,
        run_id=run_id,
        node_id=node_id,
        decision=decision,
        comment=body.comment,
        decided_by=principal.label,
        decided_by_id=principal.user_id or principal.subject,
    )
    await audit(
        request,
        principal,
        action=f"approval.{'approve' if decision == 'approved' else 'reject'}",
        target_type="run",
        target_id=run_id,
        change=record,
        details={"node_id": node_id, "decision": decision, "comment": body.comment},
    )
    return {"run_id": run_id, "node_id": node_id, **record}


@router.post("/runs/{run_id}/steps/{node_id}/approve")
async def approve_step(
    run_id: str,
    node_id: str,
    body: DecisionBody,
    engine: EngineDep,
    principal: RunsWrite,
    request: Request,
) -> dict[str, Any]:
    """Approve a waiting ``core.approval`` step: it succeeds and the run goes on."""
    return await _decide(
        engine,
        principal,
        request,
        run_id=run_id,
        node_id=node_id,
        decision="approved",
        body=body,
    )


@router.post("/runs/{run_id}/steps/{node_id}/reject")
async def reject_step(
    run_id: str,
    node_id: str,
    body: DecisionBody,
    engine: EngineDep,
    principal: RunsWrite,
    request: Request,
) -> dict[str, Any]:
    """Reject a waiting ``core.approval`` step: it fails (not retryable)."""
    return await _decide(
        engine,
        principal,
        request,
        run_id=run_id,
        node_id=node_id,
        decision="rejected",
        body=body,
    )


@router.get("/approvals")
async def list_approvals(
    engine: EngineDep,
    principal: RunsRead,
    settings: SettingsDep,
    state: Annotated[Literal["pending"], Query(description="Only `pending` is kept.")] = "pending",
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """The approvals of the workspace waiting for a decision, oldest first."""
    page = await engine.approvals.pending_page(
        workspace_id=principal.workspace_id, limit=page_limit(limit, settings), cursor=cursor
    )
    return {"items": [_approval_out(row) for row in page.items], "next_cursor": page.next_cursor}
