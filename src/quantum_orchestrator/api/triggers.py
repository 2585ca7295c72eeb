"""Triggers of a workflow: schedules, webhooks and run-completion triggers.

``/api/v1/workflows/{ref}/triggers`` creates and lists a workflow's triggers;
``/api/v1/triggers/{trigger_id}`` reads, pauses, resumes, deletes one and rotates a webhook's
secret; ``/api/v1/schedules/{trigger_id}/preview`` lists a schedule's next fire times. A
webhook's secret is in the answer once (creation, rotation) and never again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import Field

from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import EngineDep, SettingsDep, WorkflowsRead, WorkflowsWrite
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.api.schemas import Strict
from quantum_orchestrator.domain.auth import Principal
from quantum_orchestrator.domain.errors import InvalidInputError
from quantum_orchestrator.domain.triggers import (
    MAX_CATCH_UP,
    PREVIEW_COUNT,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    TriggerKind,
    TriggerState,
)
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.settings import Settings

router = APIRouter(prefix="/api/v1", tags=["triggers"], route_class=JsonRoute)

TriggerId = Annotated[str, Path(max_length=64)]
Row = dict[str, Any]


class ScheduleBody(Strict):
    """When a schedule fires: ``cron`` (in ``timezone``) or ``interval`` seconds."""

    cron: str | None = Field(None, max_length=200, examples=["0 9 * * 1-5"])
    interval: float | None = Field(None, ge=1, le=366 * 86_400)
    timezone: str = Field("UTC", max_length=64, examples=["Europe/Paris"])
    misfire: Literal["skip", "catch_up"] = "skip"
    catch_up: int = Field(1, ge=0, le=MAX_CATCH_UP)
    grace: float = Field(60.0, ge=0, le=86_400)


class TriggerBody(Strict):
    """A new trigger: ``schedule`` needs ``schedule``, ``run_completion`` needs ``source``."""

    kind: Literal["schedule", "webhook", "run_completion"]
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")
    inputs: dict[str, Any] = Field(default_factory=dict)
    schedule: ScheduleBody | None = None
    source: str | None = Field(None, max_length=100, description="The watched workflow.")
    states: list[Literal["succeeded", "failed", "cancelled"]] | None = Field(
        None, max_length=3, description="Terminal states of the source run that fire."
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def trigger_out(row: Row, *, secret: str | None = None) -> Row:
    """A trigger as the API answers it; ``secret`` only right after creation or rotation."""
    data: Row = {
        "id": row["id"],
        "workflow_id": row["workflow_id"],
        "kind": row["kind"],
        "name": row["name"],
        "config": row["config"],
        "inputs": row["inputs"],
        "state": row["state"],
        "next_fire_at": _iso(row["next_fire_at"]),
        "last_fire_at": _iso(row["last_fire_at"]),
        "created_by": row["created_by"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }
    if row["kind"] == TriggerKind.WEBHOOK:
        data["hook_url"] = f"/api/v1/hooks/{row['id']}"
        data["signature_headers"] = [TIMESTAMP_HEADER, SIGNATURE_HEADER]
    if secret is not None:
        data["secret"] = secret
    return data


def _config(body: TriggerBody) -> dict[str, Any]:
    if body.kind == "schedule":
        if body.schedule is None:
            raise InvalidInputError("a schedule trigger needs `schedule`")
        return body.schedule.model_dump()
    if body.kind == "run_completion":
        return {"source": body.source, "states": body.states}
    return {}


@router.post("/workflows/{ref}/triggers", status_code=201)
async def create_trigger(
    ref: str, body: TriggerBody, engine: EngineDep, principal: WorkflowsWrite, request: Request
) -> Row:
    """Create a trigger; a webhook's ``secret`` is shown in this answer only."""
    row, secret = await engine.triggers.create(
        workspace_id=principal.workspace_id,
        ref=ref,
        kind=TriggerKind(body.kind),
        name=body.name,
        config=_config(body),
        inputs=body.inputs,
        created_by=principal.subject,
    )
    await audit(
        request,
        principal,
        action="trigger.create",
        target_type="trigger",
        target_id=row["id"],
        # The body, never the secret: it exists only in the answer.
        change=body.model_dump(mode="json"),
        details={"name": row["name"], "kind": row["kind"], "workflow_id": row["workflow_id"]},
    )
    return trigger_out(row, secret=secret)


KindQuery = Annotated[TriggerKind | None, Query()]
LimitQuery = Annotated[int, Query(ge=1, le=10_000)]
CursorQuery = Annotated[str | None, Query(max_length=500)]


