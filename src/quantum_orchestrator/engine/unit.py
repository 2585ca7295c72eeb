"""The unit of work: one write transaction, the events it produced, and what to do after commit.

Engine rule 1 lives here: a state change and its timeline events commit together, and
listeners hear of them only once they are durable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from quantum_orchestrator.events.bus import LocalEventBus
from quantum_orchestrator.store.agents import AgentStore
from quantum_orchestrator.store.audit import AuditStore
from quantum_orchestrator.store.credentials import CredentialStore
from quantum_orchestrator.store.database import Database
from quantum_orchestrator.store.events import EventStore
from quantum_orchestrator.store.runs import RunStore
from quantum_orchestrator.store.secrets import SecretStore
from quantum_orchestrator.store.step_logs import StepLogStore
from quantum_orchestrator.store.steps import StepStore
from quantum_orchestrator.store.triggers import TriggerStore
from quantum_orchestrator.store.types import utcnow
from quantum_orchestrator.store.users import UserStore
from quantum_orchestrator.store.workflows import WorkflowStore
from quantum_orchestrator.store.workspaces import WorkspaceStore


@dataclass(frozen=True, kw_only=True)
class Repositories:
    """The store's small interfaces, one per table family."""

    workflows: WorkflowStore
    runs: RunStore
    steps: StepStore
    agents: AgentStore
    events: EventStore
    secrets: SecretStore = field(default_factory=SecretStore)
    users: UserStore = field(default_factory=UserStore)
    workspaces: WorkspaceStore = field(default_factory=WorkspaceStore)
    credentials: CredentialStore = field(default_factory=CredentialStore)
    audit: AuditStore = field(default_factory=AuditStore)
    triggers: TriggerStore = field(default_factory=TriggerStore)
    step_logs: StepLogStore = field(default_factory=StepLogStore)

    @classmethod
    def for_database(cls, db: Database) -> Repositories:
        """Repositories with the dialect specifics of ``db``."""
        return cls(
            workflows=WorkflowStore(),
            runs=RunStore(),
            steps=StepStore(skip_locked=not db.is_sqlite),
            agents=AgentStore(dialect=db.dialect),
            events=EventStore(),
            triggers=TriggerStore(skip_locked=not db.is_sqlite),
        )


@dataclass(kw_only=True)
class Tx:
    """A write transaction in progress."""

    conn: AsyncConnection
    now: datetime
    events: list[dict[str, Any]] = field(default_factory=list)
    work_queued: bool = False
    # Runs that had a step queued in this transaction.
    queued_runs: set[str] = field(default_factory=set)

    def event(
        self,
        *,
        workspace_id: str,
        run_id: str,
        type: str,
        step_id: str | None = None,
        node_id: str | None = None,
        state: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record a timeline event; it is written with the transaction."""
        self.events.append(
            {
                "workspace_id": workspace_id,
                "run_id": run_id,
                "step_id": step_id,
                "node_id": node_id,
                "type": type,
                "state": state,
                "data": data,
                "ts": self.now,
            }
        )

    def step_event(
        self,
        step: dict[str, Any],
        kind: str,
        *,
        state: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record ``step.<kind>`` for a step row (state defaults to ``kind``)."""
        self.event(
            workspace_id=step["workspace_id"],
            run_id=step["run_id"],
            type=f"step.{kind}",
            step_id=step["id"],
            node_id=step["node_id"],
            state=state or kind,
            data=data,
        )


class WorkSignal:
    """Wakes long-polling claimers when steps are queued (instead of polling the database)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        """Wake every waiter."""
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Return when notified or after ``timeout`` seconds."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            return


class UnitOfWork:
    """Opens transactions and carries their consequences out after commit."""

    def __init__(
        self, *, db: Database, repos: Repositories, bus: LocalEventBus, signal: WorkSignal
    ) -> None:
        self.db = db
        self.repos = repos
        self.bus = bus
        self.signal = signal

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Tx]:
        """A write transaction; its events are persisted in it and published after it."""
        async with self.db.write() as conn:
            tx = Tx(conn=conn, now=utcnow())
            yield tx
            persisted = await self.repos.events.append(conn, tx.events)
        if persisted:
            self.bus.publish(persisted)
        if tx.work_queued:
            self.signal.notify()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read transaction."""
        async with self.db.read() as conn:
            yield conn
