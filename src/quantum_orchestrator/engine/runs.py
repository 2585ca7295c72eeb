"""Runs: start (one transaction), read, list, cancel, retry from the failed steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quantum_orchestrator.domain.errors import ConflictError, NotFoundError
from quantum_orchestrator.domain.states import (
    RUN_TERMINAL,
    AttemptState,
    RunState,
    StepState,
    run_transition,
    step_sources,
)
from quantum_orchestrator.domain.validation import validate_inputs
from quantum_orchestrator.engine.scheduler import Scheduler
from quantum_orchestrator.engine.unit import Tx, UnitOfWork
from quantum_orchestrator.store.pagination import Page
from quantum_orchestrator.store.runs import DuplicateRunError
from quantum_orchestrator.store.types import new_id

Row = dict[str, Any]


class RunService:
    """The run use cases."""

    def __init__(self, *, uow: UnitOfWork, scheduler: Scheduler) -> None:
        self._uow = uow
        self._scheduler = scheduler

    async def start(
        self,
        *,
        workspace_id: str,
        ref: str,
        inputs: dict[str, Any],
        version: int | None = None,
        idempotency_key: str | None = None,
        trigger: str = "api",
    ) -> tuple[Row, bool]:
        """Accept a run: the run, its steps and its first queued steps commit together.

        Answers the run and whether it was created now (False: the idempotency key matched an
        earlier run, which is answered instead).
        """
        repos = self._uow.repos
        try:
            async with self._uow.write() as tx:
                # Everything is read inside the write transaction: on SQLite it costs nothing
                # extra, and the plan is cached per version, so the spec is not read again.
                if idempotency_key:
                    existing = await repos.runs.find_by_key(
                        tx.conn, workspace_id=workspace_id, key=idempotency_key
                    )
                    if existing:
                        return existing, False
                workflow = await repos.workflows.get(tx.conn, workspace_id=workspace_id, ref=ref)
                version_row = await repos.workflows.get_version(
                    tx.conn, workflow=workflow, number=version, with_spec=False
                )
                plan = await self._scheduler.plans.get(tx.conn, repos.workflows, version_row["id"])
                validate_inputs(plan.spec.inputs, inputs)
                run = {
                    "id": new_id(),
                    "workspace_id": workspace_id,
                    "workflow_id": workflow["id"],
                    "workflow_name": workflow["name"],
                    "version_id": version_row["id"],
                    "version": version_row["number"],
                    "state": RunState.QUEUED.value,
                    "inputs": inputs,
                    "outputs": None,
                    "error": None,
                    "idempotency_key": idempotency_key,
                    "trigger": trigger,
                    "created_at": tx.now,
                    "started_at": None,
                    "finished_at": None,
                    "updated_at": tx.now,
                    "parent_run_id": None,
                    "parent_step_id": None,
                    "depth": 0,
                }
                await repos.runs.insert(tx.conn, run)
                await self._scheduler.start_run(tx, run=run, plan=plan)
        except DuplicateRunError:
            # Two requests with the same key raced; the other one won.
            async with self._uow.read() as conn:
                existing = await repos.runs.find_by_key(
                    conn, workspace_id=workspace_id, key=idempotency_key or ""
                )
            if existing is None:
                raise ConflictError("the idempotency key is in use; try again") from None
            return existing, False
        # ``start_run`` kept the row up to date (a run may already be waiting or failed).
        return run, True

    async def get(self, *, workspace_id: str, run_id: str, with_steps: bool = True) -> Row:
        """One run, with its steps and their attempts."""
        async with self._uow.read() as conn:
            run = await self._uow.repos.runs.get(conn, run_id=run_id, workspace_id=workspace_id)
            if with_steps:
                run["steps"] = await self._uow.repos.steps.for_run(conn, run_id)
            return run

    async def logs(
        self,
        *,
        workspace_id: str,
        run_id: str,
        node_id: str,
        attempt: int | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """What a step's handler logged, oldest first, of one attempt or of all of them."""
        repos = self._uow.repos
        async with self._uow.read() as conn:
            # Reading the run first keeps another workspace's runs invisible (404).
            await repos.runs.get(conn, run_id=run_id, workspace_id=workspace_id)
            step_id = await repos.steps.id_of(conn, run_id=run_id, node_id=node_id)
            if step_id is None:
                raise NotFoundError(f"run {run_id!r} has no step {node_id!r}")
            return await repos.step_logs.page(
                conn, step_id=step_id, attempt=attempt, limit=limit, cursor=cursor
            )

    async def page(
        self,
        *,
        workspace_id: str,
        limit: int,
        cursor: str | None,
        workflow: str | None = None,
        state: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
    ) -> Page:
        """Runs, newest first."""
        async with self._uow.read() as conn:
            workflow_id = None
            if workflow:
                row = await self._uow.repos.workflows.get(
                    conn, workspace_id=workspace_id, ref=workflow
                )
                workflow_id = row["id"]
            return await self._uow.repos.runs.page(
                conn,
                workspace_id=workspace_id,
                limit=limit,
                cursor=cursor,
                workflow_id=workflow_id,
                state=state,
                created_after=created_after,
                created_before=created_before,
            )

    async def cancel(self, *, workspace_id: str, run_id: str) -> Row:
        """Stop a run: queued and waiting steps are cancelled, running ones are signalled."""
        repos = self._uow.repos
        async with self._uow.write() as tx:
            run = await repos.runs.get(tx.conn, run_id=run_id, workspace_id=workspace_id)
            if run["state"] in RUN_TERMINAL:
                raise ConflictError(
                    f"the run is already {run['state']}; only active runs can be cancelled"
                )
            await self._cancel_in(tx, run, strict=True)
        return await self.get(workspace_id=workspace_id, run_id=run_id, with_steps=False)

    async def _cancel_in(self, tx: Tx, run: Row, *, strict: bool) -> None:
        """Cancel an active run inside ``tx``, and first the runs its sub-workflow steps started.

        Children go first so that locks are taken child before parent, the order a finishing
        child takes them in (its run, then its parent's step). A child that ended meanwhile is
        left alone (``strict=False``); only the run the caller named must still be active.
        """
        repos = self._uow.repos
        run_id, workspace_id = run["id"], run["workspace_id"]
        for child in await repos.runs.active_children(tx.conn, run_id):
            await self._cancel_in(tx, child, strict=False)
        run_transition(run["state"], RunState.CANCELLED)
        changed = await repos.steps.update_run_steps(
            tx.conn,
            run_id=run_id,
            sources=[
                s
                for s in step_sources(StepState.CANCELLED)
                if s in ("pending", "queued", "running", "waiting")
            ],
            values={"state": "cancelled", "finished_at": tx.now, "lease_expires_at": None},
        )
        await repos.steps.close_run_attempts(
            tx.conn, run_id=run_id, state=AttemptState.CANCELLED.value, now=tx.now
        )
        for step in changed:
            tx.step_event({**step, "run_id": run_id, "workspace_id": workspace_id}, "cancelled")
        error = {"code": "cancelled", "message": "the run was cancelled", "retryable": False}
        run_changed = await repos.runs.set_state(
            tx.conn,
            run_id=run_id,
            expected=run["state"],
            values={
                "state": "cancelled",
                "error": error,
                "finished_at": tx.now,
                "updated_at": tx.now,
            },
        )
        if not run_changed:
            if not strict:
                return
            # The run moved on (it finished) while this transaction ran; nothing changes.
            raise ConflictError("the run changed state meanwhile; read it again")
        tx.event(workspace_id=workspace_id, run_id=run_id, type="run.cancelled", state="cancelled")
        # A cancelled run has ended like any other: run-completion triggers hear of it in this
        # same transaction, as they do when the scheduler ends a run.
        ended = {**run, "state": "cancelled", "error": error, "finished_at": tx.now}
        for hook in self._scheduler.run_finished:
            await hook(tx, ended)
        if run.get("parent_step_id"):
            # A child cancelled on its own: its parent's step learns it from the timer loop.
            await self._scheduler.wake_parent(tx, run)

    async def retry(self, *, workspace_id: str, run_id: str) -> Row:
        """Run again the failed, cancelled and skipped steps of a finished run.

        Succeeded steps keep their outputs. The steps of a ``core.map`` that is retried are made
        anew.
        """
        repos = self._uow.repos
        async with self._uow.write() as tx:
            run = await repos.runs.get(tx.conn, run_id=run_id, workspace_id=workspace_id)
            if run["state"] not in (RunState.FAILED, RunState.CANCELLED):
                raise ConflictError(
                    f"the run is {run['state']}: only failed or cancelled runs can be retried"
                )
            run_transition(run["state"], RunState.RUNNING)
            plan = await self._scheduler.plan_for(tx, run)
            steps = await repos.steps.for_run(tx.conn, run_id)
            top = {row["node_id"]: row for row in steps if row["parent_id"] is None}
            reset = {node_id for node_id, row in top.items() if row["state"] != "succeeded"}
            node_of = {row["id"]: node_id for node_id, row in top.items()}
            children = [
                row["id"]
                for row in steps
                if row["parent_id"] and node_of.get(row["parent_id"]) in reset
            ]
            await repos.steps.delete(tx.conn, children)
            ready: list[Row] = []
            for node_id in reset:
                node = plan.nodes[node_id]
                counts = [0, 0, 0]
                for up in node.upstream:
                    if up in reset:
                        continue
                    taken = node_id not in (top[up].get("skipped_targets") or [])
                    counts[0 if taken else 2] += 1
                row = top[node_id]
                values = {
                    "state": "pending",
                    "up_succeeded": counts[0],
                    "up_failed": counts[1],
                    "up_skipped": counts[2],
                    "error": None,
                    "output": None,
                    "params": None,
                    "skipped_targets": None,
                    "available_at": None,
                    "wake_at": None,
                    "lease_expires_at": None,
                    "deadline_at": None,
                    "agent_id": None,
                    "finished_at": None,
                    # The retry budget starts afresh; attempt numbers keep counting.
                    "redeliveries": 0,
                    "attempt_base": row["attempts"],
                }
                await repos.steps.update(
                    tx.conn,
                    step_id=row["id"],
                    sources=step_sources(StepState.PENDING),
                    values=values,
                )
                ready.append({**row, **values})
            await repos.runs.set_state(
                tx.conn,
                run_id=run_id,
                expected=run["state"],
                values={
                    "state": "running",
                    "error": None,
                    "outputs": None,
                    "finished_at": None,
                    "updated_at": tx.now,
                },
            )
            tx.event(
                workspace_id=workspace_id,
                run_id=run_id,
                type="run.running",
                state="running",
                data={"retry": True},
            )
            run["state"] = "running"
            await self._scheduler.restart(tx, run=run, plan=plan, rows=ready)
        return await self.get(workspace_id=workspace_id, run_id=run_id, with_steps=False)
