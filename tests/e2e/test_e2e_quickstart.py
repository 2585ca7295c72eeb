"""The Quick start path with real processes: ``qo up``, deploy, run, inspect, cancel, stop."""

from __future__ import annotations

import json
import re
import signal
import time

import pytest
from tests.e2e.harness import Cluster, free_port, step_of, wait_for

pytestmark = pytest.mark.e2e

HELLO = """\
name: hello
description: Greets someone, then waits a moment.
inputs:
  type: object
  properties:
    who: {type: string}
    times: {type: integer}
  required: [who]
nodes:
  - id: greet
    type: specialized.transform
    params:
      value: "hello {{ inputs.who }}"
  - id: pause
    type: core.delay
    params: {seconds: 0.2}
  - id: shout
    type: specialized.transform
    params:
      value: {text: "{{ nodes.greet.output | upper }}", times: "{{ inputs.times }}"}
connections:
  - {from: greet, to: pause}
  - {from: pause, to: shout}
outputs:
  greeting: "{{ nodes.greet.output }}"
  shout: "{{ nodes.shout.output }}"
"""

FAILING = """\
name: failing
nodes:
  - id: fetch
    type: specialized.http_request
    params: {{url: "http://127.0.0.1:{port}/nothing-here", timeout: 5}}
    retry: {{max_attempts: 1}}
"""

SLEEPY = """\
name: sleepy
nodes:
  - id: nap
    type: core.delay
    params: {seconds: 600}
  - id: after
    type: core.noop
connections:
  - {from: nap, to: after}
"""

RUN_FAILED = re.compile(r"run ([0-9a-f]+) failed")


@pytest.mark.timeout(180)
def test_quick_start(qo: Cluster) -> None:
    server = qo.start_server()
    qo.write("hello.yaml", HELLO)
    qo.write("failing.yaml", FAILING.format(port=free_port()))
    qo.write("sleepy.yaml", SLEEPY)
    qo.write("inputs.json", json.dumps({"who": "file", "times": 1}))

    checked = qo.qo("workflow", "validate", "hello.yaml")
    assert checked.returncode == 0, checked.stderr
    assert "valid" in checked.stdout
    for name in ("hello", "failing", "sleepy"):
        deployed = qo.qo("workflow", "deploy", f"{name}.yaml")
        assert deployed.returncode == 0, deployed.stderr
        assert deployed.stdout.strip() == f"deployed {name} version 1"

    # A run that succeeds prints its outputs and exits 0; --input values keep their JSON type.
    inputs = ("--input-file", "inputs.json", "--input", "who=e2e", "-i", "times=3")
    ok = qo.qo("run", "hello", *inputs, "--wait")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Traceback" not in ok.stderr
    assert json.loads(ok.stdout) == {
        "greeting": "hello e2e",
        "shout": {"text": "HELLO E2E", "times": 3},
    }

    # --follow prints the events as they come, then the outputs.
    followed = qo.qo("run", "hello", "-i", "who=follower", "-i", "times=1", "--follow")
    assert followed.returncode == 0, followed.stdout + followed.stderr
    assert "step greet succeeded" in followed.stdout
    assert "run succeeded" in followed.stdout

    # A run that fails exits 1 and says why; `qo runs show` shows its steps and attempts.
    failed = qo.qo("run", "failing", "--wait")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Traceback" not in failed.stderr
    assert "network_error" in failed.stderr
    assert "fetch" in failed.stderr
    match = RUN_FAILED.search(failed.stderr)
    assert match is not None, failed.stderr
    failed_id = match.group(1)

    shown = qo.qo("runs", "show", failed_id)
    assert shown.returncode == 0, shown.stderr
    assert re.search(r"^state\s+failed$", shown.stdout, re.MULTILINE), shown.stdout
    assert re.search(r"^fetch\s+specialized\.http_request\s+failed\s+1\s", shown.stdout, re.M), (
        shown.stdout
    )
    assert "failed attempts:" in shown.stdout
    assert re.search(r"fetch attempt 1 on agent \w+: network_error", shown.stdout), shown.stdout
    as_json = json.loads(qo.qo("runs", "show", failed_id, "--json").stdout)
    attempts = step_of(as_json, "fetch")["attempts"]
    assert [a["state"] for a in attempts] == ["failed"]
    assert attempts[0]["error"]["code"] == "network_error"

    # A run sitting in a long core.delay: `qo run --wait` exits 2 once `qo runs cancel` lands.
    waiter = qo.spawn("waiter", "run", "sleepy", "--wait")
    sleepy = wait_for(lambda: qo.get("runs?workflow=sleepy")["items"], "the sleepy run to start")[0]
    qo.wait_step(sleepy["id"], "nap", lambda s: s["state"] == "waiting", "waiting in its delay")
    cancelled = qo.qo("runs", "cancel", sleepy["id"])
    assert cancelled.returncode == 0, cancelled.stderr
    assert sleepy["id"] in cancelled.stdout
    run = qo.wait_run(sleepy["id"])
    assert run["state"] == "cancelled"
    assert step_of(run, "nap")["state"] == "cancelled"
    assert step_of(run, "after")["state"] in ("cancelled", "skipped", "pending")
    assert waiter.wait(timeout=30) == 2, waiter.log()
    assert "was cancelled" in waiter.log()

    # The listings show what happened.
    listed = qo.qo("runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    states = sorted(r["state"] for r in json.loads(listed.stdout)["items"])
    assert states == ["cancelled", "failed", "succeeded", "succeeded"]
    table = qo.qo("runs", "list", "--workflow", "hello")
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("succeeded") == 2
    agents = qo.qo("agents", "list")
    assert agents.returncode == 0, agents.stderr
    assert re.search(r"\bbuiltin\s+online\b", agents.stdout), agents.stdout

    # SIGTERM stops the server cleanly and quickly.
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=20) == 0, server.tail()
    assert time.monotonic() - started < 10
    assert "Traceback" not in server.log()
