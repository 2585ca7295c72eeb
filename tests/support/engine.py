"""Drive the engine directly, acting as an agent through the engine's own agent service."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quantum_orchestrator.domain.agent_protocol import Result, Task
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.security.secrets import SecretBox
from quantum_orchestrator.settings import EngineSettings
from quantum_orchestrator.store.database import Database, DatabaseOptions
from quantum_orchestrator.store.migrate import upgrade

WORKSPACE = "00000000000000000000000000000001"
TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class EngineEnv:
    """A database, an engine, and helpers to deploy, run and play an agent."""

    db: Database
    engine: Engine
    agent_ids: list[str] = field(default_factory=list)

    @classmethod
    async def open(
        cls, url: str, *, secret_box: SecretBox | None = None, **engine_settings: Any
    ) -> EngineEnv:
        """Migrate ``url`` and start an engine over it with fast test timers (and a random
        secrets key unless ``secret_box`` is given)."""
        db = Database(options=DatabaseOptions(url=url))
        await upgrade(db)
        values: dict[str, Any] = {
            "lease_seconds": 2.0,
            "heartbeat_interval": 0.3,
            "agent_lost_after": 2.0,
            "tick_interval": 0.05,
            **engine_settings,
        }
        engine = Engine(
            db=db,
            settings=EngineSettings(**values),
            secret_box=secret_box or SecretBox(os.urandom(32)),
        )
        await engine.start()
        return cls(db=db, engine=engine)

    async def close(self) -> None:
        """Stop the engine and close the database."""
        await self.engine.shutdown()
        await self.db.dispose()

    async def deploy(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Create or update the workflow and deploy a version."""
        workflows = self.engine.workflows
        try:
            await workflows.get(workspace_id=WORKSPACE, ref=spec["name"])
            await workflows.update(workspace_id=WORKSPACE, ref=spec["name"], document=spec)
        except Exception:
            await workflows.create(workspace_id=WORKSPACE, document=spec)
        return await workflows.deploy(workspace_id=WORKSPACE, ref=spec["name"])

    async def start(
        self, name: str, inputs: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Start a run."""
        run, _ = await self.engine.runs.start(
            workspace_id=WORKSPACE, ref=name, inputs=inputs or {}, **kwargs
        )
        return run

    async def run(self, run_id: str) -> dict[str, Any]:
        """A run with its steps."""
        return await self.engine.runs.get(workspace_id=WORKSPACE, run_id=run_id)

    async def register(
        self, capabilities: list[str], *, pool: str = "test", concurrency: int = 64
    ) -> str:
        """Register an agent offering ``capabilities``; answers its id."""
        answer = await self.engine.agents.register(
            workspace_id=WORKSPACE,
            registration={
                "name": f"test-{len(self.agent_ids)}",
                "pool": pool,
                "capabilities": [{"name": c, "category": c.split(".")[0]} for c in capabilities],
                "concurrency": concurrency,
                "version": "test",
                "host": "localhost",
                "pid": 0,
            },
        )
        self.agent_ids.append(answer["agent_id"])
        return answer["agent_id"]

    async def claim(self, agent_id: str, max_tasks: int = 64, wait: float = 0.0) -> list[Task]:
        """Claim tasks as the agent."""
        return await self.engine.agents.claim(agent_id=agent_id, max_tasks=max_tasks, wait=wait)

    async def report(self, agent_id: str, results: list[Result]) -> dict[str, Any]:
        """Report results as the agent."""
        return dict(await self.engine.agents.report(agent_id=agent_id, results=results))

    async def work(
        self,
        agent_id: str,
        run_id: str,
        handler: Callable[[Task], Result] | None = None,
        *,
        timeout: float = 20.0,
    ) -> dict[str, Any]:
        """Claim and answer tasks until the run ends; ``handler`` decides each result."""

        def default(task: Task) -> Result:
            return {
                "step_id": task["step_id"],
                "attempt": task["attempt"],
                "status": "succeeded",
                "output": task["params"] or None,
            }

        decide = handler or default
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            run = await self.engine.runs.get(
                workspace_id=WORKSPACE, run_id=run_id, with_steps=False
            )
            if run["state"] in TERMINAL:
                return await self.run(run_id)
            tasks = await self.claim(agent_id, wait=0.05)
            if tasks:
                await self.report(agent_id, [decide(task) for task in tasks])
        raise AssertionError(f"run {run_id} did not finish in {timeout} s")

    async def wait_state(
        self, run_id: str, states: set[str], timeout: float = 20.0
    ) -> dict[str, Any]:
        """Poll until the run is in one of ``states``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            run = await self.run(run_id)
            if run["state"] in states:
                return run
            await asyncio.sleep(0.02)
        raise AssertionError(f"run {run_id} never reached {states}")


def steps_by_node(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A run's steps keyed by node id."""
    return {step["node_id"]: step for step in run["steps"]}
