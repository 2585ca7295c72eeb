"""Workflows: validate, create, update the draft, deploy immutable versions, read."""

from __future__ import annotations

from typing import Any

from quantum_orchestrator.domain.errors import SpecInvalidError
from quantum_orchestrator.domain.spec import WorkflowSpec
from quantum_orchestrator.domain.validation import validate_spec
from quantum_orchestrator.engine.catalog import Catalog
from quantum_orchestrator.engine.plans import PlanCache
from quantum_orchestrator.engine.unit import UnitOfWork
from quantum_orchestrator.settings import EngineSettings
from quantum_orchestrator.store.pagination import Page

Row = dict[str, Any]


class WorkflowService:
    """The workflow use cases, each one transaction."""

    def __init__(
        self, *, uow: UnitOfWork, catalog: Catalog, plans: PlanCache, settings: EngineSettings
    ) -> None:
        self._uow = uow
        self._catalog = catalog
        self._plans = plans
        self._settings = settings

    async def validate(self, *, workspace_id: str, document: Any) -> WorkflowSpec:
        """Parse and check a spec against the workspace's catalog."""
        catalog = await self._catalog.for_workspace(workspace_id)
        return validate_spec(
            document,
            catalog=catalog,
            allow_unknown_types=self._settings.unknown_node_types == "allow",
        )

    async def check(self, *, workspace_id: str, document: Any) -> list[dict[str, str]]:
        """Every problem of a spec, as ``{path, message}`` (empty when valid)."""
        try:
            await self.validate(workspace_id=workspace_id, document=document)
        except SpecInvalidError as exc:
            return [error.to_dict() for error in exc.errors]
        return []

    async def create(self, *, workspace_id: str, document: Any) -> Row:
        """A new draft from a valid spec."""
        spec = await self.validate(workspace_id=workspace_id, document=document)
        async with self._uow.write() as tx:
            return await self._uow.repos.workflows.create(
                tx.conn, workspace_id=workspace_id, spec=spec.to_document(), now=tx.now
            )

    async def update(self, *, workspace_id: str, ref: str, document: Any) -> Row:
        """Replace a draft's spec (deployed versions stay as they were)."""
        spec = await self.validate(workspace_id=workspace_id, document=document)
        async with self._uow.write() as tx:
            repo = self._uow.repos.workflows
            workflow = await repo.get(tx.conn, workspace_id=workspace_id, ref=ref)
            await repo.update_spec(
                tx.conn, workflow_id=workflow["id"], spec=spec.to_document(), now=tx.now
            )
            return await repo.get(tx.conn, workspace_id=workspace_id, ref=workflow["id"])

    async def get(self, *, workspace_id: str, ref: str) -> Row:
        """One workflow by id or name."""
        async with self._uow.read() as conn:
            return await self._uow.repos.workflows.get(conn, workspace_id=workspace_id, ref=ref)

    async def page(
        self, *, workspace_id: str, limit: int, cursor: str | None, search: str | None
    ) -> Page:
        """Workflows by name."""
        async with self._uow.read() as conn:
            return await self._uow.repos.workflows.page(
                conn, workspace_id=workspace_id, limit=limit, cursor=cursor, search=search
            )

    async def deploy(self, *, workspace_id: str, ref: str) -> Row:
        """Freeze the draft as a new immutable version (validated again: agents may be gone)."""
        async with self._uow.read() as conn:
            workflow = await self._uow.repos.workflows.get(conn, workspace_id=workspace_id, ref=ref)
        spec = await self.validate(workspace_id=workspace_id, document=workflow["spec"])
        async with self._uow.write() as tx:
            repo = self._uow.repos.workflows
            workflow = await repo.get(tx.conn, workspace_id=workspace_id, ref=workflow["id"])
            version = await repo.add_version(
                tx.conn, workflow=workflow, spec=spec.to_document(), now=tx.now
            )
        self._plans.compile(version["id"], spec)
        return version

    async def versions(
        self, *, workspace_id: str, ref: str, limit: int, cursor: str | None
    ) -> Page:
        """A workflow's versions, newest first."""
        async with self._uow.read() as conn:
            repo = self._uow.repos.workflows
            workflow = await repo.get(conn, workspace_id=workspace_id, ref=ref)
            return await repo.list_versions(conn, workflow=workflow, limit=limit, cursor=cursor)

    async def version(self, *, workspace_id: str, ref: str, number: int) -> Row:
        """One version by number."""
        async with self._uow.read() as conn:
            repo = self._uow.repos.workflows
            workflow = await repo.get(conn, workspace_id=workspace_id, ref=ref)
            return await repo.get_version(conn, workflow=workflow, number=number)
