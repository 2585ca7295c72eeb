"""Workflows (editable drafts) and their immutable versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.errors import ConflictError, NotFoundError
from quantum_orchestrator.store.pagination import Page, SortKey, cursor_int, keyset_page
from quantum_orchestrator.store.tables import versions, workflows
from quantum_orchestrator.store.types import new_id

Row = dict[str, Any]


class WorkflowStore:
    """Reads and writes of ``workflows`` and ``versions``; every call is scoped by workspace."""

    async def create(
        self, conn: AsyncConnection, *, workspace_id: str, spec: dict[str, Any], now: datetime
    ) -> Row:
        """Insert a draft; a name taken in the workspace is a conflict."""
        row = {
            "id": new_id(),
            "workspace_id": workspace_id,
            "name": spec["name"],
            "description": spec.get("description", ""),
            "spec": spec,
            "latest_version": None,
            "created_at": now,
            "updated_at": now,
        }
        try:
            async with conn.begin_nested():
                await conn.execute(workflows.insert().values(**row))
        except IntegrityError:
            raise ConflictError(
                f"a workflow named {spec['name']!r} already exists: update it with PUT "
                f"/api/v1/workflows/{spec['name']}"
            ) from None
        return row

    async def get(self, conn: AsyncConnection, *, workspace_id: str, ref: str) -> Row:
        """One workflow by id or name."""
        result = await conn.execute(
            select(workflows).where(
                workflows.c.workspace_id == workspace_id,
                or_(workflows.c.id == ref, workflows.c.name == ref),
            )
        )
        row = result.mappings().first()
        if row is None:
            raise NotFoundError(f"no workflow {ref!r}")
        return dict(row)

    async def update_spec(
        self, conn: AsyncConnection, *, workflow_id: str, spec: dict[str, Any], now: datetime
    ) -> None:
        """Replace the draft's spec (the name may change when it stays unique)."""
        try:
            async with conn.begin_nested():
                await conn.execute(
                    update(workflows)
                    .where(workflows.c.id == workflow_id)
                    .values(
                        spec=spec,
                        name=spec["name"],
                        description=spec.get("description", ""),
                        updated_at=now,
                    )
                )
        except IntegrityError:
            raise ConflictError(f"another workflow is already named {spec['name']!r}") from None

    async def page(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        limit: int,
        cursor: str | None,
        search: str | None = None,
    ) -> Page:
        """Workflows by name, a page at a time."""
        query = select(workflows).where(workflows.c.workspace_id == workspace_id)
        if search:
            query = query.where(workflows.c.name.contains(search, autoescape=True))
        keys = (SortKey(column=workflows.c.name, field="name"),)
        return await keyset_page(conn, query, keys=keys, limit=limit, cursor=cursor)

    async def add_version(
        self, conn: AsyncConnection, *, workflow: Row, spec: dict[str, Any], now: datetime
    ) -> Row:
        """Freeze ``spec`` as the workflow's next version number."""
        number = (
            int(
                (
                    await conn.execute(
                        select(func.coalesce(func.max(versions.c.number), 0)).where(
                            versions.c.workflow_id == workflow["id"]
                        )
                    )
                ).scalar_one()
            )
            + 1
        )
        row = {
            "id": new_id(),
            "workflow_id": workflow["id"],
            "workspace_id": workflow["workspace_id"],
            "number": number,
            "spec": spec,
            "created_at": now,
        }
        await conn.execute(versions.insert().values(**row))
        await conn.execute(
            update(workflows)
            .where(workflows.c.id == workflow["id"])
            .values(latest_version=number, updated_at=now)
        )
        return {**row, "workflow_name": workflow["name"]}

    async def get_version(
        self, conn: AsyncConnection, *, workflow: Row, number: int | None, with_spec: bool = True
    ) -> Row:
        """A version by number, or the latest one (without its spec unless asked)."""
        target = number if number is not None else workflow["latest_version"]
        if target is None:
            raise NotFoundError(
                f"workflow {workflow['name']!r} has no deployed version: deploy it first "
                f"(POST /api/v1/workflows/{workflow['name']}/deploy or qo workflow deploy)",
                code="not_deployed",
            )
        row = (
            (
                await conn.execute(
                    (
                        select(versions)
                        if with_spec
                        else select(versions.c.id, versions.c.workflow_id, versions.c.number)
                    ).where(versions.c.workflow_id == workflow["id"], versions.c.number == target)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"workflow {workflow['name']!r} has no version {target}")
        return {**dict(row), "workflow_name": workflow["name"]}

    async def get_version_by_id(self, conn: AsyncConnection, version_id: str) -> Row:
        """A version by its id (plans are built from it)."""
        row = (
            (await conn.execute(select(versions).where(versions.c.id == version_id)))
            .mappings()
            .first()
        )
        if row is None:
            raise NotFoundError(f"no version {version_id!r}")
        return dict(row)

    async def list_versions(
        self, conn: AsyncConnection, *, workflow: Row, limit: int, cursor: str | None
    ) -> Page:
        """Versions, newest first."""
        query = select(versions).where(versions.c.workflow_id == workflow["id"])
        keys = (SortKey(column=versions.c.number, field="number", parse=cursor_int),)
        page = await keyset_page(
            conn, query, keys=keys, limit=limit, cursor=cursor, descending=True
        )
        items = [{**row, "workflow_name": workflow["name"]} for row in page.items]
        return Page(items=items, next_cursor=page.next_cursor)