@router.get("/workflows/{ref}/triggers")
async def list_workflow_triggers(
    ref: str,
    engine: EngineDep,
    principal: WorkflowsRead,
    settings: SettingsDep,
    kind: KindQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Row:
    """A workflow's triggers, oldest first (paginated)."""
    return await _page(engine, principal, settings, kind, limit, cursor, ref=ref)


@router.get("/triggers")
async def list_triggers(
    engine: EngineDep,
    principal: WorkflowsRead,
    settings: SettingsDep,
    kind: KindQuery = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Row:
    """Every trigger of the workspace, oldest first (paginated)."""
    return await _page(engine, principal, settings, kind, limit, cursor, ref=None)


async def _page(
    engine: Engine,
    principal: Principal,
    settings: Settings,
    kind: TriggerKind | None,
    limit: int,
    cursor: str | None,
    *,
    ref: str | None,
) -> Row:
    page = await engine.triggers.page(
        workspace_id=principal.workspace_id,
        ref=ref,
        kind=kind.value if kind else None,
        limit=page_limit(limit, settings),
        cursor=cursor,
    )
    return {"items": [trigger_out(row) for row in page.items], "next_cursor": page.next_cursor}


@router.get("/triggers/{trigger_id}")
async def get_trigger(trigger_id: TriggerId, engine: EngineDep, principal: WorkflowsRead) -> Row:
    """One trigger."""
    row = await engine.triggers.get(workspace_id=principal.workspace_id, trigger_id=trigger_id)
    return trigger_out(row)


async def _set_state(
    request: Request, engine: Engine, principal: Principal, trigger_id: str, state: TriggerState
) -> Row:
    row = await engine.triggers.set_state(
        workspace_id=principal.workspace_id, trigger_id=trigger_id, state=state
    )
    await audit(
        request,
        principal,
        action="trigger.pause" if state is TriggerState.PAUSED else "trigger.resume",
        target_type="trigger",
        target_id=trigger_id,
        change={"state": state.value},
        details={"name": row["name"], "kind": row["kind"]},
    )
    return trigger_out(row)


@router.post("/triggers/{trigger_id}/pause")
async def pause_trigger(
    trigger_id: TriggerId, engine: EngineDep, principal: WorkflowsWrite, request: Request
) -> Row:
    """Stop firing until resumed (409 when already paused)."""
    return await _set_state(request, engine, principal, trigger_id, TriggerState.PAUSED)


@router.post("/triggers/{trigger_id}/resume")
async def resume_trigger(
    trigger_id: TriggerId, engine: EngineDep, principal: WorkflowsWrite, request: Request
) -> Row:
    """Fire again; a schedule starts from now, what it missed while paused is not fired."""
    return await _set_state(request, engine, principal, trigger_id, TriggerState.ACTIVE)


@router.delete("/triggers/{trigger_id}", status_code=204)
async def delete_trigger(
    trigger_id: TriggerId, engine: EngineDep, principal: WorkflowsWrite, request: Request
) -> Response:
    """Remove a trigger; the runs it started stay."""
    await engine.triggers.delete(workspace_id=principal.workspace_id, trigger_id=trigger_id)
    await audit(
        request, principal, action="trigger.delete", target_type="trigger", target_id=trigger_id
    )
    return Response(status_code=204)


@router.post("/triggers/{trigger_id}/rotate-secret")
async def rotate_trigger_secret(
    trigger_id: TriggerId, engine: EngineDep, principal: WorkflowsWrite, request: Request
) -> Row:
    """A new signing secret for a webhook (in this answer only); the old one stops at once."""
    row, secret = await engine.triggers.rotate_secret(
        workspace_id=principal.workspace_id, trigger_id=trigger_id
    )
    await audit(
        request,
        principal,
        action="trigger.rotate_secret",
        target_type="trigger",
        target_id=trigger_id,
        details={"name": row["name"]},
    )
    return trigger_out(row, secret=secret)


@router.get("/schedules/{trigger_id}/preview")
async def preview_schedule(
    trigger_id: TriggerId,
    engine: EngineDep,
    principal: WorkflowsRead,
    count: Annotated[int, Query(ge=1, le=100)] = PREVIEW_COUNT,
) -> Row:
    """The schedule's next fire times (ISO 8601, UTC), ten unless ``count`` says otherwise."""
    fires = await engine.triggers.preview(
        workspace_id=principal.workspace_id, trigger_id=trigger_id, count=count
    )
    return {"trigger_id": trigger_id, "fire_times": [fire.isoformat() for fire in fires]}
