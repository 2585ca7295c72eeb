"""Compiled plans, cached by version id (versions never change)."""

from __future__ import annotations

from collections import OrderedDict

from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.node_types import NodeType
from quantum_orchestrator.domain.plan import Plan
from quantum_orchestrator.domain.spec import WorkflowSpec
from quantum_orchestrator.settings import EngineSettings
from quantum_orchestrator.store.workflows import WorkflowStore


class PlanCache:
    """An LRU of plans; a miss reads the version and compiles it."""

    def __init__(
        self, *, settings: EngineSettings, catalog: dict[str, NodeType], size: int = 256
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._size = size
        self._plans: OrderedDict[str, Plan] = OrderedDict()

    def compile(self, version_id: str, spec: WorkflowSpec) -> Plan:
        """Compile (or reuse) the plan of a version."""
        plan = self._plans.get(version_id)
        if plan is None:
            plan = Plan.compile(
                spec,
                catalog=self._catalog,
                default_timeout=self._settings.default_timeout,
                default_max_attempts=self._settings.default_max_attempts,
            )
            self._plans[version_id] = plan
            if len(self._plans) > self._size:
                self._plans.popitem(last=False)
        else:
            self._plans.move_to_end(version_id)
        return plan

    async def get(self, conn: AsyncConnection, workflows: WorkflowStore, version_id: str) -> Plan:
        """The plan of a version, reading it from the database on a miss."""
        plan = self._plans.get(version_id)
        if plan is not None:
            self._plans.move_to_end(version_id)
            return plan
        row = await workflows.get_version_by_id(conn, version_id)
        return self.compile(version_id, WorkflowSpec.model_validate(row["spec"]))
