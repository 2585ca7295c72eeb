"""``POST /api/v1/hooks/{hook_id}``: a workflow's webhook, authenticated by its signature only.

The sender signs ``timestamp + "." + body`` with HMAC-SHA256 and the hook's secret
(``X-QO-Timestamp``, ``X-QO-Signature: sha256=<hex>``, see docs/triggers.md). Requests older
than five minutes or badly signed are refused (401) and audited. The JSON body, checked
against the workflow's input schema, becomes the run's inputs.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import EngineDep, client_address
from quantum_orchestrator.api.ratelimit import RateLimiter
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.domain.audit import Actor
from quantum_orchestrator.domain.states import RunState
from quantum_orchestrator.domain.triggers import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookSignatureError,
)

router = APIRouter(prefix="/api/v1/hooks", tags=["hooks"], route_class=JsonRoute)

# Longer waits would hold a connection open past the request timeout: poll the run instead.
MAX_WAIT = 30.0


@router.post("/{hook_id}", status_code=202)
async def receive_hook(
    hook_id: Annotated[str, Path(max_length=64)],
    request: Request,
    response: Response,
    engine: EngineDep,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0,
) -> dict[str, Any]:
    """Start a run from a signed delivery: 202 with the run id, or with ``?wait=N`` 200 and
    the run's outputs when it ends within N seconds (202 if it has not)."""
    hook = await engine.triggers.hook(hook_id)
    body = await request.body()
    sender = Actor.anonymous(f"webhook:{hook_id}")
    try:
        run, created = await engine.triggers.receive_webhook(
            hook=hook,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER),
            body=body,
        )
    except WebhookSignatureError as exc:
        await audit(
            request,
            sender,
            action="webhook.rejected",
            target_type="trigger",
            target_id=hook_id,
            workspace_id=hook["workspace_id"],
            outcome="failure",
            details={"reason": exc.message},
        )
        limiter: RateLimiter | None = request.app.state.rate_limiter
        if limiter is not None:
            # Like bad credentials elsewhere: signature guessing spends the address's budget.
            address_key = f"address:{client_address(request)}"
            limiter.check(address_key, what="requests without valid credentials")
            limiter.spend(address_key)
        raise
    if created:
        await audit(
            request,
            sender,
            action="webhook.receive",
            target_type="run",
            target_id=run["id"],
            workspace_id=hook["workspace_id"],
            change={"trigger_id": hook_id, "inputs": run["inputs"]},
            details={"trigger_id": hook_id, "workflow": run["workflow_name"]},
        )
    if wait > 0:
        run = await engine.triggers.wait_for_run(
            workspace_id=hook["workspace_id"], run_id=run["id"], timeout=wait
        )
    answer: dict[str, Any] = {"run_id": run["id"], "state": run["state"], "created": created}
    if RunState(run["state"]).terminal:
        response.status_code = 200
        answer["outputs"] = run["outputs"]
        answer["error"] = run["error"]
    return answer
