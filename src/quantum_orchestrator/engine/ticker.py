"""The one timer loop: leases, attempt deadlines, delays, silent agents and retry wake-ups.

Every timer is a timestamp in the database. Each firing is a guarded update inside a write
transaction (and ``SKIP LOCKED`` on PostgreSQL), so with several servers exactly one fires it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from quantum_orchestrator.domain.control import (
    APPROVAL,
    SUBWORKFLOW,
    TIMEOUT_DECIDER,
    WAIT_UNTIL,
    decision_record,
    default_decision,
)
from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.domain.states import RUN_TERMINAL, AgentState, AttemptState, StepState
from quantum_orchestrator.engine.agents import AgentService
from quantum_orchestrator.engine.approvals import decide_step
from quantum_orchestrator.engine.scheduler import Scheduler, error_info
from quantum_orchestrator.engine.triggers import TriggerService
from quantum_orchestrator.engine.unit import Tx, UnitOfWork
from quantum_orchestrator.settings import EngineSettings
from quantum_orchestrator.store.types import utcnow

Row = dict[str, Any]
logger = logging.getLogger("quantum_orchestrator.engine")
_BATCH = 200
# While a timer keeps failing, its failure is logged again at most this often.
_REPEAT_LOG_SECONDS = 60.0


class Ticker:
    """Fires due timers every ``tick_interval`` seconds until shut down."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        scheduler: Scheduler,
        agents: AgentService,
        settings: EngineSettings,
        triggers: TriggerService | None = None,
    ) -> None:
        self._uow = uow
        self._triggers = triggers
        self._scheduler = scheduler
        self._agents = agents
        self._settings = settings
        self._stop = asyncio.Event()
        self._last = utcnow()
        # Timers failing now: how many times in a row, and when that was last logged.
        self._failing: dict[str, tuple[int, float]] = {}

    async def run(self) -> None:
        """Tick until ``shutdown``; a failing timer is logged and the next tick tries again."""
        while not self._stop.is_set():
            try:
                await self.tick()
            except Exception:
                # ``tick`` contains its timers' failures; this is for a bug in the loop itself.
                # The loop must outlive it, or no timer would ever fire again.
                logger.exception("timer loop failed; trying again next tick")
            # Always a full interval between ticks, failed or not: a timer that keeps failing
            # (a database that is down, a row that cannot be handled) is retried at the tick's
            # pace, never in a tight loop.
            try:
                await asyncio.wait_for(self._stop.wait(), self._settings.tick_interval)
            except TimeoutError:
                continue

    def shutdown(self) -> None:
        """Stop after the current tick."""
        self._stop.set()

    async def tick(self) -> None:
        """Fire everything that is due now.

        Each timer runs in its own transaction and its failure is its own: it is logged, and
        the timers after it still fire (a lease that cannot be expired must not stop delays,
        retries or schedules).
        """
        timers: list[tuple[str, Callable[[], Awaitable[object]]]] = [
            ("lost agents", self.mark_lost_agents),
            ("lease expiry", self.expire_leases),
            ("attempt deadlines", self.expire_deadlines),
            ("wake-ups", self.wake_delays),
            ("retry wake-ups", self.announce_retries),
        ]
        if self._triggers is not None:
            timers.append(("schedules", self._triggers.fire_due))
        for name, fire in timers:
            try:
                await fire()
            except Exception as exc:  # noqa: BLE001 - logged by _failed, retried next tick
                self._failed(name, exc)
            else:
                self._recovered(name)

    def _failed(self, name: str, exc: Exception) -> None:
        """Log a timer's failure: at once, then at most once a minute while it keeps failing,
        so a persistent fault does not flood the log at every tick. An error of the platform
        (a database that is unavailable) is a warning; anything else is a bug, with its
        traceback."""
        now = time.monotonic()
        count, logged_at = self._failing.get(name, (0, -math.inf))
        count += 1
        if now - logged_at >= _REPEAT_LOG_SECONDS:
            logged_at = now
            expected = isinstance(exc, QOError)
            logger.log(
                logging.WARNING if expected else logging.ERROR,
                "timer %s failed%s: %s; trying again next tick",
                name,
                f" ({count} times in a row)" if count > 1 else "",
                exc.message if isinstance(exc, QOError) else repr(exc),
                exc_info=None if expected else exc,
            )
        self._failing[name] = (count, logged_at)

    def _recovered(self, name: str) -> None:
        failed = self._failing.pop(name, None)
        if failed is not None and failed[0] > 1:
            logger.info("timer %s works again after %d failures", name, failed[0])

    async def mark_lost_agents(self) -> None:
        """Agents silent for too long are lost; their leases end now."""
        repos = self._uow.repos
        async with self._uow.write() as tx:
            before = tx.now - timedelta(seconds=self._settings.agent_lost_after)
            for agent in await repos.agents.silent_since(tx.conn, before=before, limit=_BATCH):
                changed = await repos.agents.set_state(
                    tx.conn,
                    agent_id=agent["id"],
                    sources=("online", "draining"),
                    state=AgentState.LOST.value,
                    silent_since=before,
                )
                if changed:
                    logger.warning("agent %s lost: no heartbeat since %s", agent["id"], before)
                    await repos.steps.expire_agent_leases(tx.conn, agent_id=agent["id"], now=tx.now)
                    self._agents.forget(agent["id"])

    async def expire_leases(self) -> None:
        """Running steps whose lease ended go back to the queue (or fail past the limit)."""
        await self._fire(
            column="lease_expires_at",
            error=error_info(
                "lease_expired", "the agent stopped answering (lease expired)", retryable=True
            ),
            attempt_state=AttemptState.LOST,
            redelivery=True,
        )

    async def expire_deadlines(self) -> None:
        """Attempts that ran far past their timeout fail, even if their agent still heartbeats."""
        await self._fire(
            column="deadline_at",
            error=error_info("timeout", "the attempt ran past its timeout", retryable=True),
            attempt_state=AttemptState.FAILED,
            redelivery=False,
        )

    async def _fire(
        self,
        *,
        column: str,
        error: dict[str, object],
        attempt_state: AttemptState,
        redelivery: bool,
    ) -> None:
        repos = self._uow.repos
        async with self._uow.write() as tx:
            ids = await repos.steps.due(
                tx.conn, column=column, state=StepState.RUNNING.value, now=tx.now, limit=_BATCH
            )
            if not ids:
                return
            steps = await repos.steps.get_many(tx.conn, ids)
            finished = []
            for step in steps.values():
                if step["state"] != StepState.RUNNING:
                    continue
                # The policy as read tolerantly (a malformed stored one is reported and falls
                # back to the defaults): one bad row must not roll back this whole batch.
                policy = self._scheduler.retry_of(step).to_dict()
                outcome = await self._agents.fail_attempt(
                    tx,
                    {**step, "retry": policy},
                    dict(error),
                    attempt_state=attempt_state,
                    redelivery=redelivery,
                )
                if outcome is not None:
                    finished.append(outcome)
            await self._scheduler.propagate(tx, finished)

    async def wake_delays(self) -> None:
        """Waiting steps whose time has come: delays and wait-untils succeed, approvals take
        their default decision."""
        repos = self._uow.repos
        async with self._uow.write() as tx:
            ids = await repos.steps.due(
                tx.conn, column="wake_at", state=StepState.WAITING.value, now=tx.now, limit=_BATCH
            )
            if not ids:
                return
            steps = await repos.steps.get_many(tx.conn, ids)
            runs = await repos.runs.get_many(tx.conn, sorted({s["run_id"] for s in steps.values()}))
            finished = []
            for step in steps.values():
                if step["state"] != StepState.WAITING:
                    continue
                run = runs[step["run_id"]]
                params = step["params"] or {}
                if step["node_type"] == APPROVAL:
                    record = decision_record(
                        decision=default_decision(params),
                        comment="no decision before the timeout",
                        decided_by=TIMEOUT_DECIDER,
                        decided_at=tx.now,
                    )
                    finished.append(await decide_step(tx, self._scheduler, run, step, record))
                    continue
                if step["node_type"] == SUBWORKFLOW:
                    done = await self._subworkflow_done(tx, run, step)
                    if done is not None:
                        finished.append(done)
                    continue
                if step["node_type"] == WAIT_UNTIL:
                    # The timer is the requested time, in UTC.
                    output: dict[str, Any] = {"until": step["wake_at"].isoformat()}
                else:
                    output = {"waited": params.get("seconds", 0)}
                finished.append(await self._scheduler.succeed_now(tx, run, step, output))
            await self._scheduler.propagate(tx, finished)

    async def _subworkflow_done(self, tx: Tx, run: Row, step: Row) -> Row | None:
        """Finish a ``core.subworkflow`` step from its child run, once that run has ended."""
        repos = self._uow.repos
        child = await repos.runs.child_of_step(tx.conn, step["id"])
        if child is None or child["state"] not in RUN_TERMINAL:
            # Woken too early (the child was retried meanwhile): wait for its end again.
            await repos.steps.update(
                tx.conn, step_id=step["id"], sources=("waiting",), values={"wake_at": None}
            )
            return None
        if child["state"] == "succeeded":
            return await self._scheduler.succeed_now(tx, run, step, child["outputs"])
        reason = (child["error"] or {}).get("message") or child["state"]
        error = error_info(
            "subworkflow_failed",
            f"run {child['id']} of {child['workflow_name']} {child['state']}: {reason}",
        )
        return await self._scheduler.fail_now(tx, run, step, error)

    async def announce_retries(self) -> None:
        """Wake long-polling agents when a retry's backoff has elapsed."""
        now = utcnow()
        after: datetime = self._last
        self._last = now
        async with self._uow.read() as conn:
            due = await self._uow.repos.steps.any_became_available(conn, after=after, now=now)
        if due:
            self._uow.signal.notify()
