"""Triggers: schedules fired by the ticker, signed webhooks, and runs started by other runs.

Every run a trigger starts carries a deterministic idempotency key (one per fire time, per
webhook delivery, per finished source run), and is inserted in the same transaction that moves
the trigger on: a second replica, a restart or a retried delivery finds the run already there.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from quantum_orchestrator.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    QOError,
)
from quantum_orchestrator.domain.states import RUN_TERMINAL, RunState
from quantum_orchestrator.domain.triggers import (
    PREVIEW_COUNT,
    TriggerKind,
    TriggerState,
    completion_key,
    due_fires,
    fire_key,
    new_webhook_secret,
    next_fire,
    parse_schedule,
    trigger_transition,
    upcoming,
    verify_webhook,
)
from quantum_orchestrator.domain.validation import validate_inputs
from quantum_orchestrator.engine.runs import RunService
from quantum_orchestrator.engine.scheduler import Scheduler
from quantum_orchestrator.engine.unit import Tx, UnitOfWork
from quantum_orchestrator.security.secrets import SecretBox, webhook_secret_aad
from quantum_orchestrator.store.pagination import Page
from quantum_orchestrator.store.runs import DuplicateRunError
from quantum_orchestrator.store.types import new_id, utcnow

Row = dict[str, Any]
logger = logging.getLogger("quantum_orchestrator.engine")
_BATCH = 100
# Runs that finish as they start (no agent involved) chain inside one transaction; a cycle of
# run-completion triggers would recurse forever, so the chain stops at this depth.
_MAX_CHAIN = 8
_chain: ContextVar[int] = ContextVar("qo_trigger_chain", default=0)


def public(row: Row) -> Row:
    """A trigger as callers see it: never its sealed secret."""
    return {k: v for k, v in row.items() if k not in ("secret_ciphertext", "secret_key_id")}


def _aad(row: Row) -> bytes:
    """The associated data that binds a webhook secret to its trigger (shared with rotation)."""
    return webhook_secret_aad(row["workspace_id"], row["id"])


class TriggerService:
    """Create, list, pause, resume, delete and fire triggers."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        scheduler: Scheduler,
        runs: RunService,
        box: SecretBox | None,
    ) -> None:
        self._uow = uow
        self._scheduler = scheduler
        self._runs = runs
        self._box = box

    def _require_box(self) -> SecretBox:
        if self._box is None:
            raise QOError("webhooks need the secrets key (QO_SECRET_KEY)", code="no_secret_key")
        return self._box

    # -- management -------------------------------------------------------------------------

    async def create(
        self,
        *,
        workspace_id: str,
        ref: str,
        kind: TriggerKind,
        name: str,
        config: dict[str, Any],
        inputs: dict[str, Any],
        created_by: str | None,
    ) -> tuple[Row, str | None]:
        """Create a trigger on workflow ``ref``; answers it and a webhook's secret (shown once)."""
        repos = self._uow.repos
        secret: str | None = None
        async with self._uow.write() as tx:
            workflow = await repos.workflows.get(tx.conn, workspace_id=workspace_id, ref=ref)
            row: Row = {
                "id": new_id(),
                "workspace_id": workspace_id,
                "workflow_id": workflow["id"],
                "kind": kind.value,
                "name": name,
                "config": {},
                "inputs": inputs,
                "state": TriggerState.ACTIVE.value,
                "next_fire_at": None,
                "last_fire_at": None,
                "secret_ciphertext": None,
                "secret_key_id": None,
                "created_by": created_by,
                "created_at": tx.now,
                "updated_at": tx.now,
            }
            if kind is TriggerKind.SCHEDULE:
                schedule = parse_schedule(config, anchor=tx.now)
                row["config"] = schedule.as_config()
                row["next_fire_at"] = next_fire(schedule, tx.now)
            elif kind is TriggerKind.WEBHOOK:
                secret = new_webhook_secret()
                row.update(self._sealed(row, secret))
            else:
                row["config"] = await self._completion_config(tx, workspace_id, config)
            await repos.triggers.insert(tx.conn, row)
        return public(row), secret

    async def _completion_config(
        self, tx: Tx, workspace_id: str, config: dict[str, Any]
    ) -> dict[str, Any]:
        source_ref = config.get("source")
        if not isinstance(source_ref, str) or not source_ref:
            raise InvalidInputError("`source` must name the workflow whose runs are watched")
        source = await self._uow.repos.workflows.get(
            tx.conn, workspace_id=workspace_id, ref=source_ref
        )
        states = config.get("states") or [RunState.SUCCEEDED.value]
        terminal = sorted(state.value for state in RUN_TERMINAL)
        if not isinstance(states, list) or any(s not in terminal for s in states):
            raise InvalidInputError(f"`states` must be a list among {', '.join(terminal)}")
        return {"source_workflow_id": source["id"], "states": sorted(set(states))}

    def _sealed(self, row: Row, secret: str) -> Row:
        box = self._require_box()
        return {
            "secret_ciphertext": box.encrypt(secret, aad=_aad(row)),
            "secret_key_id": box.key_id,
        }

    async def page(
        self,
        *,
        workspace_id: str,
        limit: int,
        cursor: str | None,
        ref: str | None = None,
        kind: str | None = None,
    ) -> Page:
        """The workspace's triggers (of one workflow when ``ref`` is given), oldest first."""
        async with self._uow.read() as conn:
            workflow_id = None
            if ref is not None:
                workflow = await self._uow.repos.workflows.get(
                    conn, workspace_id=workspace_id, ref=ref
                )
                workflow_id = workflow["id"]
            page = await self._uow.repos.triggers.page(
                conn,
                workspace_id=workspace_id,
                workflow_id=workflow_id,
                kind=kind,
                limit=limit,
                cursor=cursor,
            )
        return Page(items=[public(row) for row in page.items], next_cursor=page.next_cursor)

    async def get(self, *, workspace_id: str, trigger_id: str) -> Row:
        """One trigger."""
        async with self._uow.read() as conn:
            row = await self._uow.repos.triggers.get(
                conn, trigger_id=trigger_id, workspace_id=workspace_id
            )
        return public(row)

    async def set_state(self, *, workspace_id: str, trigger_id: str, state: TriggerState) -> Row:
        """Pause or resume a trigger. A resumed schedule fires from now on, not the past."""
        repos = self._uow.repos
        async with self._uow.write() as tx:
            row = await repos.triggers.get(
                tx.conn, trigger_id=trigger_id, workspace_id=workspace_id
            )
            trigger_transition(row["state"], state)
            values: Row = {"state": state.value, "updated_at": tx.now}
            if row["kind"] == TriggerKind.SCHEDULE:
                values["next_fire_at"] = (
                    next_fire(parse_schedule(row["config"]), tx.now)
                    if state is TriggerState.ACTIVE
                    else None
                )
            await repos.triggers.update(
                tx.conn, trigger_id=trigger_id, values=values, expected_state=row["state"]
            )
            row.update(values)
        return public(row)

    async def delete(self, *, workspace_id: str, trigger_id: str) -> None:
        """Remove a trigger; runs it started stay."""
        async with self._uow.write() as tx:
            await self._uow.repos.triggers.delete(
                tx.conn, workspace_id=workspace_id, trigger_id=trigger_id
            )

    async def rotate_secret(self, *, workspace_id: str, trigger_id: str) -> tuple[Row, str]:
        """Give a webhook a new signing secret (shown once); the old one stops working."""
        repos = self._uow.repos
        async with self._uow.write() as tx:
            row = await repos.triggers.get(
                tx.conn, trigger_id=trigger_id, workspace_id=workspace_id
            )
            if row["kind"] != TriggerKind.WEBHOOK:
                raise InvalidInputError("only webhook triggers have a secret")
            secret = new_webhook_secret()
            values = {**self._sealed(row, secret), "updated_at": tx.now}
            await repos.triggers.update(tx.conn, trigger_id=trigger_id, values=values)
            row.update(values)
        return public(row), secret

    async def preview(
        self, *, workspace_id: str, trigger_id: str, count: int = PREVIEW_COUNT
    ) -> list[datetime]:
        """The next ``count`` fire times of a schedule."""
        row = await self.get(workspace_id=workspace_id, trigger_id=trigger_id)
        if row["kind"] != TriggerKind.SCHEDULE:
            raise InvalidInputError("only schedules have fire times")
        return upcoming(parse_schedule(row["config"]), utcnow(), count)

    # -- firing -----------------------------------------------------------------------------

    async def fire_due(self) -> int:
        """Start the runs of every schedule that is due; answers how many runs were created."""
        repos = self._uow.repos
        created = 0
        async with self._uow.write() as tx:
            for row in await repos.triggers.due(tx.conn, now=tx.now, limit=_BATCH):
                try:
                    schedule = parse_schedule(row["config"])
                except QOError as exc:
                    logger.warning("schedule %s is invalid, paused: %s", row["id"], exc.message)
                    state = trigger_transition(row["state"], TriggerState.PAUSED)
                    await repos.triggers.update(
                        tx.conn,
                        trigger_id=row["id"],
                        values={"state": state.value, "next_fire_at": None, "updated_at": tx.now},
                    )
                    continue
                due = due_fires(schedule, row["next_fire_at"], tx.now)
                if due.skipped:
                    logger.info("schedule %s skipped %d missed fires", row["id"], due.skipped)
                for fire_at in due.fires:
                    if await self._start_in(
                        tx,
                        row,
                        inputs=row["inputs"],
                        key=fire_key(row["id"], fire_at),
                        kind=TriggerKind.SCHEDULE,
                    ):
                        created += 1
                # Guarded by the timer read above: a replica that fired it meanwhile wins.
                await repos.triggers.update(
                    tx.conn,
                    trigger_id=row["id"],
                    expected_next=row["next_fire_at"],
                    values={
                        "next_fire_at": due.next_at,
                        "last_fire_at": due.fires[-1] if due.fires else row["last_fire_at"],
                        "updated_at": tx.now,
                    },
                )
        return created

    async def _start_in(
        self, tx: Tx, row: Row, *, inputs: dict[str, Any], key: str, kind: TriggerKind
    ) -> Row | None:
        """Insert and start one run of the trigger's workflow inside ``tx``.

        Answers the run, or None when the key already has one. A fire that cannot start (no
        deployed version, inputs the schema refuses) is logged and dropped: one broken
        trigger must not block the ticker.
        """
        repos = self._uow.repos
        workspace_id = row["workspace_id"]
        if await repos.runs.find_by_key(tx.conn, workspace_id=workspace_id, key=key):
            return None
        mark = len(tx.events)
        try:
            async with tx.conn.begin_nested():
                run = await self._insert_run(tx, row, inputs=inputs, key=key, kind=kind)
        except DuplicateRunError:
            del tx.events[mark:]
            return None
        except QOError as exc:
            # The savepoint undid the rows; the events recorded meanwhile go too.
            del tx.events[mark:]
            logger.warning("trigger %s could not start a run: %s", row["id"], exc.message)
            return None
        return run

    async def _insert_run(
        self, tx: Tx, row: Row, *, inputs: dict[str, Any], key: str, kind: TriggerKind
    ) -> Row:
        repos = self._uow.repos
        workflow = await repos.workflows.get(
            tx.conn, workspace_id=row["workspace_id"], ref=row["workflow_id"]
        )
        version = await repos.workflows.get_version(
            tx.conn, workflow=workflow, number=None, with_spec=False
        )
        plan = await self._scheduler.plans.get(tx.conn, repos.workflows, version["id"])
        validate_inputs(plan.spec.inputs, inputs)
        run: Row = {
            "id": new_id(),
            "workspace_id": row["workspace_id"],
            "workflow_id": workflow["id"],
            "workflow_name": workflow["name"],
            "version_id": version["id"],
            "version": version["number"],
            "state": RunState.QUEUED.value,
            "inputs": inputs,
            "outputs": None,
            "error": None,
            "idempotency_key": key,
            "trigger": kind.value,
            "created_at": tx.now,
            "started_at": None,
            "finished_at": None,
            "updated_at": tx.now,
        }
        await repos.runs.insert(tx.conn, run)
        await self._scheduler.start_run(tx, run=run, plan=plan)
        return run

    async def hook(self, hook_id: str) -> Row:
        """The webhook trigger ``hook_id`` (its sealed secret included: never answer it)."""
        async with self._uow.read() as conn:
            row = await self._uow.repos.triggers.get(conn, trigger_id=hook_id)
        if row["kind"] != TriggerKind.WEBHOOK or row["secret_ciphertext"] is None:
            raise NotFoundError(f"no hook {hook_id!r}")
        return row

    async def receive_webhook(
        self,
        *,
        hook: Row,
        timestamp: str | None,
        signature: str | None,
        body: bytes,
    ) -> tuple[Row, bool]:
        """Verify a signed delivery to ``hook`` and start its run; answers the run and created.

        The same signed delivery sent twice (a sender's retry, or a replay inside the time
        window) answers the run of the first instead of starting another.
        """
        secret = self._require_box().decrypt(
            hook["secret_ciphertext"], aad=_aad(hook), key_id=hook["secret_key_id"]
        )
        verify_webhook(
            secret=secret, timestamp=timestamp, signature=signature, body=body, now=utcnow()
        )
        if hook["state"] != TriggerState.ACTIVE:
            raise ConflictError("the webhook is paused")
        try:
            payload = json.loads(body or b"{}")
        except ValueError:
            raise InvalidInputError("the body must be a JSON object") from None
        if not isinstance(payload, dict):
            raise InvalidInputError("the body must be a JSON object")
        digest = hashlib.sha256((signature or "").encode()).hexdigest()[:32]
        return await self._runs.start(
            workspace_id=hook["workspace_id"],
            ref=hook["workflow_id"],
            inputs={**hook["inputs"], **payload},
            idempotency_key=f"webhook:{hook['id']}:{digest}",
            trigger=TriggerKind.WEBHOOK.value,
        )

    async def wait_for_run(self, *, workspace_id: str, run_id: str, timeout: float) -> Row:
        """The run once it has ended, or as it is after ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with self._uow.bus.subscribe(run_id=run_id) as subscription:
            while True:
                run = await self._runs.get(
                    workspace_id=workspace_id, run_id=run_id, with_steps=False
                )
                left = deadline - loop.time()
                if RunState(run["state"]).terminal or left <= 0:
                    return run
                # Woken by this server's events; the short cap covers runs another replica
                # finishes, whose events this one does not hear.
                await subscription.get(min(left, 0.5))

    async def run_finished(self, tx: Tx, run: Row) -> None:
        """Start the runs of the triggers that watch ``run``'s workflow, in the same ``tx``.

        Called by the scheduler as a run reaches a terminal state, so the triggered runs commit
        with the end of their source run and are never lost.
        """
        listeners = await self._uow.repos.triggers.listening(
            tx.conn, workspace_id=run["workspace_id"], kind=TriggerKind.RUN_COMPLETION.value
        )
        for row in listeners:
            config = row["config"]
            if config.get("source_workflow_id") != run["workflow_id"]:
                continue
            if run["state"] not in config.get("states", ()):
                continue
            depth = _chain.get()
            if depth >= _MAX_CHAIN:
                logger.warning("trigger %s not fired: a chain of %d runs", row["id"], depth)
                continue
            outputs = run.get("outputs")
            inputs = {**row["inputs"], **(outputs if isinstance(outputs, dict) else {})}
            token = _chain.set(depth + 1)
            try:
                await self._start_in(
                    tx,
                    row,
                    inputs=inputs,
                    key=completion_key(row["id"], run["id"]),
                    kind=TriggerKind.RUN_COMPLETION,
                )
            finally:
                _chain.reset(token)
