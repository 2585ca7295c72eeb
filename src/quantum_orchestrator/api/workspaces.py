"""``/api/v1/workspaces``: tenants, their members and roles, their SSRF allow-list.

Routes under ``/workspaces/{id}`` act on the workspace named in the path: the caller's
membership there decides (as if ``X-QO-Workspace`` named it), and any other workspace is 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response

from quantum_orchestrator.api.account_schemas import (
    HttpAllowBody,
    MemberBody,
    RoleBody,
    WorkspaceBody,
    member_out,
    workspace_out,
)
from quantum_orchestrator.api.audit_trail import audit
from quantum_orchestrator.api.deps import (
    EngineDep,
    MembersRead,
    MembersWrite,
    SettingsDep,
    SignedIn,
    WorkspaceRead,
    WorkspaceWrite,
)
from quantum_orchestrator.api.paging import page_limit
from quantum_orchestrator.api.routing import JsonRoute
from quantum_orchestrator.domain.auth import Principal
from quantum_orchestrator.domain.errors import NotFoundError

router = APIRouter(prefix="/api/v1/workspaces", tags=["workspaces"], route_class=JsonRoute)

WorkspaceId = Annotated[str, Path(max_length=100, description="Workspace id or slug.")]
UserId = Annotated[str, Path(max_length=64)]


async def _same(principal: Principal, workspace_id: str, engine: EngineDep) -> None:
    # The principal was resolved for the workspace in the path; this guards that it stays so.
    if workspace_id == principal.workspace_id:
        return
    row = await engine.workspaces.get(workspace_id=principal.workspace_id)
    if row["slug"] != workspace_id:
        raise NotFoundError(f"workspace {workspace_id!r} not found")


@router.post("", status_code=201)
async def create_workspace(
    body: WorkspaceBody, principal: SignedIn, engine: EngineDep, request: Request
) -> dict[str, Any]:
    """A new workspace; the caller becomes its owner."""
    assert principal.user_id is not None  # noqa: S101 - SignedIn admits users only
    row = await engine.workspaces.create(user_id=principal.user_id, name=body.name)
    # Recorded in the new workspace, so its owners find how it began.
    await audit(
        request,
        principal,
        action="workspace.create",
        target_type="workspace",
        target_id=row["id"],
        workspace_id=row["id"],
        change=body.model_dump(mode="json"),
        details={"name": row["name"], "slug": row["slug"]},
    )
    return workspace_out(row)


@router.get("")
async def list_workspaces(
    principal: SignedIn,
    engine: EngineDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """The workspaces the caller belongs to, with the caller's role in each, oldest first."""
    assert principal.user_id is not None  # noqa: S101 - SignedIn admits users only
    page = await engine.workspaces.page_for(
        user_id=principal.user_id, limit=page_limit(limit, settings), cursor=cursor
    )
    return {"items": [workspace_out(row) for row in page.items], "next_cursor": page.next_cursor}


@router.get("/{workspace_id}")
async def get_workspace(
    workspace_id: WorkspaceId, principal: WorkspaceRead, engine: EngineDep
) -> dict[str, Any]:
    """One workspace."""
    await _same(principal, workspace_id, engine)
    row = await engine.workspaces.get(workspace_id=principal.workspace_id)
    return workspace_out({**row, "role": principal.role.value if principal.role else None})


@router.put("/{workspace_id}/http-allow")
async def set_http_allow(
    workspace_id: WorkspaceId,
    body: HttpAllowBody,
    principal: WorkspaceWrite,
    engine: EngineDep,
    request: Request,
) -> dict[str, Any]:
    """Private networks this workspace's HTTP steps may reach (owners only: it opens SSRF)."""
    await _same(principal, workspace_id, engine)
    row = await engine.workspaces.set_http_allow(
        workspace_id=principal.workspace_id, networks=body.networks
    )
    await audit(
        request,
        principal,
        action="workspace.http_allow_change",
        target_type="workspace",
        target_id=principal.workspace_id,
        change={"http_allow": row["http_allow"]},
        details={"http_allow": row["http_allow"]},
    )
    return workspace_out(row)


@router.get("/{workspace_id}/members")
async def list_members(
    workspace_id: WorkspaceId,
    principal: MembersRead,
    engine: EngineDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> dict[str, Any]:
    """The workspace's members and roles, oldest membership first."""
    await _same(principal, workspace_id, engine)
    page = await engine.workspaces.members_page(
        workspace_id=principal.workspace_id, limit=page_limit(limit, settings), cursor=cursor
    )
    return {"items": [member_out(row) for row in page.items], "next_cursor": page.next_cursor}


@router.post("/{workspace_id}/members", status_code=201)
async def add_member(
    workspace_id: WorkspaceId,
    body: MemberBody,
    principal: MembersWrite,
    engine: EngineDep,
    request: Request,
) -> dict[str, Any]:
    """Add a user by e-mail with a role no higher than the caller's."""
    await _same(principal, workspace_id, engine)
    row = await engine.workspaces.add_member(
        actor=principal, email=body.email, role=body.role, password=body.password, name=body.name
    )
    # The body without the password: it never reaches the log.
    await audit(
        request,
        principal,
        action="member.add",
        target_type="user",
        target_id=row["user_id"],
        change=body.model_dump(mode="json", exclude={"password"}),
        details={
            "email": row["email"],
            "role": row["role"],
            "account_created": body.password is not None,
        },
    )
    return member_out(row)


@router.put("/{workspace_id}/members/{user_id}")
async def set_member_role(
    workspace_id: WorkspaceId,
    user_id: UserId,
    body: RoleBody,
    principal: MembersWrite,
    engine: EngineDep,
    request: Request,
) -> dict[str, Any]:
    """Change a member's role."""
    await _same(principal, workspace_id, engine)
    row = await engine.workspaces.set_role(actor=principal, user_id=user_id, role=body.role)
    await audit(
        request,
        principal,
        action="member.role_change",
        target_type="user",
        target_id=user_id,
        change=body.model_dump(mode="json"),
        details={"email": row["email"], "role": row["role"]},
    )
    return member_out(row)


@router.delete("/{workspace_id}/members/{user_id}", status_code=204)
async def remove_member(
    workspace_id: WorkspaceId,
    user_id: UserId,
    principal: MembersWrite,
    engine: EngineDep,
    request: Request,
) -> Response:
    """Remove a member (the last owner stays)."""
    await _same(principal, workspace_id, engine)
    await engine.workspaces.remove_member(actor=principal, user_id=user_id)
    await audit(request, principal, action="member.remove", target_type="user", target_id=user_id)
    return Response(status_code=204)
