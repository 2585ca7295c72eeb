"""Approvals: a ``core.approval`` step waits until a person (or its timeout) decides.

A decision is one write transaction: the step succeeds (approved) or fails (rejected), its
successors are started or skipped, and the run settles, all together. Who decided, when and why
is the step's output, so it stays with the run.
"""

from __future__ import annotations

from typing import Any

from quantum_orchestrator.domain.control import (
    APPROVAL,
    Decision,
    decision_record,
    rejection_error,
)
from quantum_orchestrator.domain.errors import ConflictError, NotFoundError
from quantum_orchestrator.domain.states import StepState, step_sources, step_transition
from quantum_orchestrator.engine.scheduler import Scheduler
from quantum_orchestrator.engine.unit import Tx, UnitOfWork
from quantum_orchestrator.store.pagination import (
    Page,
    cursor_datetime,
    decode_cursor,
    encode_cursor,
)

Row = dict[str, Any]


async def decide_step(
    tx: Tx, scheduler: Scheduler, run: Row, step: Row, record: dict[str, Any]
) -> Row:
    """Finish a waiting approval step with ``record``; answers the finished step.

    The caller propagates the outcome. Approved succeeds with the record as output; rejected
    fails with a non-retryable error and keeps the record as output too, so the timeline shows
    who rejected it and why.
    """
    tx.step_event(step, "decided", state=step["state"], data=dict(record))
    if record["decision"] == "approved":
        return await scheduler.succeed_now(tx, run, step, record)
    step_transition(step["state"], StepState.FAILED)
    error = rejection_error(record)
    await scheduler.repos.steps.update(
        tx.conn,
        step_id=step["id"],
        sources=step_sources(StepState.FAILED),
        values={
            "state": "failed",
            "output": record,
            "error": error,
            "finished_at": tx.now,
            "wake_at": None,
        },
    )
    tx.step_event(step, "failed", data={"error": error})
    return {**step, "state": "failed", "output": record, "error": error}


class ApprovalService:
    """Decide approvals and list the ones waiting, within one workspace."""

    def __init__(self, *, uow: UnitOfWork, scheduler: Scheduler) -> None:
        self._uow = uow
        self._scheduler = scheduler

    async def decide(
        self,
        *,
        workspace_id: str,
        run_id: str,
        node_id: str,
        decision: Decision,
        comment: str | None,
        decided_by: str,
        decided_by_id: str | None = None,
    ) -> Row:
        """Record a person's decision on a waiting approval; answers the decision record.

        Raises ``NotFoundError`` for a run of another workspace or an unknown node, and
        ``ConflictError`` when the step is not an approval waiting for a decision.
        """
        repos = self._uow.repos
        async with self._uow.write() as tx:
            run = await repos.runs.get(tx.conn, run_id=run_id, workspace_id=workspace_id)
            # The run is locked before the step, in the same order as ``propagate``, so two
            # decisions (or a decision and the timeout) take turns instead of deadlocking.
            run = (await repos.runs.get_many(tx.conn, [run_id], lock=True))[run_id]
            found = await repos.steps.by_nodes(tx.conn, run_id, [node_id])
            if node_id not in found:
                raise NotFoundError(f"run {run_id!r} has no step {node_id!r}")
            step = (await repos.steps.get_many(tx.conn, [found[node_id]["id"]]))[
                found[node_id]["id"]
            ]
            if step["node_type"] != APPROVAL:
                raise ConflictError(f"step {node_id!r} is a {step['node_type']}, not an approval")
            if step["state"] != StepState.WAITING:
                raise ConflictError(
                    f"step {node_id!r} is {step['state']}: it is not waiting for a decision"
                )
            record = decision_record(
                decision=decision,
                comment=comment,
                decided_by=decided_by,
                decided_by_id=decided_by_id,
                decided_at=tx.now,
            )
            finished = await decide_step(tx, self._scheduler, run, step, record)
            await self._scheduler.propagate(tx, [finished])
        return record

    async def pending_page(self, *, workspace_id: str, limit: int, cursor: str | None) -> Page:
        """One page of the approvals waiting for a decision, oldest first."""
        after = None
        if cursor:
            started, step_id = decode_cursor(cursor, 2)
            after = (cursor_datetime(started), step_id)
        async with self._uow.read() as conn:
            rows = await self._uow.repos.steps.waiting_of_type(
                conn, workspace_id=workspace_id, node_type=APPROVAL, limit=limit + 1, after=after
            )
        next_cursor = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_cursor = encode_cursor(last["started_at"].isoformat(), last["id"])
        return Page(items=rows[:limit], next_cursor=next_cursor)

    async def pending(self, *, workspace_id: str, limit: int = 500) -> list[Row]:
        """The approvals of the workspace waiting for a decision, oldest first."""
        async with self._uow.read() as conn:
            return await self._uow.repos.steps.waiting_of_type(
                conn, workspace_id=workspace_id, node_type=APPROVAL, limit=limit
            )
