"""The server side of the agent protocol: registration, heartbeats, claims and results."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from quantum_orchestrator.domain.agent_protocol import (
    MAX_RETRY_AFTER,
    HeartbeatAnswer,
    Registration,
    RegistrationAnswer,
    Result,
    ResultsAnswer,
    Task,
)
from quantum_orchestrator.domain.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from quantum_orchestrator.domain.overview import agent_category
from quantum_orchestrator.domain.plan import retry_delay
from quantum_orchestrator.domain.states import AgentState, AttemptState, StepState, step_transition
from quantum_orchestrator.domain.step_logs import LogLine
from quantum_orchestrator.domain.usage import BudgetExceededError
from quantum_orchestrator.engine.agent_events import AgentEvents
from quantum_orchestrator.engine.catalog import Catalog
from quantum_orchestrator.engine.scheduler import Scheduler, error_info, json_size
from quantum_orchestrator.engine.secrets import SecretService
from quantum_orchestrator.engine.step_logs import StepLogService
from quantum_orchestrator.engine.step_secrets import StepSecrets, redact_result
from quantum_orchestrator.engine.unit import Tx, UnitOfWork
from quantum_orchestrator.engine.usage import UsageService
from quantum_orchestrator.settings import EngineSettings
from quantum_orchestrator.store.pagination import Page
from quantum_orchestrator.store.types import new_id

Row = dict[str, Any]
# The largest ``data`` of one ``step.progress`` event, in bytes of JSON.
MAX_PROGRESS_BYTES = 256 * 1024


class AgentUnknownError(NotFoundError):
    """The agent id is unknown, offline or lost: the agent must register again."""

    code = "agent_unknown"


class AgentService:
    """Agents' calls, each one short transaction (a claim may wait before it)."""

    def __init__(
        self,
        *,
        uow: UnitOfWork,
        scheduler: Scheduler,
        catalog: Catalog,
        settings: EngineSettings,
        secrets: SecretService | None = None,
    ) -> None:
        self._uow = uow
        self._scheduler = scheduler
        self._catalog = catalog
        self._settings = settings
        self._agents: dict[str, Row] = {}
        self.usage = UsageService(uow=uow, settings=settings)
        # Told of each step an agent finished (node type, state, seconds), after commit.
        self.step_observers: list[Callable[[str, str, float], None]] = []
        self._stopping = False
        self._events = AgentEvents(uow=uow)
        self.secrets = StepSecrets(uow=uow, secrets=secrets)
        self.logs = StepLogService(uow=uow)

    async def register(
        self, *, workspace_id: str, registration: Registration, builtin: bool = False
    ) -> RegistrationAnswer:
        """Record a new agent and the capabilities it offers."""
        repos = self._uow.repos
        agent_id = new_id()
        async with self._uow.write() as tx:
            row = {
                "id": agent_id,
                "workspace_id": workspace_id,
                "name": registration["name"],
                "pool": registration["pool"],
                "capabilities": [c["name"] for c in registration["capabilities"]],
                "concurrency": registration["concurrency"],
                "version": registration["version"],
                "host": registration["host"],
                "pid": registration["pid"],
                "state": AgentState.ONLINE.value,
                "builtin": builtin,
                "registered_at": tx.now,
                "last_heartbeat_at": tx.now,
            }
            await repos.agents.insert(tx.conn, row)
            if not builtin:
                await repos.agents.upsert_capabilities(
                    tx.conn,
                    [
                        {
                            "workspace_id": workspace_id,
                            "name": c["name"],
                            "category": c["category"],
                            "description": c.get("description", ""),
                            "params_schema": c.get("params_schema") or {"type": "object"},
                            "pool": registration["pool"],
                            "updated_at": tx.now,
                        }
                        for c in registration["capabilities"]
                    ],
                )
        self._agents[agent_id] = row
        self._catalog.invalidate(workspace_id)
        self._events.publish(
            row,
            "agent.registered",
            capabilities=row["capabilities"],
            category=agent_category(c["name"] for c in registration["capabilities"]),
            concurrency=row["concurrency"],
            host=row["host"],
            version=row["version"],
            builtin=builtin,
        )
        return {
            "agent_id": agent_id,
            "heartbeat_interval": self._settings.heartbeat_interval,
            "lease_seconds": self._settings.lease_seconds,
            "max_output_bytes": self._settings.max_output_bytes,
        }

    async def _agent(self, agent_id: str, workspace_id: str | None, pool: str | None = None) -> Row:
        row = self._agents.get(agent_id)
        if row is None:
            async with self._uow.read() as conn:
                try:
                    row = await self._uow.repos.agents.get(
                        conn, agent_id=agent_id, workspace_id=workspace_id
                    )
                except NotFoundError:
                    raise AgentUnknownError(f"unknown agent {agent_id!r}: register again") from None
            self._agents[agent_id] = row
        # An agent token speaks only for agents of its own workspace and pool.
        if (workspace_id is not None and row["workspace_id"] != workspace_id) or (
            pool is not None and row["pool"] != pool
        ):
            raise AgentUnknownError(f"unknown agent {agent_id!r}: register again")
        return row

    async def heartbeat(
        self,
        *,
        agent_id: str,
        running: list[str],
        workspace_id: str | None = None,
        pool: str | None = None,
    ) -> HeartbeatAnswer:
        """Extend the leases the agent holds; answer which of its steps it must stop."""
        agent = await self._agent(agent_id, workspace_id, pool)
        repos = self._uow.repos
        async with self._uow.write() as tx:
            # Touching a lost agent changes nothing (it stays lost); it saves a read first.
            state = await repos.agents.touch(tx.conn, agent_id=agent_id, now=tx.now)
            if state in (AgentState.LOST, AgentState.OFFLINE, None):
                self._agents.pop(agent_id, None)
                raise AgentUnknownError(f"agent {agent_id} is {state}: register again")
            held = await repos.steps.extend_leases(
                tx.conn,
                agent_id=agent_id,
                step_ids=running,
                until=tx.now + timedelta(seconds=self._settings.lease_seconds),
            )
        self._events.heartbeat(agent, state=state, running=len(held))
        return {"state": state, "cancel": sorted(set(running) - set(held))}

    async def claim(
        self,
        *,
        agent_id: str,
        max_tasks: int,
        wait: float,
        workspace_id: str | None = None,
        pool: str | None = None,
    ) -> list[Task]:
        """Hand out up to ``max_tasks`` attempts; long-poll up to ``wait`` seconds for work."""
        agent = await self._agent(agent_id, workspace_id, pool)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, wait)
        limit = max(1, min(max_tasks, self._settings.claim_batch))
        while True:
            tasks = await self._claim_once(agent, limit)
            remaining = deadline - loop.time()
            if tasks or remaining <= 0 or self._stopping:
                return tasks
            # Queued work wakes us at once; the timeout only bounds a missed signal.
            await self._uow.signal.wait(min(remaining, 1.0))

    async def _claim_once(self, agent: Row, limit: int) -> list[Task]:
        repos = self._uow.repos
        async with self._uow.write() as tx:
            # A claim is a sign of life; touching the agent first also keeps the lock order
            # (agent, then steps) that heartbeats and the ticker use.
            state = await repos.agents.touch(tx.conn, agent_id=agent["id"], now=tx.now)
            if state != AgentState.ONLINE:
                if state in (AgentState.LOST, AgentState.OFFLINE, None):
                    self._agents.pop(agent["id"], None)
                    raise AgentUnknownError(f"agent {agent['id']} is {state}: register again")
                return []
            step_transition("queued", StepState.RUNNING)
            lease = tx.now + timedelta(seconds=self._settings.lease_seconds)
            rows = await repos.steps.claim(
                tx.conn,
                agent_id=agent["id"],
                capabilities=agent["capabilities"],
                pool=agent["pool"],
                # Built-in agents serve every workspace; others only their own.
                workspace_id=None if agent["builtin"] else agent["workspace_id"],
                now=tx.now,
                lease_expires_at=lease,
                grace=self._settings.lease_seconds,
                limit=limit,
            )
            if not rows:
                return []
            await repos.steps.insert_attempts(
                tx.conn,
                [
                    {
                        "id": new_id(),
                        "step_id": row["id"],
                        "run_id": row["run_id"],
                        "number": row["attempts"],
                        "agent_id": agent["id"],
                        "state": AttemptState.RUNNING.value,
                        "error": None,
                        "started_at": tx.now,
                        "finished_at": None,
                    }
                    for row in rows
                ],
            )
            idle = sorted({row["run_id"] for row in rows if row["run_state"] != "running"})
            if idle:
                started = await repos.runs.mark_running(
                    tx.conn, run_ids=idle, sources=("queued", "waiting"), now=tx.now
                )
                for run in started:
                    tx.event(
                        workspace_id=run["workspace_id"],
                        run_id=run["id"],
                        type="run.running",
                        state="running",
                    )
            for row in rows:
                tx.step_event(
                    row, "running", data={"attempt": row["attempts"], "agent_id": agent["id"]}
                )
            rows = await self._bind_secrets(tx, rows)
            rows = await self._enforce_budgets(tx, rows)
            # Each step's workspace allow-list (SSRF) goes with it: one query per batch.
            allows = await repos.workspaces.http_allows(
                tx.conn, sorted({row["workspace_id"] for row in rows})
            )
        tasks: list[Task] = []
        for row in rows:
            task: Task = {
                "step_id": row["id"],
                "run_id": row["run_id"],
                "node_id": row["node_id"],
                "node_type": row["node_type"],
                "attempt": row["attempts"],
                "params": row["params"],
                "timeout": row["timeout"],
                "idempotency_key": f"{row['run_id']}:{row['node_id']}",
                "lease_expires_at": lease.isoformat(),
                "http_allow": allows.get(row["workspace_id"], []),
            }
            if row.get("secret_values"):
                task["redact"] = row["secret_values"]
            tasks.append(task)
        return tasks

    async def _bind_secrets(self, tx: Tx, rows: list[Row]) -> list[Row]:
        """Bind the claimed steps' secrets; a step whose secret is gone or does not decrypt
        fails now instead of being handed out."""
        bound, failed = await self.secrets.bind(tx, rows)
        if failed:
            heads = await self._uow.repos.steps.heads(tx.conn, [row["id"] for row, _ in failed])
            finished: list[Row] = []
            for row, error in failed:
                outcome = await self.fail_attempt(
                    tx, heads[row["id"]], error, attempt_state=AttemptState.FAILED
                )
                if outcome is not None:
                    finished.append(outcome)
            await self._scheduler.propagate(tx, finished)
        return bound

    async def _enforce_budgets(self, tx: Tx, rows: list[Row]) -> list[Row]:
        """The hard stop: an LLM step of a workspace that spent its monthly budget fails at
        claim (not retryable), before an agent spends more."""
        refused = await self.usage.refusals(tx, rows)
        if not refused:
            return rows
        heads = await self._uow.repos.steps.heads(tx.conn, list(refused))
        finished: list[Row] = []
        for step_id, message in refused.items():
            outcome = await self.fail_attempt(
                tx,
                heads[step_id],
                error_info(BudgetExceededError.code, message),
                attempt_state=AttemptState.FAILED,
            )
            if outcome is not None:
                finished.append(outcome)
        await self._scheduler.propagate(tx, finished)
        return [row for row in rows if row["id"] not in refused]

    async def report(
        self,
        *,
        agent_id: str,
        results: list[Result],
        workspace_id: str | None = None,
        pool: str | None = None,
    ) -> ResultsAnswer:
        """Apply finished attempts: each step finishes, retries or is refused as stale."""
        await self._agent(agent_id, workspace_id, pool)
        repos = self._uow.repos
        accepted: list[str] = []
        rejected: list[str] = []
        async with self._uow.write() as tx:
            # A report is a sign of life too. Touching the agent row first also keeps the lock
            # order of heartbeats and of the ticker (the agent, then its steps): the other
            # order deadlocks with a heartbeat or a lost-agent sweep running at the same time.
            await repos.agents.touch(tx.conn, agent_id=agent_id, now=tx.now)
            steps = await repos.steps.heads(tx.conn, [r["step_id"] for r in results])
            finished: list[Row] = []
            succeeded: list[tuple[str, int, Any]] = []
            for result in results:
                step = steps.get(result["step_id"])
                if (
                    step is None
                    or step["id"] in accepted
                    or step["state"] != StepState.RUNNING
                    or step["agent_id"] != agent_id
                    or step["attempts"] != result["attempt"]
                ):
                    # A late answer for an attempt the engine no longer waits for (cancelled,
                    # timed out or handed to another agent) is refused, not applied; so is a
                    # second result for the same attempt in one batch.
                    rejected.append(result["step_id"])
                    continue
                accepted.append(step["id"])
                step_transition(step["state"], StepState.SUCCEEDED)
                # The step's secrets stay out of what it reports: output, error and log lines.
                values = await self.secrets.values_of(tx, step)
                result = redact_result(result, values)
                if result.get("logs"):
                    await self.logs.store(tx, step, step["attempts"], result["logs"], values)
                error = self._result_error(result)
                if error is None:
                    output = result.get("output")
                    succeeded.append((step["id"], step["attempts"], output))
                    tx.step_event(step, "succeeded", data={"attempt": step["attempts"]})
                    finished.append({**step, "state": "succeeded", "output": output})
                    continue
                outcome = await self.fail_attempt(
                    tx, step, error, attempt_state=AttemptState.FAILED
                )
                if outcome is not None:
                    finished.append(outcome)
            await repos.steps.succeed_many(tx.conn, outcomes=succeeded, now=tx.now)
            # LLM steps' tokens, priced here: same transaction as the step's success.
            await self.usage.record(
                tx, agent_id=agent_id, succeeded=[(steps[sid], out) for sid, _, out in succeeded]
            )
            await self._scheduler.propagate(tx, finished)
            now = tx.now
        for row in finished:
            if row.get("started_at") is not None:
                seconds = (now - row["started_at"]).total_seconds()
                for observe in self.step_observers:
                    observe(row["node_type"], row["state"], seconds)
        return {"accepted": accepted, "rejected": rejected}

    async def progress(
        self,
        *,
        agent_id: str,
        step_id: str,
        attempt: int,
        data: dict[str, Any],
        workspace_id: str | None = None,
        pool: str | None = None,
    ) -> None:
        """Record a ``step.progress`` event (partial output such as streamed text) for an
        attempt the agent holds; refused (409) for any attempt it does not hold."""
        agent = await self._agent(agent_id, workspace_id, pool)
        size = json_size(data)
        if size > MAX_PROGRESS_BYTES:
            raise InvalidInputError(
                f"the progress data is {size} bytes, more than the limit of {MAX_PROGRESS_BYTES}"
            )
        async with self._uow.write() as tx:
            step = await self._held_step(tx, agent, step_id, attempt)
            tx.step_event(step, "progress", state="running", data={**data, "attempt": attempt})

    async def append_logs(
        self,
        *,
        agent_id: str,
        step_id: str,
        attempt: int,
        lines: list[LogLine],
        workspace_id: str | None = None,
        pool: str | None = None,
    ) -> int:
        """Store lines an attempt of this agent logged while it ran (a ``step.logs`` event
        tells watchers). Lines may arrive just after the attempt ended (they were on their way
        with its result); an attempt another agent ran is refused (409). Answers how many were
        kept."""
        agent = await self._agent(agent_id, workspace_id, pool)
        async with self._uow.write() as tx:
            step = await self._visible_step(tx, agent, step_id)
            ran_by = await self._uow.repos.steps.attempt_agent(
                tx.conn, step_id=step_id, number=attempt
            )
            if ran_by != agent_id:
                raise ConflictError(f"the agent did not run attempt {attempt} of step {step_id!r}")
            values = await self.secrets.values_of(tx, step)
            kept = await self.logs.store(tx, step, attempt, lines, values)
            if kept:
                tx.step_event(
                    step, "logs", state=step["state"], data={"attempt": attempt, "lines": kept}
                )
        return kept

    async def _visible_step(self, tx: Tx, agent: Row, step_id: str) -> Row:
        """A step of the agent's workspace (any workspace for built-in agents)."""
        step = (await self._uow.repos.steps.heads(tx.conn, [step_id])).get(step_id)
        # Another workspace's step is none of this agent's business: not found.
        if step is None or (not agent["builtin"] and step["workspace_id"] != agent["workspace_id"]):
            raise NotFoundError(f"no step {step_id!r}")
        return step

    async def _held_step(self, tx: Tx, agent: Row, step_id: str, attempt: int) -> Row:
        """The step of an attempt the agent holds now; else not found or a conflict."""
        step = await self._visible_step(tx, agent, step_id)
        if (
            step["state"] != StepState.RUNNING
            or step["agent_id"] != agent["id"]
            or step["attempts"] != attempt
        ):
            raise ConflictError(f"the agent does not hold attempt {attempt} of step {step_id!r}")
        return step

    def _result_error(self, result: Result) -> dict[str, Any] | None:
        """None for a success within limits, else the error the attempt ends with."""
        if result["status"] == "succeeded":
            size = json_size(result.get("output"))
            if size <= self._settings.max_output_bytes:
                return None
            return error_info(
                "output_too_large",
                f"the output is {size} bytes, more than the limit of "
                f"{self._settings.max_output_bytes}",
            )
        raw: dict[str, Any] = dict(result.get("error") or {})
        error = error_info(
            str(raw.get("code") or "error")[:100],
            str(raw.get("message") or "the step failed")[:10_000],
            retryable=bool(raw.get("retryable", False)),
        )
        hint = raw.get("retry_after")
        if isinstance(hint, int | float) and not isinstance(hint, bool) and math.isfinite(hint):
            # Kept on the stored error (the run view shows it); the next attempt waits for it.
            error["retry_after"] = min(max(float(hint), 0.0), MAX_RETRY_AFTER)
        return error

    async def fail_attempt(
        self,
        tx: Tx,
        step: Row,
        error: dict[str, Any],
        *,
        attempt_state: AttemptState,
        redelivery: bool = False,
    ) -> Row | None:
        """End a running attempt with an error: queue a retry after backoff, or fail the step."""
        repos = self._uow.repos
        await repos.steps.close_attempt(
            tx.conn,
            step_id=step["id"],
            number=step["attempts"],
            state=attempt_state.value,
            error=error,
            now=tx.now,
        )
        retry = self._scheduler.retry_of(step)
        redeliveries = step["redeliveries"] + (1 if redelivery else 0)
        used = step["attempts"] - step["attempt_base"] - redeliveries
        if redelivery:
            again = redeliveries <= self._settings.max_redeliveries
            delay = 0.0
        else:
            again = bool(error.get("retryable")) and used < retry.max_attempts
            delay = retry_delay(retry.delay(used), error.get("retry_after"))
        if again:
            step_transition(step["state"], StepState.QUEUED)
            await repos.steps.update(
                tx.conn,
                step_id=step["id"],
                sources=("running",),
                values={
                    "state": "queued",
                    "error": error,
                    "redeliveries": redeliveries,
                    "available_at": tx.now + timedelta(seconds=delay),
                    "agent_id": None,
                    "lease_expires_at": None,
                    "deadline_at": None,
                },
            )
            tx.step_event(
                step,
                "retrying",
                state="queued",
                data={"attempt": step["attempts"], "error": error, "delay": round(delay, 3)},
            )
            if delay <= 0:
                tx.work_queued = True
            return None
        step_transition(step["state"], StepState.FAILED)
        await repos.steps.update(
            tx.conn,
            step_id=step["id"],
            sources=("running",),
            values={
                "state": "failed",
                "error": error,
                "redeliveries": redeliveries,
                "finished_at": tx.now,
                "lease_expires_at": None,
                "deadline_at": None,
            },
        )
        tx.step_event(step, "failed", data={"attempt": step["attempts"], "error": error})
        return {**step, "state": "failed", "error": error}

    async def deregister(
        self, *, agent_id: str, workspace_id: str | None = None, pool: str | None = None
    ) -> None:
        """The agent leaves: offline; whatever it still held goes back to the queue."""
        await self._agent(agent_id, workspace_id, pool)
        repos = self._uow.repos
        async with self._uow.write() as tx:
            await repos.agents.set_state(
                tx.conn,
                agent_id=agent_id,
                sources=("online", "draining"),
                state=AgentState.OFFLINE.value,
            )
            await repos.steps.expire_agent_leases(tx.conn, agent_id=agent_id, now=tx.now)
        agent = self._agents.pop(agent_id, None)
        self._events.forget(agent_id)
        if agent is not None:
            self._events.publish(agent, "agent.offline", state=AgentState.OFFLINE.value)

    async def drain(self, *, agent_id: str, workspace_id: str) -> Row:
        """Ask an agent to stop taking work; it finishes what it holds."""
        async with self._uow.write() as tx:
            row = await self._uow.repos.agents.get(
                tx.conn, agent_id=agent_id, workspace_id=workspace_id
            )
            if row["state"] != AgentState.ONLINE:
                raise ConflictError(
                    f"the agent is {row['state']}; only an online agent can be drained"
                )
            await self._uow.repos.agents.set_state(
                tx.conn, agent_id=agent_id, sources=("online",), state=AgentState.DRAINING.value
            )
        drained = await self.get(agent_id=agent_id, workspace_id=workspace_id)
        self._events.publish(drained, "agent.draining")
        return drained

    async def get(self, *, agent_id: str, workspace_id: str) -> Row:
        """One agent, with its running steps counted."""
        async with self._uow.read() as conn:
            page = await self._uow.repos.agents.page(
                conn, workspace_id=workspace_id, limit=1, cursor=None, agent_id=agent_id
            )
        if not page.items:
            raise NotFoundError(f"no agent {agent_id!r}")
        return page.items[0]

    async def page(
        self,
        *,
        workspace_id: str,
        limit: int,
        cursor: str | None,
        state: str | None,
        pool: str | None = None,
    ) -> Page:
        """Agents of the workspace (of one state, of one pool)."""
        async with self._uow.read() as conn:
            return await self._uow.repos.agents.page(
                conn, workspace_id=workspace_id, limit=limit, cursor=cursor, state=state, pool=pool
            )

    def stop_waiting(self) -> None:
        """The server is stopping: long-polling claims answer now, and later ones at once."""
        self._stopping = True
        self._uow.signal.notify()

    def forget(self, agent_id: str) -> None:
        """Drop the cached row of an agent (it was marked lost), and announce it once the
        transaction that marked it has committed."""
        self._agents.pop(agent_id, None)
        self._events.forget(agent_id)
        self._events.announce_lost(agent_id)
