"""The node type catalog of a workspace: built-in types plus capabilities agents registered."""

from __future__ import annotations

from quantum_orchestrator.domain.node_types import NodeType, builtin_catalog, capability_node_type
from quantum_orchestrator.engine.unit import UnitOfWork


class Catalog:
    """Answers which node types exist; registrations refresh it."""

    def __init__(self, *, uow: UnitOfWork) -> None:
        self._uow = uow
        self._builtin = builtin_catalog()
        self._registered: dict[str, dict[str, NodeType]] = {}

    def invalidate(self, workspace_id: str) -> None:
        """Forget what was read for a workspace (an agent registered)."""
        self._registered.pop(workspace_id, None)

    async def for_workspace(self, workspace_id: str) -> dict[str, NodeType]:
        """Every node type usable in the workspace, by name."""
        registered = self._registered.get(workspace_id)
        if registered is None:
            async with self._uow.read() as conn:
                rows = await self._uow.repos.agents.capabilities(conn, workspace_id=workspace_id)
            registered = {
                row["name"]: capability_node_type(
                    name=row["name"],
                    category=row["category"],
                    description=row["description"],
                    params_schema=row["params_schema"],
                )
                for row in rows
                if row["name"] not in self._builtin
            }
            self._registered[workspace_id] = registered
        return {**registered, **self._builtin}
