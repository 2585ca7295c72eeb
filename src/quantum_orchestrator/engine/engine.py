"""The engine assembled: services over one database, with an explicit lifecycle."""

from __future__ import annotations

import asyncio
import contextlib

from quantum_orchestrator.domain.node_types import builtin_catalog
from quantum_orchestrator.engine.accounts import AccountService
from quantum_orchestrator.engine.agents import AgentService
from quantum_orchestrator.engine.approvals import ApprovalService
from quantum_orchestrator.engine.audit import AuditService
from quantum_orchestrator.engine.catalog import Catalog
from quantum_orchestrator.engine.keys import KeyService
from quantum_orchestrator.engine.plans import PlanCache
from quantum_orchestrator.engine.runs import RunService
from quantum_orchestrator.engine.scheduler import Scheduler
from quantum_orchestrator.engine.secrets import SecretService
from quantum_orchestrator.engine.ticker import Ticker
from quantum_orchestrator.engine.triggers import TriggerService
from quantum_orchestrator.engine.unit import Repositories, UnitOfWork, WorkSignal
from quantum_orchestrator.engine.workflows import WorkflowService
from quantum_orchestrator.engine.workspaces import WorkspaceService
from quantum_orchestrator.events.bus import LocalEventBus
from quantum_orchestrator.security.secrets import SecretBox
from quantum_orchestrator.settings import AuthSettings, EngineSettings
from quantum_orchestrator.store.database import Database


class Engine:
    """Workflows, runs and agents services, and the timer loop; ``start()``/``shutdown()``."""

    def __init__(
        self,
        *,
        db: Database,
        settings: EngineSettings,
        bus: LocalEventBus | None = None,
        secret_box: SecretBox | None = None,
        auth: AuthSettings | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.bus = bus or LocalEventBus()
        self.uow = UnitOfWork(
            db=db, repos=Repositories.for_database(db), bus=self.bus, signal=WorkSignal()
        )
        self.catalog = Catalog(uow=self.uow)
        self.plans = PlanCache(settings=settings, catalog=builtin_catalog())
        self.scheduler = Scheduler(
            repos=self.uow.repos, plans=self.plans, settings=settings, catalog=self.catalog
        )
        self.workflows = WorkflowService(
            uow=self.uow, catalog=self.catalog, plans=self.plans, settings=settings
        )
        self.runs = RunService(uow=self.uow, scheduler=self.scheduler)
        self.approvals = ApprovalService(uow=self.uow, scheduler=self.scheduler)
        self.secrets = SecretService(uow=self.uow, box=secret_box)
        self.accounts = AccountService(uow=self.uow, settings=auth or AuthSettings())
        self.workspaces = WorkspaceService(uow=self.uow, accounts=self.accounts)
        self.keys = KeyService(uow=self.uow)
        self.audit = AuditService(uow=self.uow)
        self.agents = AgentService(
            uow=self.uow,
            scheduler=self.scheduler,
            catalog=self.catalog,
            settings=settings,
            secrets=self.secrets,
        )
        self.triggers = TriggerService(
            uow=self.uow, scheduler=self.scheduler, runs=self.runs, box=secret_box
        )
        self.scheduler.run_finished.append(self.triggers.run_finished)
        self.ticker = Ticker(
            uow=self.uow,
            scheduler=self.scheduler,
            agents=self.agents,
            settings=settings,
            triggers=self.triggers,
        )
        self._ticker_task: asyncio.Task[None] | None = None
        self.step_observers = self.agents.step_observers

    async def start(self) -> None:
        """Start the timer loop."""
        if self._ticker_task is None:
            self._ticker_task = asyncio.create_task(self.ticker.run(), name="qo-ticker")

    async def shutdown(self) -> None:
        """Stop the timer loop (the database stays open: its owner closes it)."""
        self.ticker.shutdown()
        if self._ticker_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker_task
            self._ticker_task = None
