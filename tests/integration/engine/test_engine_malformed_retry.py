"""A step whose stored retry policy is malformed holds up neither the ticker nor an agent's batch.

A benchmark seed once wrote such rows straight into the database, around the spec's validation.
Reading the policy then raised inside the transaction that ends attempts: the ticker's batch of
expired attempts rolled back at every tick (so no other step's timer fired), and an agent's
result batch rolled back whole (so every other step's result was lost). The policy now falls
back to the defaults (with one warning per step). The ticker loop also survives a timer that
fails for any other reason, without starving the other timers or spinning.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import timedelta
from typing import Any

import pytest
from tests.support.engine import EngineEnv, steps_by_node
from tests.support.engine_tools import (
    OpenEnv,
    attempt_rows,
    claim_until,
    fail,
    ok,
    set_step,
    step_rows,
    until,
)

from quantum_orchestrator.domain.agent_protocol import Task
from quantum_orchestrator.store.types import utcnow

W = "test.work"
# What the seed wrote, and other shapes a hand-written row may take.
MALFORMED: list[Any] = [
    {"max_attempts": "three", "backoff": None},
    {"initial_interval": 0.5},
    ["not", "an", "object"],
    "3",
]


async def two_steps(env: EngineEnv) -> tuple[str, dict[str, Any], dict[str, Task]]:
    """Deploy and start ``pair`` (two independent agent steps ``bad`` and ``good``, one attempt
    each), claim both; answers the agent id, the run and the claimed tasks by node."""
    agent = await env.register([W])
    one_attempt = {"max_attempts": 1}
    await env.deploy(
        {
            "name": "pair",
            "nodes": [
                {"id": "bad", "type": W, "params": {}, "retry": one_attempt},
                {"id": "good", "type": W, "params": {}, "retry": one_attempt},
            ],
        }
    )
    run = await env.start("pair")
    claimed = {task["step_id"]: task for task in await claim_until(env, agent, 2)}
    rows = await step_rows(env, run["id"])
    return agent, run, {node: claimed[row["id"]] for node, row in rows.items()}


def retry_warnings(caplog: pytest.LogCaptureFixture, step_id: str) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if "malformed retry policy" in r.getMessage() and step_id in r.getMessage()
    ]


@pytest.mark.parametrize("malformed", MALFORMED, ids=["wrong-types", "missing", "list", "str"])
async def test_an_agent_batch_applies_the_other_results(
    engine_env: EngineEnv, malformed: Any
) -> None:
    agent, run, tasks = await two_steps(engine_env)
    ids = {node: task["step_id"] for node, task in tasks.items()}
    await set_step(engine_env, ids["bad"], retry=malformed)
    # One batch: the malformed step failed (so its policy is read), the other one succeeded.
    answer = await engine_env.report(
        agent, [fail(tasks["bad"], "flaky", retryable=True), ok(tasks["good"], "fine")]
    )
    assert answer == {"accepted": [ids["bad"], ids["good"]], "rejected": []}
    rows = await step_rows(engine_env, run["id"])
    # The normal step's result is applied...
    assert rows["good"]["state"] == "succeeded"
    assert rows["good"]["output"] == "fine"
    # ... and the malformed one is retried by the default policy (3 attempts, backoff of at
    # most 1 s before the second), not by what it was deployed with (1 attempt).
    assert rows["bad"]["state"] == "queued"
    assert rows["bad"]["error"]["code"] == "flaky"
    (first,) = await attempt_rows(engine_env, ids["bad"])
    assert first["state"] == "failed"
    assert rows["bad"]["available_at"] - first["finished_at"] <= timedelta(seconds=1.001)
    # The row keeps what was stored: the engine reads around it, it does not rewrite it.
    assert rows["bad"]["retry"] == malformed

    await set_step(engine_env, ids["bad"], available_at=utcnow() - timedelta(milliseconds=1))
    (again,) = await claim_until(engine_env, agent)
    assert (again["step_id"], again["attempt"]) == (ids["bad"], 2)
    await engine_env.report(agent, [ok(again, "recovered")])
    done = await engine_env.wait_state(run["id"], {"succeeded"})
    assert steps_by_node(done)["bad"]["output"] == "recovered"


async def test_the_ticker_still_fires_the_other_steps_timers(
    engine_env: EngineEnv, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="quantum_orchestrator.engine")
    _, run, tasks = await two_steps(engine_env)
    ids = {node: task["step_id"] for node, task in tasks.items()}
    past = utcnow() - timedelta(seconds=1)
    await set_step(engine_env, ids["bad"], retry=MALFORMED[0], deadline_at=past)
    await set_step(engine_env, ids["good"], deadline_at=past)

    # Both attempts ran past their deadline: the ticker ends them in one batch.
    rows = await until(
        lambda: step_rows(engine_env, run["id"]),
        lambda rows: rows["good"]["state"] != "running" and rows["bad"]["state"] != "running",
        what="both deadlines fired",
    )
    # The well-formed step used its one attempt: it failed with the timeout.
    assert rows["good"]["state"] == "failed"
    assert rows["good"]["error"]["code"] == "timeout"
    # The malformed one is retried by the default policy.
    assert rows["bad"]["state"] == "queued"
    assert rows["bad"]["error"]["code"] == "timeout"
    assert [a["state"] for a in await attempt_rows(engine_env, ids["bad"])] == ["failed"]
    warnings = retry_warnings(caplog, ids["bad"])
    assert len(warnings) == 1, warnings
    assert "max_attempts = 'three'" in warnings[0]
    assert not retry_warnings(caplog, ids["good"])


async def test_the_ticker_loop_outlives_a_failing_timer(
    open_env: OpenEnv, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="quantum_orchestrator.engine")
    env = await open_env(tick_interval=0.05)
    calls: list[float] = []
    loop = asyncio.get_running_loop()

    async def broken() -> None:
        calls.append(loop.time())
        raise RuntimeError("the lease sweep is broken")

    # A timer that fails at every tick, before the one that wakes delays.
    monkeypatch.setattr(env.engine.ticker, "expire_leases", broken)
    await env.deploy(
        {"name": "nap", "nodes": [{"id": "wait", "type": "core.delay", "params": {"seconds": 0.2}}]}
    )
    run = await env.start("nap")
    done = await env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
    # The other timers kept firing: the delay ended.
    assert done["state"] == "succeeded"
    await asyncio.sleep(0.3)
    # It was tried again at every tick, and never faster: a full tick interval between two
    # tries (a little less allowed for the event loop's clock resolution).
    assert len(calls) >= 3
    gaps = [later - earlier for earlier, later in itertools.pairwise(calls)]
    assert min(gaps) >= 0.04, gaps
    # Logged once with its traceback, not at every tick.
    logged = [r for r in caplog.records if "timer lease expiry failed" in r.getMessage()]
    assert len(logged) == 1, [r.getMessage() for r in logged]
    assert logged[0].levelno == logging.ERROR
    assert logged[0].exc_info is not None

    # Mended, it runs again, and the recovery is told.
    monkeypatch.undo()

    async def recovered() -> bool:
        return any("timer lease expiry works again" in r.getMessage() for r in caplog.records)

    await until(recovered, bool, what="recovery logged")
