"""Two engines over one database: timers fire once, claims never overlap, runs always settle."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from tests.support.engine import EngineEnv
from tests.support.engine_tools import OpenEnv, claim_until, ok, step_rows, timeline, until

from quantum_orchestrator.domain.agent_protocol import Task

W = "test.work"


async def two_engines(open_env: OpenEnv, **settings: Any) -> tuple[EngineEnv, EngineEnv]:
    values = {"tick_interval": 0.01, **settings}
    return await open_env(**values), await open_env(**values)


async def deploy_wide(env: EngineEnv, name: str, width: int) -> None:
    await env.deploy(
        {
            "name": name,
            "nodes": [{"id": f"s{i}", "type": W, "params": {"i": i}} for i in range(width)],
        }
    )


async def test_lease_expiry_fires_once_across_engines(open_env: OpenEnv) -> None:
    one, two = await two_engines(open_env, lease_seconds=0.3, agent_lost_after=30)
    agent = await one.register([W])
    await deploy_wide(one, "wide", 30)
    run = await one.start("wide")
    tasks = await claim_until(one, agent, 30)
    assert len({t["step_id"] for t in tasks}) == 30
    await until(
        lambda: step_rows(two, run["id"]),
        lambda rows: all(r["state"] == "queued" for r in rows.values()),
        what="every lease expired",
    )
    # Let both tickers run a few more rounds: nothing must fire twice.
    await asyncio.sleep(0.2)
    rows = await step_rows(one, run["id"])
    assert all(r["redeliveries"] == 1 for r in rows.values())
    done = await one.run(run["id"])
    for step in done["steps"]:
        assert [(a["number"], a["state"]) for a in step["attempt_rows"]] == [(1, "lost")]
    retrying = Counter(
        e["step_id"] for e in await timeline(one, run["id"]) if e["type"] == "step.retrying"
    )
    assert set(retrying.values()) == {1}
    assert len(retrying) == 30


async def test_concurrent_claims_never_share_a_step(open_env: OpenEnv) -> None:
    # Leases and silence limits far away: only the claims and reports race here.
    one, two = await two_engines(open_env, lease_seconds=60, agent_lost_after=60)
    width = 120
    agents = [(env, await env.register([W])) for env in (one, two) for _ in range(6)]
    await deploy_wide(one, "wide", width)
    runs = [await one.start("wide"), await two.start("wide")]
    claimed: list[tuple[str, Task]] = []

    async def claimer(env: EngineEnv, agent: str) -> None:
        idle = 0
        while idle < 3:
            tasks = await env.claim(agent, max_tasks=4)
            idle = 0 if tasks else idle + 1
            claimed.extend((agent, task) for task in tasks)

    await asyncio.gather(*(claimer(env, agent) for env, agent in agents))
    steps = Counter(task["step_id"] for _, task in claimed)
    assert len(steps) == 2 * width
    assert set(steps.values()) == {1}
    for run in runs:
        done = await one.run(run["id"])
        assert all(len(s["attempt_rows"]) == 1 for s in done["steps"])
        assert {s["state"] for s in done["steps"]} == {"running"}
    # Every agent reports its own tasks, one at a time, all at once: each run must end.
    by_agent: dict[str, list[Task]] = {}
    for agent, task in claimed:
        by_agent.setdefault(agent, []).append(task)
    envs = {agent: env for env, agent in agents}

    async def reporter(agent: str) -> None:
        for task in by_agent.get(agent, []):
            answer = await envs[agent].report(agent, [ok(task, task["params"])])
            assert answer["accepted"] == [task["step_id"]]

    await asyncio.gather(*(reporter(agent) for _, agent in agents))
    for run in runs:
        done = await one.wait_state(run["id"], {"succeeded", "failed"}, timeout=5)
        assert done["state"] == "succeeded"
        finished = [e for e in await timeline(one, run["id"]) if e["type"] == "run.succeeded"]
        assert len(finished) == 1


async def test_concurrent_map_items_finish_the_map_once(open_env: OpenEnv) -> None:
    one, two = await two_engines(open_env)
    agents = [(env, await env.register([W])) for env in (one, two) for _ in range(4)]
    await one.deploy(
        {
            "name": "fan",
            "nodes": [
                {
                    "id": "m",
                    "type": "core.map",
                    "params": {
                        "items": list(range(24)),
                        "concurrency": 8,
                        "node": {"type": W, "params": {"i": "{{ item }}"}},
                    },
                }
            ],
            "outputs": {"all": "{{ nodes.m.output }}"},
        }
    )
    run = await one.start("fan")

    async def worker(env: EngineEnv, agent: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while loop.time() < deadline:
            state = (
                await env.engine.runs.get(
                    workspace_id=run["workspace_id"], run_id=run["id"], with_steps=False
                )
            )["state"]
            if state in ("succeeded", "failed"):
                return
            for task in await env.claim(agent, max_tasks=1, wait=0.05):
                await env.report(agent, [ok(task, task["params"]["i"])])

    await asyncio.wait_for(asyncio.gather(*(worker(env, agent) for env, agent in agents)), 30)
    done = await one.run(run["id"])
    assert done["state"] == "succeeded"
    assert done["outputs"] == {"all": list(range(24))}
    events = await timeline(one, run["id"])
    assert len([e for e in events if e["type"] == "step.succeeded" and e["node_id"] == "m"]) == 1


async def test_heartbeats_and_reports_at_once_do_not_deadlock(open_env: OpenEnv) -> None:
    env = await open_env(lease_seconds=60)
    agent = await env.register([W])
    await deploy_wide(env, "wide", 60)
    run = await env.start("wide")
    tasks = await claim_until(env, agent, 60)
    step_ids = [t["step_id"] for t in tasks]
    reported = asyncio.Event()

    async def heartbeats() -> None:
        # An agent's runtime heartbeats everything it holds while it reports results.
        while not reported.is_set():
            await env.engine.agents.heartbeat(agent_id=agent, running=list(reversed(step_ids)))

    async def reports(chunk: list[Task]) -> None:
        for task in chunk:
            assert (await env.report(agent, [ok(task)]))["accepted"] == [task["step_id"]]

    beating = [asyncio.create_task(heartbeats()) for _ in range(3)]
    try:
        await asyncio.gather(*(reports(tasks[i::6]) for i in range(6)))
    finally:
        reported.set()
        await asyncio.gather(*beating)
    done = await env.wait_state(run["id"], {"succeeded", "failed"}, timeout=5)
    assert done["state"] == "succeeded"
