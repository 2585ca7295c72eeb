"""Time ``GET /api/v1/overview`` over a large workspace on SQLite.

    .venv/bin/python bench/overview.py [--runs 10000] [--steps-per-run 5] [--calls 20]

Seeds a temporary SQLite database (migrated by the app itself) with ``--runs`` runs spread
over the last week, each with ``--steps-per-run`` steps, plus LLM usage rows and a few agents,
through the store's tables in large batches; then calls the endpoint through the ASGI app
(httpx's ASGI transport: no network in the measurement) ``--calls`` times after one warm-up and
prints the median and p95 latency in milliseconds as one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from quantum_orchestrator.api.app import create_app
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.settings import Settings
from quantum_orchestrator.store.database import Database
from quantum_orchestrator.store.tables import agents, runs, steps, usage, versions, workflows
from quantum_orchestrator.store.types import new_id

WORKSPACE = "00000000000000000000000000000001"
ADMIN_EMAIL = "bench@example.com"
ADMIN_PASSWORD = secrets.token_urlsafe(16)
_RUN_STATES = ("succeeded",) * 14 + ("failed", "cancelled", "running", "queued")
_NODE_TYPES = ("core.noop", "specialized.http_request", "ml.classify", "generative.llm_chat")


async def seed(
    db: Database, *, runs_count: int, steps_per_run: int, now: datetime, seed_value: int = 7
) -> dict[str, int]:
    """Insert runs spread over the last 7 days, their steps, usage rows and agents."""
    rng = random.Random(seed_value)
    workflow_id, version_id = new_id(), new_id()
    run_rows: list[dict[str, Any]] = []
    step_rows: list[dict[str, Any]] = []
    usage_rows: list[dict[str, Any]] = []
    for index in range(runs_count):
        created = now - timedelta(seconds=rng.uniform(0, 7 * 86400))
        state = rng.choice(_RUN_STATES)
        finished = state in ("succeeded", "failed", "cancelled")
        run_seconds = rng.uniform(0.05, 30.0)
        run_id = new_id()
        run_rows.append(
            {
                "id": run_id,
                "workspace_id": WORKSPACE,
                "workflow_id": workflow_id,
                "workflow_name": "bench",
                "version_id": version_id,
                "version": 1,
                "state": state,
                "inputs": {},
                "trigger": "api",
                "created_at": created,
                "started_at": created,
                "finished_at": created + timedelta(seconds=run_seconds) if finished else None,
                "updated_at": created,
                "depth": 0,
            }
        )
        for node in range(steps_per_run):
            started = created + timedelta(seconds=node * run_seconds / steps_per_run)
            step_state = "succeeded" if finished else "queued"
            step_rows.append(
                {
                    "id": new_id(),
                    "run_id": run_id,
                    "workspace_id": WORKSPACE,
                    "node_id": f"n{node}",
                    "node_type": _NODE_TYPES[node % len(_NODE_TYPES)],
                    "state": step_state,
                    "params": {"i": index},
                    "attempts": 1,
                    "attempt_base": 0,
                    "redeliveries": 0,
                    "retry": {},
                    "timeout": 30.0,
                    "trigger_rule": "all_success",
                    "up_total": 0,
                    "up_succeeded": 0,
                    "up_failed": 0,
                    "up_skipped": 0,
                    "available_at": started,
                    "queued_at": started,
                    "started_at": started if finished else None,
                    "finished_at": (
                        started + timedelta(seconds=rng.uniform(0.001, 5.0)) if finished else None
                    ),
                }
            )
        if index % 4 == 0:
            usage_rows.append(
                {
                    "id": new_id(),
                    "workspace_id": WORKSPACE,
                    "run_id": run_id,
                    "step_id": step_rows[-1]["id"],
                    "node_id": "n0",
                    "model": "bench-model",
                    "prompt_tokens": rng.randint(10, 2000),
                    "completion_tokens": rng.randint(10, 500),
                    "cost": 0.001,
                    "created_at": created,
                }
            )
    async with db.write() as conn:
        await conn.execute(
            workflows.insert().values(
                id=workflow_id,
                workspace_id=WORKSPACE,
                name="bench",
                description="",
                spec={},
                latest_version=1,
                created_at=now,
                updated_at=now,
            )
        )
        await conn.execute(
            versions.insert().values(
                id=version_id,
                workflow_id=workflow_id,
                workspace_id=WORKSPACE,
                number=1,
                spec={},
                created_at=now,
            )
        )
        for table, rows in ((runs, run_rows), (steps, step_rows), (usage, usage_rows)):
            for start in range(0, len(rows), 5000):
                await conn.execute(table.insert(), rows[start : start + 5000])
        await conn.execute(
            agents.insert(),
            [
                {
                    "id": new_id(),
                    "workspace_id": WORKSPACE,
                    "name": f"agent-{n}",
                    "pool": "default",
                    "capabilities": [_NODE_TYPES[n % len(_NODE_TYPES)]],
                    "concurrency": 8,
                    "version": "bench",
                    "host": "bench",
                    "pid": n,
                    "state": "online" if n % 3 else "offline",
                    "builtin": False,
                    "registered_at": now,
                    "last_heartbeat_at": now,
                }
                for n in range(20)
            ],
        )
    return {"runs": len(run_rows), "steps": len(step_rows), "usage": len(usage_rows)}


async def main(arguments: argparse.Namespace) -> dict[str, Any]:
    """Seed, warm up, measure."""
    with tempfile.TemporaryDirectory() as directory:
        settings = Settings(
            data_dir=Path(directory),
            database={"url": f"sqlite+aiosqlite:///{directory}/qo.db"},  # type: ignore[arg-type]
            agents={"enabled": False},  # type: ignore[arg-type]
            api={"rate_limit": 0},  # type: ignore[arg-type]
            admin_email=ADMIN_EMAIL,
            admin_password=ADMIN_PASSWORD,  # type: ignore[arg-type]
            log_format="json",
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            engine: Engine = app.state.engine
            now = datetime.now(UTC)
            started = time.perf_counter()
            counts = await seed(
                engine.db,
                runs_count=arguments.runs,
                steps_per_run=arguments.steps_per_run,
                now=now,
            )
            print(f"seeded {counts} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            login = await engine.accounts.login(
                email=ADMIN_EMAIL, password=ADMIN_PASSWORD, source_ip="127.0.0.1", user_agent="b"
            )
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport,
                base_url="http://bench",
                headers={"Authorization": f"Bearer {login.token}"},
            ) as client:
                timings: list[float] = []
                for call in range(arguments.calls + 1):
                    began = time.perf_counter()
                    response = await client.get(
                        "/api/v1/overview", params={"window_hours": arguments.window_hours}
                    )
                    elapsed = (time.perf_counter() - began) * 1000
                    response.raise_for_status()
                    if call:  # the first call warms caches and the connection pool
                        timings.append(elapsed)
                body = response.json()
        timings.sort()
        return {
            "endpoint": "GET /api/v1/overview",
            "database": "sqlite",
            "window_hours": arguments.window_hours,
            **counts,
            "calls": arguments.calls,
            "median_ms": round(statistics.median(timings), 1),
            "p95_ms": round(timings[max(0, -(-95 * len(timings) // 100) - 1)], 1),
            "max_ms": round(timings[-1], 1),
            "runs_in_window": body["runs"]["created"],
            "steps_finished_in_window": body["steps"]["finished"],
        }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--steps-per-run", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--window-hours", type=int, default=24)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
