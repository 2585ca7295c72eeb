"""``/api/v1/runs``: listing, reading, cancelling, retrying, and the live event stream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import EngineDep, RunsRead, RunsWrite, SettingsDep
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.api.schemas import event_out, log_line_out, run_out
from quantum_orchestrator.domain.states import RunState
from quantum_orchestrator.engine.engine import Engine

router = APIRouter(prefix="/api/v1/runs", tags=["runs"], route_class=JsonRoute)

_TERMINAL_EVENTS = {
    f"run.{state.value}" for state in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)
}
_KEEPALIVE_SECONDS = 15.0


@router.get("")
async def list_runs(
    engine: EngineDep,
    principal: RunsRead,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    workflow: Annotated[str | None, Query(max_length=100, description="Id or name.")] = None,
    state: RunState | None = None,
    created_after: Annotated[
        AwareDatetime | None, Query(description="ISO 8601 with a time zone.")
    ] = None,
    created_before: Annotated[
        AwareDatetime | None, Query(description="ISO 8601 with a time zone.")
    ] = None,
) -> dict[str, Any]:
    """Runs, newest first, filtered by workflow, state and creation time."""
    page = await engine.runs.page(
        workspace_id=principal.workspace_id,
        limit=page_limit(limit, settings),
        cursor=cursor,
        workflow=workflow,
        state=state.value if state else None,
        created_after=created_after,
        created_before=created_before,
    )
    return {"items": [run_out(row) for row in page.items], "next_cursor": page.next_cursor}


@router.get("/{run_id}")
async def get_run(
    run_id: str,
    engine: EngineDep,
    principal: RunsRead,
    steps: Annotated[
        bool, Query(description="Include the steps and their attempts (false: the run only).")
    ] = True,
) -> dict[str, Any]:
    """One run with its steps, attempts, timings, outputs and errors."""
    run = await engine.runs.get(
        workspace_id=principal.workspace_id, run_id=run_id, with_steps=steps
    )
    return run_out(run)


@router.get("/{run_id}/steps/{node_id}/logs")
async def step_logs(
    run_id: str,
    node_id: str,
    engine: EngineDep,
    principal: RunsRead,
    settings: SettingsDep,
    attempt: Annotated[
        int | None, Query(ge=1, le=2_147_483_647, description="One attempt (default: all).")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 200,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """What the step's handler logged through ``ctx.logger`` (INFO and above), oldest first.

    Lines arrive with the attempt's result; an agent killed mid-attempt takes its lines along.
    """
    page = await engine.runs.logs(
        workspace_id=principal.workspace_id,
        run_id=run_id,
        node_id=node_id,
        attempt=attempt,
        limit=page_limit(limit, settings),
        cursor=cursor,
    )
    return {"items": [log_line_out(row) for row in page.items], "next_cursor": page.next_cursor}


@router.post("/{run_id}/cancel")
async def cancel_run(
    run_id: str, engine: EngineDep, principal: RunsWrite, request: Request
) -> dict[str, Any]:
    """Cancel an active run."""
    run = await engine.runs.cancel(workspace_id=principal.workspace_id, run_id=run_id)
    await audit(
        request,
        principal,
        action="run.cancel",
        target_type="run",
        target_id=run["id"],
        details={"workflow": run["workflow_name"], "version": run["version"]},
    )
    return run_out(run)


@router.post("/{run_id}/retry")
async def retry_run(
    run_id: str, engine: EngineDep, principal: RunsWrite, request: Request
) -> dict[str, Any]:
    """Run again the failed (and cancelled, skipped) steps of a finished run."""
    run = await engine.runs.retry(workspace_id=principal.workspace_id, run_id=run_id)
    await audit(
        request,
        principal,
        action="run.retry",
        target_type="run",
        target_id=run["id"],
        details={"workflow": run["workflow_name"], "version": run["version"]},
    )
    return run_out(run)


@router.get(
    "/{run_id}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def run_events(
    run_id: str,
    engine: EngineDep,
    principal: RunsRead,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> StreamingResponse:
    """The run's timeline as Server-Sent Events: past events first, then live ones.

    The stream ends after the run's terminal event. ``Last-Event-ID`` (or ``after``) resumes.
    """
    run = await engine.runs.get(
        workspace_id=principal.workspace_id, run_id=run_id, with_steps=False
    )
    start = after if after is not None else _parse_id(last_event_id)
    return StreamingResponse(
        _stream(engine, workspace_id=principal.workspace_id, run_id=run["id"], after=start),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _parse_id(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0


def _frame(event: dict[str, Any]) -> str:
    return f"id: {event['id']}\nevent: {event['type']}\ndata: {json.dumps(event_out(event))}\n\n"


async def _stream(
    engine: Engine, *, workspace_id: str, run_id: str, after: int
) -> AsyncIterator[str]:
    last = after
    async with engine.bus.subscribe(run_id=run_id) as subscription:
        # Read whether the run had ended before the replay: its terminal event is then committed
        # and replayed below, unless the client resumes past it, when nothing more will come.
        run = await engine.runs.get(workspace_id=workspace_id, run_id=run_id, with_steps=False)
        ended = RunState(run["state"]).terminal
        # Replay from the database first; the subscription, opened before, catches anything
        # committed meanwhile (duplicates are dropped by id).
        while True:
            async with engine.uow.read() as conn:
                rows = await engine.uow.repos.events.for_run(conn, run_id=run_id, after=last)
            for row in rows:
                last = row["id"]
                yield _frame(row)
                if row["type"] in _TERMINAL_EVENTS:
                    return
            if len(rows) < 1000:
                break
        if ended:
            return
        while True:
            event = await subscription.get(_KEEPALIVE_SECONDS)
            if subscription.overflowed:
                subscription.overflowed = False
                async with engine.uow.read() as conn:
                    missed = await engine.uow.repos.events.for_run(conn, run_id=run_id, after=last)
                for row in missed:
                    last = row["id"]
                    yield _frame(row)
                    if row["type"] in _TERMINAL_EVENTS:
                        return
                continue
            if event is None:
                yield ": keep-alive\n\n"
                continue
            if event["id"] <= last:
                continue
            last = event["id"]
            yield _frame(event)
            if event["type"] in _TERMINAL_EVENTS:
                return
