"""Agents that die or leave mid-step: SIGKILL (the lease expires, another agent takes over) and
SIGTERM (the agent drains: the step finishes where it runs)."""

from __future__ import annotations

import json
import signal

import pytest
from tests.e2e.harness import Cluster, running_on_agent, step_of, wait_for

pytestmark = pytest.mark.e2e

SLOW = """\
name: slow
nodes:
  - id: work
    type: test.slow
    params: {{tag: work, first_sleep: {first_sleep}, sleep: 0}}
    timeout: 120
outputs:
  result: "{{{{ nodes.work.output }}}}"
"""

# Only the test agents run steps: the built-in pool is off.
NO_BUILTINS = {"QO_AGENTS__ENABLED": "false"}


@pytest.mark.timeout(120)
def test_agent_killed_mid_step_is_replaced(qo: Cluster) -> None:
    qo.start_server(env=NO_BUILTINS)
    agents = {name: qo.start_agent("tasks.py", name=name) for name in ("agent-a", "agent-b")}
    ids = {name: qo.wait_agent(name, "online")["id"] for name in agents}
    qo.write("slow.yaml", SLOW.format(first_sleep=60))
    deployed = qo.qo("workflow", "deploy", "slow.yaml")
    assert deployed.returncode == 0, deployed.stderr

    run_id = qo.start_run("slow")
    step = qo.wait_step(run_id, "work", running_on_agent, "running on an agent")
    first_agent = step["attempts"][-1]["agent_id"]
    victim = next(name for name, agent_id in ids.items() if agent_id == first_agent)
    survivor = next(name for name in ids if name != victim)
    # The handler really started on the victim before it dies.
    qo.wait_step(
        run_id,
        "work",
        lambda _: any(e["pid"] == agents[victim].pid for e in qo.jsonl("attempts.jsonl")),
        f"the handler to start on {victim}",
    )
    agents[victim].popen.send_signal(signal.SIGKILL)
    agents[victim].wait(timeout=10)

    run = qo.wait_run(run_id)
    assert run["state"] == "succeeded", (run, qo.logs())
    work = step_of(run, "work")
    attempts = work["attempts"]
    assert len(attempts) >= 2, attempts
    assert attempts[0]["agent_id"] == ids[victim]
    assert attempts[0]["state"] == "lost", attempts
    assert attempts[0]["error"]["code"] == "lease_expired", attempts
    assert attempts[-1]["agent_id"] == ids[survivor], attempts
    assert attempts[-1]["state"] == "succeeded", attempts
    assert work["output"]["pid"] == agents[survivor].pid
    assert work["output"]["first"] is False
    assert run["outputs"] == {"result": work["output"]}

    def agent_states() -> dict[str, str] | None:
        # The lease and the silence limit are both 2 s: the step may be handed over a tick
        # before the killed agent is declared lost.
        listed = qo.qo("agents", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        states = {a["name"]: a["state"] for a in json.loads(listed.stdout)}
        return states if states[victim] == "lost" else None

    states = wait_for(agent_states, "the killed agent to be marked lost", deadline=15)
    assert states == {victim: "lost", survivor: "online"}

    shown = qo.qo("runs", "show", run_id)
    assert shown.returncode == 0, shown.stderr
    assert f"work attempt 1 on agent {ids[victim]}: lease_expired" in shown.stdout


@pytest.mark.timeout(120)
def test_agent_sigterm_drains_running_step(qo: Cluster) -> None:
    qo.start_server(env=NO_BUILTINS)
    agent = qo.start_agent("tasks.py", name="drainer")
    agent_id = qo.wait_agent("drainer", "online")["id"]
    qo.write("slow.yaml", SLOW.format(first_sleep=1.5))
    deployed = qo.qo("workflow", "deploy", "slow.yaml")
    assert deployed.returncode == 0, deployed.stderr

    run_id = qo.start_run("slow")
    qo.wait_step(run_id, "work", running_on_agent, "running on the agent")
    qo.wait_step(run_id, "work", lambda _: bool(qo.jsonl("attempts.jsonl")), "the handler to start")
    agent.signal(signal.SIGTERM)
    assert agent.wait(timeout=30) == 0, agent.tail()

    run = qo.wait_run(run_id)
    assert run["state"] == "succeeded", (run, qo.logs())
    work = step_of(run, "work")
    assert [(a["state"], a["agent_id"]) for a in work["attempts"]] == [("succeeded", agent_id)]
    assert work["output"]["first"] is True
    assert work["output"]["pid"] == agent.pid
    assert len(qo.jsonl("attempts.jsonl")) == 1
    assert qo.wait_agent("drainer", "offline", deadline=5)["id"] == agent_id
    log = agent.log()
    assert "Traceback" not in log
    # `qo agent` logs JSON lines like `qo up` (QO_LOG_FORMAT=json): registration and drain.
    events = [json.loads(line)["event"] for line in log.splitlines() if line.startswith("{")]
    assert any(e.startswith("agent drainer registered as") for e in events), log
    assert any(e.startswith("SIGTERM received") for e in events), log
    assert f"agent {agent_id} deregistered" in events, log
