"""``/api/v1/workflows``: drafts, validation, deployment, versions, and starting runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import (
    EngineDep,
    RunsWrite,
    SettingsDep,
    WorkflowsRead,
    WorkflowsWrite,
)
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.api.schemas import (
    RunBody,
    SpecBody,
    run_out,
    version_out,
    workflow_out,
    workflow_summary,
)

router = APIRouter(prefix="/api/v1/workflows", tags=["workflows"], route_class=JsonRoute)


@router.post("/validate")
async def validate_workflow(
    body: SpecBody, engine: EngineDep, principal: WorkflowsRead
) -> dict[str, Any]:
    """Check a spec without saving it: ``{"valid", "errors": [{path, message}]}``."""
    errors = await engine.workflows.check(workspace_id=principal.workspace_id, document=body.spec)
    return {"valid": not errors, "errors": errors}


@router.post("", status_code=201)
async def create_workflow(
    body: SpecBody, engine: EngineDep, principal: WorkflowsWrite, request: Request
) -> dict[str, Any]:
    """Create a workflow (a draft) from a valid spec."""
    row = await engine.workflows.create(workspace_id=principal.workspace_id, document=body.spec)
    await audit(
        request,
        principal,
        action="workflow.create",
        target_type="workflow",
        target_id=row["id"],
        change=body.spec,
        details={"name": row["name"]},
    )
    return workflow_out(row)


@router.get("")
async def list_workflows(
    engine: EngineDep,
    principal: WorkflowsRead,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    search: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    """Workflows by name, a page at a time."""
    page = await engine.workflows.page(
        workspace_id=principal.workspace_id,
        limit=page_limit(limit, settings),
        cursor=cursor,
        search=search,
    )
    return {"items": [workflow_summary(row) for row in page.items], "next_cursor": page.next_cursor}


@router.get("/{ref}")
async def get_workflow(ref: str, engine: EngineDep, principal: WorkflowsRead) -> dict[str, Any]:
    """One workflow by id or name."""
    return workflow_out(await engine.workflows.get(workspace_id=principal.workspace_id, ref=ref))


@router.put("/{ref}")
async def update_workflow(
    ref: str, body: SpecBody, engine: EngineDep, principal: WorkflowsWrite, request: Request
) -> dict[str, Any]:
    """Replace the draft's spec; deployed versions are not touched."""
    row = await engine.workflows.update(
        workspace_id=principal.workspace_id, ref=ref, document=body.spec
    )
    await audit(
        request,
        principal,
        action="workflow.update",
        target_type="workflow",
        target_id=row["id"],
        change=body.spec,
        details={"name": row["name"]},
    )
    return workflow_out(row)


@router.post("/{ref}/deploy", status_code=201)
async def deploy_workflow(
    ref: str, engine: EngineDep, principal: WorkflowsWrite, request: Request
) -> dict[str, Any]:
    """Freeze the draft as a new immutable version."""
    version = await engine.workflows.deploy(workspace_id=principal.workspace_id, ref=ref)
    await audit(
        request,
        principal,
        action="workflow.deploy",
        target_type="workflow",
        target_id=version["workflow_id"],
        # The digest proves which spec became this version.
        change={"version": version["number"], "spec": version["spec"]},
        details={
            "name": version.get("workflow_name"),
            "version": version["number"],
            "version_id": version["id"],
        },
    )
    return version_out(version)


@router.get("/{ref}/versions")
async def list_versions(
    ref: str,
    engine: EngineDep,
    principal: WorkflowsRead,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """A workflow's versions, newest first."""
    page = await engine.workflows.versions(
        workspace_id=principal.workspace_id,
        ref=ref,
        limit=page_limit(limit, settings),
        cursor=cursor,
    )
    return {"items": [version_out(row) for row in page.items], "next_cursor": page.next_cursor}


@router.get("/{ref}/versions/{number}")
async def get_version(
    ref: str,
    number: Annotated[int, Path(ge=1, le=2_147_483_647)],
    engine: EngineDep,
    principal: WorkflowsRead,
) -> dict[str, Any]:
    """One version by number."""
    row = await engine.workflows.version(
        workspace_id=principal.workspace_id, ref=ref, number=number
    )
    return version_out(row)


@router.post("/{ref}/runs", status_code=201)
async def start_run(
    ref: str,
    body: RunBody,
    response: Response,
    engine: EngineDep,
    principal: RunsWrite,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> dict[str, Any]:
    """Start a run; the answer means it is committed. A repeated ``Idempotency-Key`` answers
    the run it created the first time (200)."""
    run, created = await engine.runs.start(
        workspace_id=principal.workspace_id,
        ref=ref,
        inputs=body.inputs,
        version=body.version,
        idempotency_key=idempotency_key,
    )
    if not created:
        response.status_code = 200
    else:
        # A replayed Idempotency-Key starts nothing: only the first request is recorded.
        await audit(
            request,
            principal,
            action="run.start",
            target_type="run",
            target_id=run["id"],
            change={
                "workflow_id": run["workflow_id"],
                "version": run["version"],
                "inputs": body.inputs,
            },
            details={"workflow": run["workflow_name"], "version": run["version"]},
        )
    return run_out(run)
