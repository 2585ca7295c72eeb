"""Workspaces and their members: creation, invitations, roles, the SSRF allow-list."""

from __future__ import annotations

import ipaddress
import re
import secrets
from typing import Any

from quantum_orchestrator.domain.auth import (
    ROLE_RANK,
    PermissionDeniedError,
    Principal,
    Role,
    normalize_email,
    role_at_most,
)
from quantum_orchestrator.domain.errors import ConflictError, InvalidInputError, NotFoundError
from quantum_orchestrator.engine.accounts import AccountService
from quantum_orchestrator.engine.unit import UnitOfWork
from quantum_orchestrator.store.pagination import Page
from quantum_orchestrator.store.types import new_id

Row = dict[str, Any]


# Workspace ids are 32 hex digits; a slug spelled like one could pass for another workspace.
_ID_LIKE = re.compile(r"[0-9a-f]{32}")


def slugify(name: str) -> str:
    """A URL-friendly form of a workspace name (never one that reads as a workspace id)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    if _ID_LIKE.fullmatch(slug):
        slug = f"ws-{slug}"
    return slug or "workspace"


class WorkspaceService:
    """Workspaces, memberships and roles."""

    def __init__(self, *, uow: UnitOfWork, accounts: AccountService) -> None:
        self._uow = uow
        self._accounts = accounts

    async def create(self, *, user_id: str, name: str) -> Row:
        """A new workspace owned by ``user_id``; its slug is made from the name."""
        repos = self._uow.repos
        base = slugify(name)
        async with self._uow.write() as tx:
            row: Row = {}
            for attempt in range(5):
                slug = base if attempt == 0 else f"{base}-{secrets.token_hex(3)}"
                row = {
                    "id": new_id(),
                    "slug": slug,
                    "name": name,
                    "http_allow": [],
                    "created_at": tx.now,
                }
                try:
                    await repos.workspaces.insert(tx.conn, row)
                    break
                except ConflictError:
                    continue
            else:
                raise ConflictError(f"could not find a free slug for {name!r}; try another name")
            await repos.workspaces.add_member(
                tx.conn,
                {
                    "workspace_id": row["id"],
                    "user_id": user_id,
                    "role": Role.OWNER.value,
                    "created_at": tx.now,
                },
            )
        return {**row, "role": Role.OWNER.value}

    async def list_for(self, *, user_id: str) -> list[Row]:
        """The workspaces a user belongs to, with the user's role in each."""
        async with self._uow.read() as conn:
            return await self._uow.repos.workspaces.for_user(conn, user_id)

    async def page_for(self, *, user_id: str, limit: int, cursor: str | None) -> Page:
        """One page of the workspaces a user belongs to, oldest membership first."""
        async with self._uow.read() as conn:
            return await self._uow.repos.workspaces.page_for_user(
                conn, user_id=user_id, limit=limit, cursor=cursor
            )

    async def get(self, *, workspace_id: str) -> Row:
        """A workspace, or ``NotFoundError``."""
        async with self._uow.read() as conn:
            row = await self._uow.repos.workspaces.get(conn, workspace_id)
        if row is None:
            raise NotFoundError(f"workspace {workspace_id} not found")
        return row

    async def members(self, *, workspace_id: str) -> list[Row]:
        """The workspace's members and their roles."""
        async with self._uow.read() as conn:
            return await self._uow.repos.workspaces.members(conn, workspace_id)

    async def members_page(self, *, workspace_id: str, limit: int, cursor: str | None) -> Page:
        """One page of the workspace's members, oldest membership first."""
        async with self._uow.read() as conn:
            return await self._uow.repos.workspaces.members_page(
                conn, workspace_id=workspace_id, limit=limit, cursor=cursor
            )

    async def add_member(
        self,
        *,
        actor: Principal,
        email: str,
        role: Role,
        password: str | None = None,
        name: str = "",
    ) -> Row:
        """Add a user to the actor's workspace with ``role`` (no higher than the actor's).

        A user without an account gets one when ``password`` is given; else 404 says so.
        """
        assert actor.role is not None  # noqa: S101 - routes give only members this permission
        role_at_most(role, actor.role, what="a member you add")
        email = normalize_email(email)
        user = await self._accounts.user_by_email(email)
        if user is None:
            if password is None:
                raise NotFoundError(
                    f"no user has the e-mail {email!r}: send a password to create the account"
                )
            user = await self._accounts.create_user(email=email, password=password, name=name)
        repos = self._uow.repos
        async with self._uow.write() as tx:
            await repos.workspaces.add_member(
                tx.conn,
                {
                    "workspace_id": actor.workspace_id,
                    "user_id": user["id"],
                    "role": role.value,
                    "created_at": tx.now,
                },
            )
        return {
            "user_id": user["id"],
            "email": user["email"],
            "name": user["name"],
            "role": role.value,
            "created_at": tx.now,
        }

    async def _member(self, conn: Any, workspace_id: str, user_id: str) -> Row:
        for member in await self._uow.repos.workspaces.members(conn, workspace_id):
            if member["user_id"] == user_id:
                return member
        raise NotFoundError(f"user {user_id} is not a member of this workspace")

    def _may_manage(self, actor: Principal, member: Row) -> None:
        assert actor.role is not None  # noqa: S101 - routes give only members this permission
        if ROLE_RANK[Role(member["role"])] > ROLE_RANK[actor.role]:
            raise PermissionDeniedError("you cannot change a member whose role is above yours")

    async def set_role(self, *, actor: Principal, user_id: str, role: Role) -> Row:
        """Change a member's role; the last owner keeps the workspace."""
        assert actor.role is not None  # noqa: S101 - routes give only members this permission
        role_at_most(role, actor.role, what="a member")
        repos = self._uow.repos
        async with self._uow.write() as tx:
            member = await self._member(tx.conn, actor.workspace_id, user_id)
            self._may_manage(actor, member)
            await self._keep_an_owner(tx.conn, actor.workspace_id, member, role)
            await repos.workspaces.set_role(
                tx.conn, workspace_id=actor.workspace_id, user_id=user_id, role=role.value
            )
        return {**member, "role": role.value}

    async def remove_member(self, *, actor: Principal, user_id: str) -> None:
        """End a membership; the last owner cannot leave."""
        repos = self._uow.repos
        async with self._uow.write() as tx:
            member = await self._member(tx.conn, actor.workspace_id, user_id)
            self._may_manage(actor, member)
            await self._keep_an_owner(tx.conn, actor.workspace_id, member, None)
            await repos.workspaces.remove_member(
                tx.conn, workspace_id=actor.workspace_id, user_id=user_id
            )

    async def _keep_an_owner(
        self, conn: Any, workspace_id: str, member: Row, new_role: Role | None
    ) -> None:
        if member["role"] != Role.OWNER.value or new_role == Role.OWNER:
            return
        owners = await self._uow.repos.workspaces.count_role(
            conn, workspace_id=workspace_id, role=Role.OWNER.value
        )
        if owners <= 1:
            raise ConflictError("a workspace needs an owner: make someone else owner first")

    async def set_http_allow(self, *, workspace_id: str, networks: list[str]) -> Row:
        """Replace the networks the workspace's HTTP steps may reach although private."""
        cleaned: list[str] = []
        for index, network in enumerate(networks):
            try:
                cleaned.append(str(ipaddress.ip_network(network, strict=False)))
            except ValueError:
                raise InvalidInputError(
                    f"http_allow[{index}]: {network!r} is not an IP network such as 10.0.0.0/8"
                ) from None
        async with self._uow.write() as tx:
            await self._uow.repos.workspaces.set_http_allow(
                tx.conn, workspace_id=workspace_id, networks=cleaned
            )
        return await self.get(workspace_id=workspace_id)
