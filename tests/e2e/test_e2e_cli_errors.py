"""What a user sees when something is wrong: a clear message and an exit code, no traceback."""

from __future__ import annotations

import signal
import subprocess

import pytest
from tests.e2e.harness import Cluster, free_port

pytestmark = pytest.mark.e2e


def test_agent_import_of_missing_module_exits_2(qo: Cluster) -> None:
    missing = qo.qo("agent", "--import", "qo_e2e_no_such_module")
    assert missing.returncode == 2, missing.stderr
    assert missing.stderr.startswith("error: cannot import qo_e2e_no_such_module:"), missing.stderr
    assert "No module named 'qo_e2e_no_such_module'" in missing.stderr
    assert "Traceback" not in missing.stderr

    no_file = qo.qo("agent", "--import", "nowhere/tasks.py")
    assert no_file.returncode == 2, no_file.stderr
    assert "cannot import nowhere/tasks.py: no such file" in no_file.stderr
    assert "Traceback" not in no_file.stderr

    qo.write("empty_tasks.py", "VALUE = 1\n")
    empty = qo.qo("agent", "--import", "empty_tasks.py")
    assert empty.returncode == 2, empty.stderr
    assert "defines no Agent instance" in empty.stderr


def test_commands_against_a_server_that_is_not_running(qo: Cluster) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    qo.write("inputs.json", '{"who": "nobody"}')
    for args in (
        ("run", "hello", "--input", "who=x", "--wait"),
        ("run", "hello", "--input-file", "inputs.json"),
        ("runs", "list"),
        ("agents", "list", "--json"),
    ):
        result = qo.qo(*args, env={"QO_SERVER": nowhere})
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert "not reachable" in result.stderr, (args, result.stderr)
        assert nowhere in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
    # --server wins over QO_SERVER.
    flagged = qo.qo("runs", "show", "abc", "--server", nowhere)
    assert flagged.returncode == 1
    assert f"the server at {nowhere} is not reachable" in flagged.stderr


def test_bad_settings_and_specs_are_explained(qo: Cluster) -> None:
    bad = qo.qo("up", env={"QO_ENGINE__LEASE_SECONDS": "-1"})
    assert bad.returncode == 1, bad.stderr
    assert "invalid settings" in bad.stderr
    assert "engine.lease_seconds" in bad.stderr
    assert "Traceback" not in bad.stderr

    qo.start_server()
    qo.write("broken.yaml", "name: broken\nnodes:\n  - {id: a, type: core.nothing}\n")
    invalid = qo.qo("workflow", "validate", "broken.yaml")
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    assert "broken.yaml: not valid" in invalid.stderr
    assert "core.nothing" in invalid.stderr
    unknown = qo.qo("run", "no-such-workflow", "--wait")
    assert unknown.returncode == 1
    assert "no workflow 'no-such-workflow'" in unknown.stderr
    assert "Traceback" not in unknown.stderr + invalid.stderr


@pytest.mark.timeout(90)
def test_agent_sigterm_while_server_is_gone_exits(qo: Cluster) -> None:
    server = qo.start_server()
    agent = qo.start_agent("tasks.py", name="orphan")
    # The server stops while the agent's claim long-polls it; with agent_lost_after (2 s)
    # shorter than uvicorn's graceful wait the claim is answered 404 and the agent keeps trying
    # to register again with a server that is gone.
    server.signal(signal.SIGTERM)
    assert server.wait(timeout=30) == 0, server.tail()
    # SIGTERM to an agent that cannot reach its server must still end it (nothing runs).
    agent.signal(signal.SIGTERM)
    try:
        status = agent.wait(timeout=10)
    except subprocess.TimeoutExpired:
        agent.kill()
        pytest.fail(f"the agent ignored SIGTERM for 10 s:\n{agent.tail()}")
    assert status == 0, agent.tail()


def test_qo_up_prints_its_url_and_refuses_a_taken_port(qo: Cluster) -> None:
    server = qo.start_server()
    assert "Quantum Orchestrator is running at http://127.0.0.1:" in server.tail()
    # A second server on the same port fails at once with a message, before touching the data.
    second = qo.qo("up", "--data-dir", str(qo.root / "other-data"), timeout=30)
    assert second.returncode != 0
    assert "cannot listen on 127.0.0.1:" in second.stderr, second.stderr
    assert "Address already in use" in second.stderr, second.stderr
    assert "Traceback" not in second.stderr
    assert not (qo.root / "other-data" / "qo.db").exists()
