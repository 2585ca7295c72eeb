"""The server killed with SIGKILL mid-run and started again on the same data dir: nothing lost."""

from __future__ import annotations

import signal
import time

import pytest
from tests.e2e.harness import Cluster, step_of

pytestmark = pytest.mark.e2e

PIPELINE = """\
name: pipeline
inputs:
  type: object
  properties:
    token: {type: string}
  required: [token]
nodes:
  - id: prepare
    type: specialized.transform
    params:
      value: {token: "{{ inputs.token }}"}
  - id: stamp
    type: test.echo
    params: {tag: stamp}
  - id: pause
    type: core.delay
    params: {seconds: 6}
  - id: crunch
    type: test.slow
    params: {tag: crunch, first_sleep: 0.5, sleep: 0.5}
  - id: finish
    type: specialized.transform
    params:
      value:
        token: "{{ nodes.prepare.output.token }}"
        stamp: "{{ nodes.stamp.output.nonce }}"
        crunched_by: "{{ nodes.crunch.output.pid }}"
connections:
  - {from: prepare, to: stamp}
  - {from: stamp, to: pause}
  - {from: pause, to: crunch}
  - {from: crunch, to: finish}
outputs:
  result: "{{ nodes.finish.output }}"
"""

BEFORE_KILL = ("prepare", "stamp")


@pytest.mark.timeout(150)
def test_server_killed_mid_run_recovers(qo: Cluster) -> None:
    server = qo.start_server()
    worker = qo.start_agent("tasks.py", name="worker")
    worker_id_before = qo.wait_agent("worker", "online")["id"]
    qo.write("pipeline.yaml", PIPELINE)
    deployed = qo.qo("workflow", "deploy", "pipeline.yaml")
    assert deployed.returncode == 0, deployed.stderr

    run_id = qo.start_run("pipeline", {"token": "t-123"})
    pause = qo.wait_step(run_id, "pause", lambda s: s["state"] == "waiting", "waiting")
    before = qo.run(run_id)
    recorded = {node: step_of(before, node) for node in BEFORE_KILL}
    assert all(s["state"] == "succeeded" for s in recorded.values()), recorded
    assert recorded["stamp"]["output"]["pid"] == worker.pid

    server.popen.send_signal(signal.SIGKILL)
    assert server.wait(timeout=10) == -signal.SIGKILL
    restarted = qo.start_server()
    assert restarted.pid != server.pid

    run = qo.wait_run(run_id, deadline=60)
    assert run["state"] == "succeeded", (run, qo.logs())

    # Everything recorded before the kill is unchanged: no step that had succeeded ran again.
    for node, old in recorded.items():
        new = step_of(run, node)
        assert new["state"] == "succeeded"
        assert new["output"] == old["output"], node
        assert new["attempts"] == old["attempts"], node
    assert [e["tag"] for e in qo.jsonl("attempts.jsonl") if e["tag"] == "stamp"] == ["stamp"]
    assert run["outputs"]["result"] == {
        "token": "t-123",
        "stamp": recorded["stamp"]["output"]["nonce"],
        "crunched_by": worker.pid,
    }

    # The durable delay waited its full time across the restart.
    waited = step_of(run, "pause")
    assert waited["output"] == {"waited": 6}
    assert waited["duration_ms"] >= 6000 - 50, waited
    assert pause["started_at"] == waited["started_at"]

    # No run was lost or duplicated.
    listed = qo.get("runs?limit=200")["items"]
    assert [r["id"] for r in listed] == [run_id]

    # The same agent process kept retrying and registered again with the new server.
    assert worker.alive(), worker.tail()
    crunch = step_of(run, "crunch")
    agent = qo.wait_agent("worker", "online")
    assert agent["pid"] == worker.pid
    assert crunch["attempts"][-1]["agent_id"] == agent["id"]
    assert crunch["output"]["pid"] == worker.pid
    if agent["id"] != worker_id_before:
        # It re-registered: the server forgot it, or marked it lost while it was down.
        old = next(a for a in qo.agents() if a["id"] == worker_id_before)
        assert old["state"] in ("lost", "offline"), old

    # The agent drains and leaves the restarted server; then the server stops cleanly too.
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.tail()
    assert qo.wait_agent("worker", "offline", deadline=10)["id"] == agent["id"]
    started = time.monotonic()
    restarted.signal(signal.SIGTERM)
    assert restarted.wait(timeout=20) == 0, restarted.tail()
    assert time.monotonic() - started < 10
