"""``/api/v1/secrets``: workspace secrets. Values go in; only names and timestamps come out."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import EngineDep, SecretsRead, SecretsWrite, SettingsDep
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.api.schemas import SecretBody, SecretValueBody, secret_out
from quantum_orchestrator.domain.secrets import NAME_PATTERN

router = APIRouter(prefix="/api/v1/secrets", tags=["secrets"], route_class=JsonRoute)

SecretName = Annotated[str, Path(pattern=NAME_PATTERN, description="The secret's name.")]


@router.post("", status_code=201)
async def create_secret(
    body: SecretBody, engine: EngineDep, principal: SecretsWrite, request: Request
) -> dict[str, Any]:
    """Store a new secret (409 if the name is taken); answers its name and timestamps."""
    row = await engine.secrets.create(
        workspace_id=principal.workspace_id, name=body.name, value=body.value
    )
    # The value never reaches the log, not even hashed: a digest of a short value is guessable.
    await audit(
        request, principal, action="secret.create", target_type="secret", target_id=body.name
    )
    return secret_out(row)


@router.get("")
async def list_secrets(
    engine: EngineDep,
    principal: SecretsRead,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """The workspace's secrets by name: names and timestamps, never values."""
    page = await engine.secrets.page(
        workspace_id=principal.workspace_id, limit=page_limit(limit, settings), cursor=cursor
    )
    return {"items": [secret_out(row) for row in page.items], "next_cursor": page.next_cursor}


@router.put("/{name}")
async def update_secret(
    name: SecretName,
    body: SecretValueBody,
    engine: EngineDep,
    principal: SecretsWrite,
    request: Request,
) -> dict[str, Any]:
    """Replace a secret's value (404 if there is no such secret)."""
    row = await engine.secrets.update(
        workspace_id=principal.workspace_id, name=name, value=body.value
    )
    await audit(request, principal, action="secret.update", target_type="secret", target_id=name)
    return secret_out(row)


@router.delete("/{name}", status_code=204)
async def delete_secret(
    name: SecretName, engine: EngineDep, principal: SecretsWrite, request: Request
) -> Response:
    """Remove a secret (404 if there is none). Steps already queued with it fail when claimed."""
    await engine.secrets.delete(workspace_id=principal.workspace_id, name=name)
    await audit(request, principal, action="secret.delete", target_type="secret", target_id=name)
    return Response(status_code=204)
