"""``/api/v1/api-keys`` and ``/api/v1/agent-tokens``: credentials for programs and agents.

A key or token is in the answer once (creation, rotation) and never again: only its hash is
kept. Revocation takes effect on the next request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from quantum_orchestrator.api.account_schemas import (
    AgentTokenBody,
    ApiKeyBody,
    RotateBody,
    agent_token_out,
    api_key_out,
)
from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import EngineDep, KeysRead, KeysWrite, SettingsDep
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute

router = APIRouter(tags=["keys"], route_class=JsonRoute)

KeyId = Annotated[str, Path(max_length=64)]


@router.post("/api/v1/api-keys", status_code=201)
async def create_api_key(
    body: ApiKeyBody, principal: KeysWrite, engine: EngineDep, request: Request
) -> dict[str, Any]:
    """A new API key for this workspace; ``key`` is shown only in this answer."""
    issued = await engine.keys.create_api_key(
        actor=principal, name=body.name, role=body.role, expires_at=body.expires_at
    )
    # The body, never the key: the key exists only in the answer.
    await audit(
        request,
        principal,
        action="api_key.create",
        target_type="api_key",
        target_id=issued.row["id"],
        change=body.model_dump(mode="json"),
        details={"name": body.name, "role": body.role.value},
    )
    return api_key_out(issued.row, issued.key)


@router.get("/api/v1/api-keys")
async def list_api_keys(
    principal: KeysRead,
    engine: EngineDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """The workspace's API keys that still work, newest first (never the keys themselves)."""
    page = await engine.keys.page_api_keys(
        workspace_id=principal.workspace_id, limit=page_limit(limit, settings), cursor=cursor
    )
    return {"items": [api_key_out(row) for row in page.items], "next_cursor": page.next_cursor}


@router.post("/api/v1/api-keys/{key_id}/rotate", status_code=201)
async def rotate_api_key(
    key_id: KeyId,
    principal: KeysWrite,
    engine: EngineDep,
    settings: SettingsDep,
    request: Request,
    body: RotateBody | None = None,
) -> dict[str, Any]:
    """A new key replacing ``key_id``; the old one works for the grace period, then expires."""
    hours = body.grace_hours if body and body.grace_hours is not None else None
    grace = timedelta(hours=settings.auth.api_key_grace_hours if hours is None else hours)
    issued = await engine.keys.rotate_api_key(actor=principal, key_id=key_id, grace=grace)
    await audit(
        request,
        principal,
        action="api_key.rotate",
        target_type="api_key",
        target_id=key_id,
        change={"grace_seconds": int(grace.total_seconds())},
        details={"new_key_id": issued.row["id"], "name": issued.row["name"]},
    )
    return api_key_out(issued.row, issued.key)


@router.delete("/api/v1/api-keys/{key_id}", status_code=204)
async def revoke_api_key(
    key_id: KeyId, principal: KeysWrite, engine: EngineDep, request: Request
) -> Response:
    """Revoke an API key now."""
    await engine.keys.revoke_api_key(workspace_id=principal.workspace_id, key_id=key_id)
    await audit(
        request, principal, action="api_key.revoke", target_type="api_key", target_id=key_id
    )
    return Response(status_code=204)


@router.post("/api/v1/agent-tokens", status_code=201)
async def create_agent_token(
    body: AgentTokenBody, principal: KeysWrite, engine: EngineDep, request: Request
) -> dict[str, Any]:
    """A token for agents of one pool in this workspace; ``token`` is shown only here."""
    issued = await engine.keys.create_agent_token(
        actor=principal, name=body.name, pool=body.pool, expires_at=body.expires_at
    )
    await audit(
        request,
        principal,
        action="agent_token.create",
        target_type="agent_token",
        target_id=issued.row["id"],
        change=body.model_dump(mode="json"),
        details={"name": body.name, "pool": body.pool},
    )
    return agent_token_out(issued.row, issued.key)


@router.get("/api/v1/agent-tokens")
async def list_agent_tokens(
    principal: KeysRead,
    engine: EngineDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """The workspace's agent tokens that still work, newest first."""
    page = await engine.keys.page_agent_tokens(
        workspace_id=principal.workspace_id, limit=page_limit(limit, settings), cursor=cursor
    )
    return {
        "items": [agent_token_out(row) for row in page.items],
        "next_cursor": page.next_cursor,
    }


@router.delete("/api/v1/agent-tokens/{token_id}", status_code=204)
async def revoke_agent_token(
    token_id: KeyId, principal: KeysWrite, engine: EngineDep, request: Request
) -> Response:
    """Revoke an agent token now."""
    await engine.keys.revoke_agent_token(workspace_id=principal.workspace_id, token_id=token_id)
    await audit(
        request,
        principal,
        action="agent_token.revoke",
        target_type="agent_token",
        target_id=token_id,
    )
    return Response(status_code=204)
