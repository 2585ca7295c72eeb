"""The capabilities the end-to-end agents serve; copied into each test's directory as tasks.py.

Every attempt appends a line to ``attempts.jsonl`` beside this file. A ``test.slow`` step sleeps
``first_sleep`` seconds the first time its idempotency key is seen (a marker file remembers it)
and ``sleep`` seconds on later deliveries, so a redelivered step finishes quickly.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path
from typing import Any

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.sdk import Agent

HERE = Path(__file__).resolve().parent
ATTEMPTS = HERE / "attempts.jsonl"

agent = Agent(pool="e2e", concurrency=2)


def _record(kind: str, params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    entry = {
        "kind": kind,
        "run_id": ctx.run_id,
        "step_id": ctx.step_id,
        "attempt": ctx.attempt,
        "key": ctx.idempotency_key,
        "pid": os.getpid(),
        "tag": params.get("tag"),
    }
    with ATTEMPTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\n")
    return entry


@agent.capability("test.slow", category="test")
async def slow(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    """Sleep long on the first delivery of a step, briefly on the next ones."""
    entry = _record("slow", params, ctx)
    marker = HERE / f"seen-{str(ctx.idempotency_key).replace(':', '_')}"
    first = not marker.exists()
    marker.touch()
    ctx.logger.info("holding for %s s (first delivery: %s)", params.get("first_sleep"), first)
    await asyncio.sleep(float(params.get("first_sleep" if first else "sleep", 0)))
    return {"tag": entry["tag"], "attempt": ctx.attempt, "pid": entry["pid"], "first": first}


@agent.capability("test.echo", category="test")
async def echo(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    """Answer with a value that differs on every execution (a re-run would change it)."""
    entry = _record("echo", params, ctx)
    return {"tag": entry["tag"], "nonce": uuid.uuid4().hex, "pid": entry["pid"]}
