"""Runs as a whole: cancel, retry from the failed steps, idempotency keys, durable delays."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.support.engine import WORKSPACE, EngineEnv, steps_by_node
from tests.support.engine_tools import (
    OpenEnv,
    claim_until,
    echo,
    fail,
    ok,
    step_rows,
    timeline,
    until,
)

from quantum_orchestrator.domain.errors import ConflictError

W = "test.work"


async def test_cancel_stops_queued_waiting_running_and_pending_steps(
    engine_env: EngineEnv,
) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "cancel",
            "nodes": [
                {"id": "running", "type": W, "params": {}},
                # No agent serves this pool: the step stays queued.
                {"id": "queued", "type": W, "params": {}, "pool": "elsewhere"},
                {"id": "sleeping", "type": "core.delay", "params": {"seconds": 60}},
                {"id": "later", "type": W, "params": {}},
            ],
            "connections": [{"from": "running", "to": "later"}],
        }
    )
    run = await engine_env.start("cancel")
    (task,) = await claim_until(engine_env, agent)
    assert task["node_id"] == "running"
    rows = await step_rows(engine_env, run["id"])
    assert {n: r["state"] for n, r in rows.items()} == {
        "running": "running",
        "queued": "queued",
        "sleeping": "waiting",
        "later": "pending",
    }
    cancelled = await engine_env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=run["id"])
    assert cancelled["state"] == "cancelled"
    assert cancelled["error"]["code"] == "cancelled"
    done = await engine_env.run(run["id"])
    steps = steps_by_node(done)
    assert {n: s["state"] for n, s in steps.items()} == dict.fromkeys(steps, "cancelled")
    assert [t["state"] for t in steps["running"]["attempt_rows"]] == ["cancelled"]
    # The agent hears it on its next heartbeat; its late result is refused.
    beat = await engine_env.engine.agents.heartbeat(agent_id=agent, running=[task["step_id"]])
    assert beat["cancel"] == [task["step_id"]]
    answer = await engine_env.report(agent, [ok(task, "too late")])
    assert answer == {"accepted": [], "rejected": [task["step_id"]]}
    assert await engine_env.claim(agent) == []
    after = await engine_env.run(run["id"])
    assert after["state"] == "cancelled"
    assert steps_by_node(after)["running"]["output"] is None
    events = await timeline(engine_env, run["id"])
    assert events[-1]["type"] == "run.cancelled"
    assert {e["node_id"] for e in events if e["type"] == "step.cancelled"} == set(steps)
    with pytest.raises(ConflictError):
        await engine_env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=run["id"])


async def test_cancelled_delay_never_fires(open_env: OpenEnv) -> None:
    env = await open_env(tick_interval=0.02)
    await env.deploy(
        {
            "name": "nap",
            "nodes": [
                {"id": "d", "type": "core.delay", "params": {"seconds": 0.2}},
                {"id": "after", "type": "core.noop", "params": {}},
            ],
            "connections": [{"from": "d", "to": "after"}],
        }
    )
    run = await env.start("nap")
    await env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=run["id"])
    await asyncio.sleep(0.4)
    steps = steps_by_node(await env.run(run["id"]))
    assert steps["d"]["state"] == "cancelled"
    assert steps["after"]["state"] == "cancelled"


async def test_retry_keeps_succeeded_outputs_and_reruns_the_rest(engine_env: EngineEnv) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "again",
            "nodes": [
                {"id": "a", "type": W, "params": {"n": 1}},
                {"id": "b", "type": W, "params": {"n": "{{ nodes.a.output.n + 1 }}"}},
                {"id": "side", "type": W, "params": {"n": 10}},
                {"id": "c", "type": W, "params": {"n": "{{ nodes.b.output.n + 1 }}"}},
            ],
            "connections": [
                {"from": "a", "to": "b"},
                {"from": "b", "to": "c"},
                {"from": "side", "to": "c"},
            ],
            "outputs": {"n": "{{ nodes.c.output.n }}"},
        }
    )
    run = await engine_env.start("again")
    broken = True

    def handler(task: Any) -> Any:
        if task["node_id"] == "b" and broken:
            return fail(task, "down", retryable=False)
        return echo(task)

    first = await engine_env.work(agent, run["id"], handler)
    assert first["state"] == "failed"
    steps = steps_by_node(first)
    assert {n: s["state"] for n, s in steps.items()} == {
        "a": "succeeded",
        "b": "failed",
        "side": "succeeded",
        "c": "skipped",
    }
    broken = False
    retried = await engine_env.engine.runs.retry(workspace_id=WORKSPACE, run_id=run["id"])
    assert retried["state"] == "running"
    assert retried["error"] is None
    rows = await step_rows(engine_env, run["id"])
    assert rows["b"]["state"] == "queued"
    assert rows["b"]["params"] == {"n": 2}
    assert rows["c"]["state"] == "pending"
    assert (rows["c"]["up_succeeded"], rows["c"]["up_failed"], rows["c"]["up_skipped"]) == (1, 0, 0)
    done = await engine_env.work(agent, run["id"], handler)
    assert done["state"] == "succeeded"
    assert done["outputs"] == {"n": 3}
    steps = steps_by_node(done)
    # Succeeded steps kept their single attempt and output; b tried again with a fresh budget.
    assert [t["number"] for t in steps["a"]["attempt_rows"]] == [1]
    assert [t["number"] for t in steps["side"]["attempt_rows"]] == [1]
    assert [(t["number"], t["state"]) for t in steps["b"]["attempt_rows"]] == [
        (1, "failed"),
        (2, "succeeded"),
    ]
    assert steps["b"]["attempt_base"] == 1
    assert steps["c"]["params"] == {"n": 3}
    with pytest.raises(ConflictError):
        await engine_env.engine.runs.retry(workspace_id=WORKSPACE, run_id=run["id"])


async def test_retry_starts_a_fresh_attempt_budget(engine_env: EngineEnv) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "budget",
            "nodes": [
                {
                    "id": "a",
                    "type": W,
                    "params": {},
                    "retry": {"max_attempts": 2, "initial_interval": 0},
                }
            ],
        }
    )
    run = await engine_env.start("budget")
    first = await engine_env.work(agent, run["id"], lambda t: fail(t, "x", retryable=True))
    assert len(steps_by_node(first)["a"]["attempt_rows"]) == 2
    await engine_env.engine.runs.retry(workspace_id=WORKSPACE, run_id=run["id"])
    second = await engine_env.work(agent, run["id"], lambda t: fail(t, "x", retryable=True))
    assert second["state"] == "failed"
    assert [t["number"] for t in steps_by_node(second)["a"]["attempt_rows"]] == [1, 2, 3, 4]


async def test_retry_of_a_cancelled_run(engine_env: EngineEnv) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "resume",
            "nodes": [
                {"id": "a", "type": W, "params": {}},
                {"id": "b", "type": W, "params": {}},
            ],
            "connections": [{"from": "a", "to": "b"}],
        }
    )
    run = await engine_env.start("resume")
    (task,) = await claim_until(engine_env, agent)
    await engine_env.report(agent, [ok(task, "A")])
    (old_b,) = await claim_until(engine_env, agent)
    await engine_env.engine.runs.cancel(workspace_id=WORKSPACE, run_id=run["id"])
    await engine_env.engine.runs.retry(workspace_id=WORKSPACE, run_id=run["id"])
    (new_b,) = await claim_until(engine_env, agent)
    assert (new_b["step_id"], new_b["attempt"]) == (old_b["step_id"], 2)
    # The result of the attempt that was cancelled is refused, even now the step runs again.
    stale = await engine_env.report(agent, [ok(old_b, "stale")])
    assert stale == {"accepted": [], "rejected": [old_b["step_id"]]}
    await engine_env.report(agent, [ok(new_b, "B")])
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded"
    steps = steps_by_node(done)
    assert steps["a"]["output"] == "A"
    assert steps["b"]["output"] == "B"
    assert [t["state"] for t in steps["b"]["attempt_rows"]] == ["cancelled", "succeeded"]


async def test_idempotency_key_answers_the_same_run(engine_env: EngineEnv) -> None:
    await engine_env.deploy({"name": "idem", "nodes": [{"id": "a", "type": "core.noop"}]})
    runs = engine_env.engine.runs
    first, created = await runs.start(
        workspace_id=WORKSPACE, ref="idem", inputs={}, idempotency_key="k-1"
    )
    assert created
    again, created_again = await runs.start(
        workspace_id=WORKSPACE, ref="idem", inputs={"ignored": True}, idempotency_key="k-1"
    )
    assert not created_again
    assert again["id"] == first["id"]
    other = await engine_env.start("idem", idempotency_key="k-2")
    assert other["id"] != first["id"]
    # Racing requests with one key create one run.
    raced = await asyncio.gather(
        *(
            runs.start(workspace_id=WORKSPACE, ref="idem", inputs={}, idempotency_key="k-3")
            for _ in range(6)
        )
    )
    assert len({run["id"] for run, _ in raced}) == 1
    assert sum(created for _, created in raced) == 1
    page = await runs.page(workspace_id=WORKSPACE, limit=50, cursor=None)
    assert len(page.items) == 3


async def test_run_waits_while_only_a_delay_is_pending(engine_env: EngineEnv) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "pause",
            "nodes": [
                {"id": "nap", "type": "core.delay", "params": {"seconds": 0.3}},
                {"id": "work", "type": W, "params": {"after": "{{ nodes.nap.output.waited }}"}},
            ],
            "connections": [{"from": "nap", "to": "work"}],
        }
    )
    run = await engine_env.start("pause")
    assert run["state"] == "waiting"
    nap = (await step_rows(engine_env, run["id"]))["nap"]
    assert nap["state"] == "waiting"
    assert (nap["wake_at"] - nap["started_at"]).total_seconds() == pytest.approx(0.3, abs=0.01)
    (task,) = await claim_until(engine_env, agent)
    assert task["params"] == {"after": 0.3}
    await engine_env.report(agent, [ok(task)])
    done = await engine_env.wait_state(run["id"], {"succeeded", "failed"})
    assert done["state"] == "succeeded"
    assert steps_by_node(done)["nap"]["output"] == {"waited": 0.3}
    runs = [e["type"] for e in await timeline(engine_env, run["id"]) if e["step_id"] is None]
    assert runs == ["run.queued", "run.waiting", "run.running", "run.succeeded"]


async def test_run_waits_when_a_delay_follows_a_step(engine_env: EngineEnv) -> None:
    agent = await engine_env.register([W])
    await engine_env.deploy(
        {
            "name": "mid",
            "nodes": [
                {"id": "a", "type": W, "params": {}},
                {"id": "nap", "type": "core.delay", "params": {"seconds": 30}},
            ],
            "connections": [{"from": "a", "to": "nap"}],
        }
    )
    run = await engine_env.start("mid")
    (task,) = await claim_until(engine_env, agent)
    await engine_env.report(agent, [ok(task)])
    assert (await engine_env.run(run["id"]))["state"] == "waiting"


async def test_delay_survives_an_engine_restart(database_url: str) -> None:
    from tests.support.engine import EngineEnv as Env

    env = await Env.open(database_url)
    try:
        await env.deploy(
            {
                "name": "durable",
                "nodes": [
                    {"id": "nap", "type": "core.delay", "params": {"seconds": 0.4}},
                    {"id": "end", "type": "core.delay", "params": {"seconds": 0}},
                ],
                "connections": [{"from": "nap", "to": "end"}],
            }
        )
        run = await env.start("durable")
    finally:
        await env.close()
    # Nothing runs while no server is up; the timer is a timestamp in the database.
    await asyncio.sleep(0.5)
    env = await Env.open(database_url)
    try:
        done = await env.wait_state(run["id"], {"succeeded", "failed"}, timeout=10)
        assert done["state"] == "succeeded"
        steps = steps_by_node(done)
        assert steps["nap"]["finished_at"] >= steps["nap"]["wake_at"]
        assert steps["end"]["output"] == {"waited": 0}
    finally:
        await env.close()


async def test_timers_fire_while_polled(open_env: OpenEnv) -> None:
    env = await open_env(tick_interval=0.02)
    await env.deploy(
        {
            "name": "quick",
            "nodes": [{"id": "nap", "type": "core.delay", "params": {"seconds": 0.1}}],
        }
    )
    run = await env.start("quick")
    done = await until(
        lambda: env.run(run["id"]), lambda r: r["state"] == "succeeded", what="delay fired"
    )
    assert steps_by_node(done)["nap"]["state"] == "succeeded"
