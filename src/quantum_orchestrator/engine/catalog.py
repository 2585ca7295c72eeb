"""The node type catalog of a workspace: built-in types plus capabilities agents registered."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.domain.node_types import NodeType, builtin_catalog, capability_node_type
from quantum_orchestrator.engine.unit import UnitOfWork


class Catalog:
    """Answers which node types exist; registrations refresh it."""

    def __init__(self, *, uow: UnitOfWork) -> None:
        self._uow = uow
        self._builtin = builtin_catalog()
        self._registered: dict[str, dict[str, NodeType]] = {}
        self._packs: dict[str, NodeType] = {}

    def add_node_types(self, node_types: Iterable[NodeType]) -> None:
        """Offer node types from installed node packs in every workspace (at startup)."""
        for node_type in node_types:
            if node_type.name not in self._builtin:
                self._packs[node_type.name] = node_type

    def invalidate(self, workspace_id: str) -> None:
        """Forget what was read for a workspace (an agent registered)."""
        self._registered.pop(workspace_id, None)

    async def for_workspace(self, workspace_id: str) -> dict[str, NodeType]:
        """Every node type usable in the workspace, by name."""
        if workspace_id not in self._registered:
            async with self._uow.read() as conn:
                return await self.for_workspace_in(conn, workspace_id)
        return self._merged(self._registered[workspace_id])

    async def for_workspace_in(
        self, conn: AsyncConnection, workspace_id: str
    ) -> dict[str, NodeType]:
        """``for_workspace`` read with an open connection (inside a transaction: opening
        another one there could deadlock on SQLite)."""
        registered = self._registered.get(workspace_id)
        if registered is None:
            rows = await self._uow.repos.agents.capabilities(conn, workspace_id=workspace_id)
            registered = {
                row["name"]: capability_node_type(
                    name=row["name"],
                    category=row["category"],
                    description=row["description"],
                    params_schema=row["params_schema"],
                )
                for row in rows
                if row["name"] not in self._builtin and row["name"] not in self._packs
            }
            self._registered[workspace_id] = registered
        return self._merged(registered)

    def _merged(self, registered: dict[str, NodeType]) -> dict[str, NodeType]:
        # A pack's own definition (docs, schema) wins over what an agent announced for it.
        return {**registered, **self._packs, **self._builtin}
