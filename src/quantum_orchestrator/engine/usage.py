"""LLM usage: priced and recorded when an LLM step's result is applied; budgets enforced at
claim; summaries for ``GET /api/v1/usage``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from quantum_orchestrator.domain.errors import InvalidInputError
from quantum_orchestrator.domain.usage import (
    GROUP_BY,
    LLM_NODE_TYPES,
    BudgetStatus,
    ModelPrice,
    cost_of,
    month_start,
    usage_of,
)
from quantum_orchestrator.engine.unit import Tx, UnitOfWork
from quantum_orchestrator.settings import EngineSettings
from quantum_orchestrator.store.types import new_id, utcnow
from quantum_orchestrator.store.usage import UsageStore

Row = dict[str, Any]
DEFAULT_ALERT_RATIO = 0.8


def _status(budget: Row | None, spent: tuple[int, float]) -> BudgetStatus:
    return BudgetStatus(
        tokens=spent[0],
        cost=spent[1],
        token_limit=budget["token_limit"] if budget else None,
        cost_limit=budget["cost_limit"] if budget else None,
        alert_ratio=budget["alert_ratio"] if budget else DEFAULT_ALERT_RATIO,
    )


class UsageService:
    """Prices come from the server's settings: an agent reports tokens, never money."""

    def __init__(self, *, uow: UnitOfWork, settings: EngineSettings) -> None:
        self._uow = uow
        self._store = UsageStore()
        self._prices: dict[str, ModelPrice] = {
            model: ModelPrice(
                prompt_per_1k=price.prompt_per_1k, completion_per_1k=price.completion_per_1k
            )
            for model, price in settings.llm_prices.items()
        }

    async def record(self, tx: Tx, *, agent_id: str, succeeded: Iterable[tuple[Row, Any]]) -> None:
        """Within the report's transaction: record the usage of the LLM steps among
        ``succeeded`` (step row, output) and raise an alert event when a workspace crosses its
        budget's soft threshold."""
        found = [
            (step, found_usage)
            for step, output in succeeded
            if step["node_type"] in LLM_NODE_TYPES and (found_usage := usage_of(output))
        ]
        if not found:
            return
        workspaces = {step["workspace_id"] for step, _ in found}
        budgets = await self._store.budgets(tx.conn, workspaces)
        since = month_start(tx.now)
        before = await self._store.spent(tx.conn, budgets, since) if budgets else {}
        workflows = await self._store.run_workflows(tx.conn, {step["run_id"] for step, _ in found})
        rows = []
        for step, step_usage in found:
            workflow = workflows.get(step["run_id"], {})
            rows.append(
                {
                    "id": new_id(),
                    "workspace_id": step["workspace_id"],
                    "run_id": step["run_id"],
                    "step_id": step["id"],
                    "node_id": step["node_id"],
                    "workflow_id": workflow.get("workflow_id"),
                    "workflow_name": workflow.get("workflow_name"),
                    "agent_id": agent_id,
                    "model": step_usage.model,
                    "prompt_tokens": step_usage.prompt_tokens,
                    "completion_tokens": step_usage.completion_tokens,
                    "cost": cost_of(step_usage, self._prices),
                    "created_at": tx.now,
                }
            )
        await self._store.insert_many(tx.conn, rows)
        if not budgets:
            return
        after = await self._store.spent(tx.conn, budgets, since)
        for step, _ in found:
            workspace_id = step["workspace_id"]
            budget = budgets.get(workspace_id)
            if budget is None:
                continue
            old = _status(budget, before.get(workspace_id, (0, 0.0)))
            new = _status(budget, after.get(workspace_id, (0, 0.0)))
            if new.alert and not old.alert:
                # The soft alert: once per crossing, on the run whose step crossed it.
                tx.event(
                    workspace_id=workspace_id,
                    run_id=step["run_id"],
                    type="usage.budget_alert",
                    step_id=step["id"],
                    node_id=step["node_id"],
                    data=new.to_dict(),
                )
                before[workspace_id] = after[workspace_id]

    async def refusals(self, tx: Tx, rows: Iterable[Row]) -> dict[str, str]:
        """Within a claim's transaction: the LLM steps among ``rows`` whose workspace spent its
        monthly budget, with the reason (the hard stop)."""
        llm = [row for row in rows if row["node_type"] in LLM_NODE_TYPES]
        if not llm:
            return {}
        budgets = await self._store.budgets(tx.conn, {row["workspace_id"] for row in llm})
        if not budgets:
            return {}
        spent = await self._store.spent(tx.conn, budgets, month_start(tx.now))
        refused: dict[str, str] = {}
        for row in llm:
            budget = budgets.get(row["workspace_id"])
            if budget is None:
                continue
            status = _status(budget, spent.get(row["workspace_id"], (0, 0.0)))
            if status.exceeded:
                refused[row["id"]] = status.message()
        return refused

    async def summary(
        self,
        *,
        workspace_id: str,
        group_by: str,
        since: datetime | None,
        until: datetime | None,
    ) -> list[Row]:
        """Steps, tokens and cost per group of the workspace's usage in ``[since, until)``."""
        if group_by not in GROUP_BY:
            raise InvalidInputError(f"group_by must be one of {', '.join(GROUP_BY)}")
        async with self._uow.read() as conn:
            return await self._store.summary(
                conn, workspace_id=workspace_id, group_by=group_by, since=since, until=until
            )

    async def budget(self, *, workspace_id: str) -> BudgetStatus:
        """The workspace's limits and what it spent this month."""
        async with self._uow.read() as conn:
            budgets = await self._store.budgets(conn, [workspace_id])
            spent = await self._store.spent(conn, [workspace_id], month_start(utcnow()))
        return _status(budgets.get(workspace_id), spent.get(workspace_id, (0, 0.0)))

    async def set_budget(
        self,
        *,
        workspace_id: str,
        token_limit: int | None,
        cost_limit: float | None,
        alert_ratio: float,
    ) -> BudgetStatus:
        """Replace the workspace's monthly limits (``None``: no limit of that kind)."""
        async with self._uow.write() as tx:
            await self._store.set_budget(
                tx.conn,
                {
                    "workspace_id": workspace_id,
                    "token_limit": token_limit,
                    "cost_limit": cost_limit,
                    "alert_ratio": alert_ratio,
                    "updated_at": tx.now,
                },
            )
        return await self.budget(workspace_id=workspace_id)
