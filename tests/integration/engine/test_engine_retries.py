"""Retries with backoff, leases, deadlines, lost agents, and stale results."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta
from typing import Any

import pytest
from tests.support.engine import WORKSPACE, EngineEnv, steps_by_node
from tests.support.engine_tools import (
    OpenEnv,
    attempt_rows,
    claim_until,
    fail,
    ok,
    step_rows,
    timeline,
    until,
)

from quantum_orchestrator.domain.plan import Retry
from quantum_orchestrator.engine.agents import AgentUnknownError
from quantum_orchestrator.store.types import utcnow

W = "test.work"


async def one_step(env: EngineEnv, *, retry: dict[str, Any] | None = None, **node: Any) -> str:
    """Register an agent, deploy a one-node workflow ``solo``; answers the agent id."""
    agent = await env.register([W])
    spec_node: dict[str, Any] = {"id": "a", "type": W, "params": {}, **node}
    if retry is not None:
        spec_node["retry"] = retry
    await env.deploy({"name": "solo", "nodes": [spec_node]})
    return agent


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    retry = Retry(max_attempts=10, initial_interval=0.5, backoff=3.0, max_interval=10.0)
    caps = [0.5, 1.5, 4.5, 10.0, 10.0, 10.0]
    rng = random.Random(1234)
    twin = random.Random(1234)
    for attempt, cap in enumerate(caps, start=1):
        samples = [retry.delay(attempt, rng) for _ in range(200)]
        assert samples == [twin.uniform(0, cap) for _ in range(200)]
        assert all(0 <= s <= cap for s in samples)
        # Full jitter: the whole range is used, not only the top of it.
        assert min(samples) < cap * 0.1
        assert max(samples) > cap * 0.9
    assert 0 <= retry.delay(0, rng) <= 0.5
    assert Retry(max_attempts=2, initial_interval=0).delay(5, rng) == 0


async def test_retryable_error_requeues_after_backoff(engine_env: EngineEnv) -> None:
    retry = {"max_attempts": 3, "initial_interval": 30, "max_interval": 30}
    agent = await one_step(engine_env, retry=retry)
    run = await engine_env.start("solo")
    (task,) = await claim_until(engine_env, agent)
    assert task["attempt"] == 1
    answer = await engine_env.report(agent, [fail(task, "flaky", retryable=True)])
    assert answer == {"accepted": [task["step_id"]], "rejected": []}
    step = (await step_rows(engine_env, run["id"]))["a"]
    assert step["state"] == "queued"
    assert step["agent_id"] is None
    assert step["error"]["code"] == "flaky"
    (first,) = await attempt_rows(engine_env, task["step_id"])
    assert first["state"] == "failed"
    assert first["error"]["code"] == "flaky"
    delay = (step["available_at"] - first["finished_at"]).total_seconds()
    assert 0 < delay <= 30
    if step["available_at"] > utcnow() + timedelta(seconds=0.5):
        assert await engine_env.claim(agent) == []
    # Time passes: the timer in the database is what the queue obeys.
    await _make_available(engine_env, task["step_id"])
    (again,) = await claim_until(engine_env, agent)
    assert (again["step_id"], again["attempt"]) == (task["step_id"], 2)
    await engine_env.report(agent, [ok(again, "fine")])
    done = await engine_env.wait_state(run["id"], {"succeeded"})
    a = steps_by_node(done)["a"]
    assert a["output"] == "fine"
    assert a["error"] is None
    assert [(t["number"], t["state"]) for t in a["attempt_rows"]] == [
        (1, "failed"),
        (2, "succeeded"),
    ]
    retrying = [e for e in await timeline(engine_env, run["id"]) if e["type"] == "step.retrying"]
    assert len(retrying) == 1
    assert retrying[0]["state"] == "queued"
    assert 0 < retrying[0]["data"]["delay"] <= 30


async def _make_available(env: EngineEnv, step_id: str) -> None:
    from tests.support.engine_tools import set_step

    await set_step(env, step_id, available_at=utcnow() - timedelta(milliseconds=1))


async def test_non_retryable_error_fails_at_once(engine_env: EngineEnv) -> None:
    agent = await one_step(engine_env, retry={"max_attempts": 5, "initial_interval": 0})
    run = await engine_env.start("solo")
    (task,) = await claim_until(engine_env, agent)
    await engine_env.report(agent, [fail(task, "bad_input", retryable=False)])
    done = await engine_env.wait_state(run["id"], {"failed"})
    a = steps_by_node(done)["a"]
    assert a["state"] == "failed"
    assert a["error"] == {"code": "bad_input", "message": "bad_input happened", "retryable": False}
    assert [t["state"] for t in a["attempt_rows"]] == ["failed"]


async def test_max_attempts_exhausted_records_every_attempt(engine_env: EngineEnv) -> None:
    retry = {"max_attempts": 3, "initial_interval": 0.15, "backoff": 2, "max_interval": 0.2}
    agent = await one_step(engine_env, retry=retry)
    run = await engine_env.start("solo")
    for number in (1, 2, 3):
        # A long poll: the ticker wakes the claim when the backoff has elapsed.
        (task,) = await claim_until(engine_env, agent)
        assert task["attempt"] == number
        await engine_env.report(agent, [fail(task, f"e{number}", retryable=True)])
    done = await engine_env.wait_state(run["id"], {"failed"})
    a = steps_by_node(done)["a"]
    assert a["state"] == "failed"
    assert a["error"]["code"] == "e3"
    assert [(t["number"], t["state"], t["error"]["code"]) for t in a["attempt_rows"]] == [
        (1, "failed", "e1"),
        (2, "failed", "e2"),
        (3, "failed", "e3"),
    ]
    events = await timeline(engine_env, run["id"])
    retrying = [e for e in events if e["type"] == "step.retrying"]
    caps = [0.15, 0.2]
    assert [e["data"]["attempt"] for e in retrying] == [1, 2]
    for event, cap in zip(retrying, caps, strict=True):
        assert 0 <= event["data"]["delay"] <= cap
    assert [e["type"] for e in events if e["node_id"] == "a"][-1] == "step.failed"


async def test_lease_expiry_hands_the_step_to_another_agent(open_env: OpenEnv) -> None:
    env = await open_env(lease_seconds=0.3)
    # One attempt allowed: a lost lease is a redelivery, not an attempt of the budget.
    first = await one_step(env, retry={"max_attempts": 1})
    second = await env.register([W])
    run = await env.start("solo")
    (task,) = await claim_until(env, first)
    step_id = task["step_id"]
    step = await until(
        lambda: step_rows(env, run["id"]),
        lambda rows: rows["a"]["state"] == "queued",
        what="lease expiry",
    )
    assert step["a"]["redeliveries"] == 1
    assert step["a"]["agent_id"] is None
    (lost,) = await attempt_rows(env, step_id)
    assert lost["state"] == "lost"
    assert lost["error"]["code"] == "lease_expired"
    (again,) = await claim_until(env, second)
    assert (again["step_id"], again["attempt"]) == (step_id, 2)
    # The first agent wakes up: its heartbeat is told to stop, its result is refused.
    beat = await env.engine.agents.heartbeat(agent_id=first, running=[step_id])
    assert beat["cancel"] == [step_id]
    late = await env.report(first, [ok(task, "late")])
    assert late == {"accepted": [], "rejected": [step_id]}
    answer = await env.report(second, [ok(again, "on time")])
    assert answer["accepted"] == [step_id]
    done = await env.wait_state(run["id"], {"succeeded"})
    a = steps_by_node(done)["a"]
    assert a["output"] == "on time"
    assert [(t["number"], t["agent_id"], t["state"]) for t in a["attempt_rows"]] == [
        (1, first, "lost"),
        (2, second, "succeeded"),
    ]


async def test_heartbeats_keep_the_lease(open_env: OpenEnv) -> None:
    env = await open_env(lease_seconds=0.3)
    agent = await one_step(env)
    run = await env.start("solo")
    (task,) = await claim_until(env, agent)
    for _ in range(8):
        beat = await env.engine.agents.heartbeat(agent_id=agent, running=[task["step_id"]])
        assert beat == {"state": "online", "cancel": []}
        await asyncio.sleep(0.1)
    assert (await step_rows(env, run["id"]))["a"]["state"] == "running"
    await env.report(agent, [ok(task)])
    assert (await env.wait_state(run["id"], {"succeeded", "failed"}))["state"] == "succeeded"


async def test_too_many_redeliveries_fail_the_step(open_env: OpenEnv) -> None:
    env = await open_env(lease_seconds=0.2, max_redeliveries=1)
    agent = await one_step(env)
    run = await env.start("solo")
    await claim_until(env, agent)
    await until(
        lambda: step_rows(env, run["id"]),
        lambda rows: rows["a"]["state"] == "queued",
        what="first lease expiry",
    )
    await claim_until(env, agent)
    done = await env.wait_state(run["id"], {"failed"})
    a = steps_by_node(done)["a"]
    assert a["error"]["code"] == "lease_expired"
    assert a["redeliveries"] == 2
    assert [t["state"] for t in a["attempt_rows"]] == ["lost", "lost"]


async def test_attempt_past_its_deadline_times_out(open_env: OpenEnv) -> None:
    env = await open_env(lease_seconds=0.3)
    agent = await one_step(env, timeout=0.2, retry={"max_attempts": 2, "initial_interval": 0})
    run = await env.start("solo")

    async def heartbeat_until_stopped(step_id: str) -> None:
        # The agent is alive and keeps its lease, but the attempt runs too long.
        while True:
            beat = await env.engine.agents.heartbeat(agent_id=agent, running=[step_id])
            if beat["cancel"]:
                assert beat["cancel"] == [step_id]
                return
            await asyncio.sleep(0.05)

    for number in (1, 2):
        (task,) = await claim_until(env, agent)
        assert task["attempt"] == number
        claimed = (await step_rows(env, run["id"]))["a"]
        expected = claimed["started_at"] if number == 1 else None
        assert claimed["deadline_at"] is not None
        if expected is not None:
            window = (claimed["deadline_at"] - expected).total_seconds()
            assert window == pytest.approx(0.5, abs=0.01)
        await asyncio.wait_for(heartbeat_until_stopped(task["step_id"]), 10)
        late = await env.report(agent, [ok(task)])
        assert late["rejected"] == [task["step_id"]]
    done = await env.wait_state(run["id"], {"failed"})
    a = steps_by_node(done)["a"]
    assert a["error"]["code"] == "timeout"
    assert [(t["state"], t["error"]["code"]) for t in a["attempt_rows"]] == [
        ("failed", "timeout"),
        ("failed", "timeout"),
    ]


async def test_silent_agent_is_lost_and_its_steps_requeued(open_env: OpenEnv) -> None:
    env = await open_env(agent_lost_after=0.4, lease_seconds=60)
    silent = await one_step(env)
    run = await env.start("solo")
    (task,) = await claim_until(env, silent)
    await until(
        lambda: env.engine.agents.get(agent_id=silent, workspace_id=WORKSPACE),
        lambda row: row["state"] == "lost",
        what="agent lost",
    )
    rows = await until(
        lambda: step_rows(env, run["id"]),
        lambda rows: rows["a"]["state"] == "queued",
        what="step requeued",
    )
    assert rows["a"]["redeliveries"] == 1
    (lost,) = await attempt_rows(env, task["step_id"])
    assert lost["state"] == "lost"
    with pytest.raises(AgentUnknownError):
        await env.engine.agents.heartbeat(agent_id=silent, running=[task["step_id"]])
    with pytest.raises(AgentUnknownError):
        await env.claim(silent)
    assert (await env.report(silent, [ok(task)]))["rejected"] == [task["step_id"]]
    rescuer = await env.register([W])
    (again,) = await claim_until(env, rescuer)
    assert (again["step_id"], again["attempt"]) == (task["step_id"], 2)
    await env.report(rescuer, [ok(again)])
    assert (await env.wait_state(run["id"], {"succeeded", "failed"}))["state"] == "succeeded"


async def test_a_result_is_applied_once(engine_env: EngineEnv) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "twice",
            "nodes": [
                {"id": "a", "type": W, "params": {}},
                {"id": "b", "type": W, "params": {}},
            ],
            "connections": [{"from": "a", "to": "b"}],
        }
    )
    run = await engine_env.start("twice")
    (task,) = await claim_until(engine_env, agent)
    # The same result twice in one batch, then the batch again (a retried request).
    answer = await engine_env.report(agent, [ok(task, 1), ok(task, 2)])
    assert answer == {"accepted": [task["step_id"]], "rejected": [task["step_id"]]}
    again = await engine_env.report(agent, [ok(task, 1)])
    assert again == {"accepted": [], "rejected": [task["step_id"]]}
    rows = await step_rows(engine_env, run["id"])
    assert rows["a"]["output"] == 1
    assert (rows["b"]["up_total"], rows["b"]["up_succeeded"]) == (1, 1)
    assert rows["b"]["state"] == "queued"
    events = await timeline(engine_env, run["id"])
    assert len([e for e in events if e["type"] == "step.succeeded"]) == 1
    assert len([e for e in events if e["type"] == "step.queued" and e["node_id"] == "b"]) == 1
