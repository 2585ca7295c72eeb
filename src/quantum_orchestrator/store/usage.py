"""Reads and writes of ``usage`` (LLM tokens and cost per step) and ``usage_budgets``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.store.tables import runs, usage, usage_budgets

Row = dict[str, Any]

# The column(s) each ``group_by`` of ``GET /api/v1/usage`` groups on.
_GROUPS = {
    "workspace": (usage.c.workspace_id,),
    "workflow": (usage.c.workflow_id, usage.c.workflow_name),
    "run": (usage.c.run_id,),
    "agent": (usage.c.agent_id,),
    "model": (usage.c.model,),
}


class UsageStore:
    """Usage records are append-only; budgets are one row per workspace."""

    async def insert_many(self, conn: AsyncConnection, rows: list[Row]) -> None:
        """Record the usage of finished steps."""
        if rows:
            await conn.execute(usage.insert(), rows)

    async def run_workflows(self, conn: AsyncConnection, run_ids: Iterable[str]) -> dict[str, Row]:
        """``workflow_id`` and ``workflow_name`` of each of these runs."""
        ids = sorted(set(run_ids))
        if not ids:
            return {}
        query = select(runs.c.id, runs.c.workflow_id, runs.c.workflow_name).where(
            runs.c.id.in_(ids)
        )
        return {row["id"]: dict(row) for row in (await conn.execute(query)).mappings()}

    async def spent(
        self, conn: AsyncConnection, workspace_ids: Iterable[str], since: datetime
    ) -> dict[str, tuple[int, float]]:
        """Tokens and cost of each workspace since ``since``."""
        ids = sorted(set(workspace_ids))
        if not ids:
            return {}
        query = (
            select(
                usage.c.workspace_id,
                func.sum(usage.c.prompt_tokens + usage.c.completion_tokens),
                func.sum(usage.c.cost),
            )
            .where(usage.c.workspace_id.in_(ids), usage.c.created_at >= since)
            .group_by(usage.c.workspace_id)
        )
        return {
            ws: (int(tokens or 0), float(cost or 0.0))
            for ws, tokens, cost in (await conn.execute(query)).all()
        }

    async def budgets(self, conn: AsyncConnection, workspace_ids: Iterable[str]) -> dict[str, Row]:
        """The budgets of these workspaces (those that have one)."""
        ids = sorted(set(workspace_ids))
        if not ids:
            return {}
        query = select(usage_budgets).where(usage_budgets.c.workspace_id.in_(ids))
        return {row["workspace_id"]: dict(row) for row in (await conn.execute(query)).mappings()}

    async def set_budget(self, conn: AsyncConnection, row: Row) -> None:
        """Replace the workspace's budget."""
        await conn.execute(
            delete(usage_budgets).where(usage_budgets.c.workspace_id == row["workspace_id"])
        )
        await conn.execute(usage_budgets.insert().values(**row))

    async def summary(
        self,
        conn: AsyncConnection,
        *,
        workspace_id: str,
        group_by: str,
        since: datetime | None,
        until: datetime | None,
    ) -> list[Row]:
        """Steps, tokens and cost of the workspace per group, largest cost first."""
        keys = _GROUPS[group_by]
        query = select(
            *keys,
            func.count().label("steps"),
            func.sum(usage.c.prompt_tokens).label("prompt_tokens"),
            func.sum(usage.c.completion_tokens).label("completion_tokens"),
            func.sum(usage.c.cost).label("cost"),
        ).where(usage.c.workspace_id == workspace_id)
        if since is not None:
            query = query.where(usage.c.created_at >= since)
        if until is not None:
            query = query.where(usage.c.created_at < until)
        query = query.group_by(*keys).order_by(func.sum(usage.c.cost).desc(), *keys)
        return [dict(row) for row in (await conn.execute(query)).mappings()]
