"""Workspaces (tenants) and memberships (a user, a workspace, a role)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.errors import ConflictError
from quantum_orchestrator.store.pagination import Page, SortKey, cursor_datetime, keyset_page
from quantum_orchestrator.store.tables import memberships, users, workspaces

Row = dict[str, Any]


class WorkspaceStore:
    """Reads and writes of ``workspaces`` and ``memberships``."""

    async def insert(self, conn: AsyncConnection, row: Row) -> None:
        """Add a workspace; ``ConflictError`` when the slug is taken."""
        try:
            async with conn.begin_nested():
                await conn.execute(workspaces.insert().values(**row))
        except IntegrityError:
            raise ConflictError(f"a workspace with the slug {row['slug']!r} exists") from None

    async def get(self, conn: AsyncConnection, workspace_id: str) -> Row | None:
        """The workspace with this id, or None."""
        query = select(workspaces).where(workspaces.c.id == workspace_id)
        row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def set_http_allow(
        self, conn: AsyncConnection, *, workspace_id: str, networks: list[str]
    ) -> bool:
        """Replace the workspace's SSRF allow-list."""
        result = await conn.execute(
            update(workspaces).where(workspaces.c.id == workspace_id).values(http_allow=networks)
        )
        return bool(result.rowcount)

    async def http_allows(self, conn: AsyncConnection, ids: list[str]) -> dict[str, list[str]]:
        """The SSRF allow-list of each of these workspaces."""
        if not ids:
            return {}
        query = select(workspaces.c.id, workspaces.c.http_allow).where(workspaces.c.id.in_(ids))
        return {
            row["id"]: list(row["http_allow"] or [])
            for row in (await conn.execute(query)).mappings()
        }

    async def for_user(self, conn: AsyncConnection, user_id: str) -> list[Row]:
        """The workspaces a user belongs to, with the user's role, oldest membership first."""
        query = (
            select(workspaces, memberships.c.role)
            .join(memberships, memberships.c.workspace_id == workspaces.c.id)
            .where(memberships.c.user_id == user_id)
            .order_by(memberships.c.created_at, workspaces.c.id)
        )
        return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def page_for_user(
        self, conn: AsyncConnection, *, user_id: str, limit: int, cursor: str | None
    ) -> Page:
        """One page of ``for_user``: oldest membership first, keyed on (joined, workspace id)."""
        query = (
            select(workspaces, memberships.c.role, memberships.c.created_at.label("joined_at"))
            .join(memberships, memberships.c.workspace_id == workspaces.c.id)
            .where(memberships.c.user_id == user_id)
        )
        keys = (
            SortKey(column=memberships.c.created_at, field="joined_at", parse=cursor_datetime),
            SortKey(column=workspaces.c.id, field="id"),
        )
        page = await keyset_page(conn, query, keys=keys, limit=limit, cursor=cursor)
        items = [{k: v for k, v in row.items() if k != "joined_at"} for row in page.items]
        return Page(items=items, next_cursor=page.next_cursor)

    async def membership(
        self, conn: AsyncConnection, *, user_id: str, workspace: str | None
    ) -> Row | None:
        """The user's workspace (by id or slug; the first one when None) with the role.

        An id wins over a slug that happens to be spelled the same, whatever the order in which
        the user joined them.
        """
        query = (
            select(workspaces, memberships.c.role)
            .join(memberships, memberships.c.workspace_id == workspaces.c.id)
            .where(memberships.c.user_id == user_id)
        )
        order: list[Any] = [memberships.c.created_at, workspaces.c.id]
        if workspace is not None:
            query = query.where((workspaces.c.id == workspace) | (workspaces.c.slug == workspace))
            order.insert(0, case((workspaces.c.id == workspace, 0), else_=1))
        query = query.order_by(*order).limit(1)
        row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def add_member(self, conn: AsyncConnection, row: Row) -> None:
        """Add a membership; ``ConflictError`` when the user is already a member."""
        try:
            async with conn.begin_nested():
                await conn.execute(memberships.insert().values(**row))
        except IntegrityError:
            raise ConflictError("this user is already a member of the workspace") from None

    async def set_role(
        self, conn: AsyncConnection, *, workspace_id: str, user_id: str, role: str
    ) -> bool:
        """Change a member's role; False when the user is not a member."""
        result = await conn.execute(
            update(memberships)
            .where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id)
            .values(role=role)
        )
        return bool(result.rowcount)

    async def remove_member(
        self, conn: AsyncConnection, *, workspace_id: str, user_id: str
    ) -> bool:
        """End a membership; False when there was none."""
        result = await conn.execute(
            delete(memberships).where(
                memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
            )
        )
        return bool(result.rowcount)

    async def members(self, conn: AsyncConnection, workspace_id: str) -> list[Row]:
        """Members of the workspace with their e-mail and role."""
        query = (
            select(
                users.c.id.label("user_id"),
                users.c.email,
                users.c.name,
                memberships.c.role,
                memberships.c.created_at,
            )
            .join(memberships, memberships.c.user_id == users.c.id)
            .where(memberships.c.workspace_id == workspace_id)
            .order_by(memberships.c.created_at, users.c.id)
        )
        return [dict(row) for row in (await conn.execute(query)).mappings()]

    async def members_page(
        self, conn: AsyncConnection, *, workspace_id: str, limit: int, cursor: str | None
    ) -> Page:
        """One page of ``members``: oldest membership first, keyed on (joined, user id)."""
        query = (
            select(
                users.c.id.label("user_id"),
                users.c.email,
                users.c.name,
                memberships.c.role,
                memberships.c.created_at,
            )
            .join(memberships, memberships.c.user_id == users.c.id)
            .where(memberships.c.workspace_id == workspace_id)
        )
        keys = (
            SortKey(column=memberships.c.created_at, field="created_at", parse=cursor_datetime),
            SortKey(column=users.c.id, field="user_id"),
        )
        return await keyset_page(conn, query, keys=keys, limit=limit, cursor=cursor)

    async def count_role(self, conn: AsyncConnection, *, workspace_id: str, role: str) -> int:
        """How many members hold ``role``."""
        query = (
            select(func.count())
            .select_from(memberships)
            .where(memberships.c.workspace_id == workspace_id, memberships.c.role == role)
        )
        return int((await conn.execute(query)).scalar_one())
