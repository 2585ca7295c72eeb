"""``qo run`` and ``qo runs ...`` against a real (fake) server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer
from fake_qo_server import FakeQO
from typer.testing import CliRunner

from quantum_orchestrator.cli._common import parse_input_pairs
from quantum_orchestrator.cli.main import app
from quantum_orchestrator.cli.runs import format_event

SPEC = {
    "name": "digest",
    "nodes": [
        {"id": "fetch", "type": "specialized.http_request"},
        {"id": "shape", "type": "specialized.transform"},
    ],
    "connections": [{"from": "fetch", "to": "shape"}],
}


@pytest.fixture
def deployed(runner: CliRunner, qo_server: FakeQO, tmp_path: Path) -> FakeQO:
    path = tmp_path / "digest.json"
    path.write_text(json.dumps(SPEC))
    assert runner.invoke(app, ["workflow", "deploy", str(path)]).exit_code == 0
    return qo_server


def test_parse_input_pairs() -> None:
    assert parse_input_pairs(
        ["n=3", "s=hello", "ok=true", "none=null", 'obj={"a": [1]}', "eq=a=b", "empty=", 'q="3"']
    ) == {
        "n": 3,
        "s": "hello",
        "ok": True,
        "none": None,
        "obj": {"a": [1]},
        "eq": "a=b",
        "empty": "",
        "q": "3",
    }
    with pytest.raises(typer.BadParameter, match="not key=value"):
        parse_input_pairs(["novalue"])
    with pytest.raises(typer.BadParameter):
        parse_input_pairs(["=3"])


def test_run_prints_the_id(runner: CliRunner, deployed: FakeQO) -> None:
    result = runner.invoke(
        app, ["run", "digest", "--input", "url=https://example.com", "-i", "n=3"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "run_1\n"
    assert deployed.runs["run_1"]["inputs"] == {"url": "https://example.com", "n": 3}


def test_run_inputs_file_overridden_by_input(
    runner: CliRunner, deployed: FakeQO, tmp_path: Path
) -> None:
    inputs = tmp_path / "inputs.yaml"
    inputs.write_text("url: https://a.example\nn: 1\n")
    result = runner.invoke(
        app, ["run", "digest", "--input-file", str(inputs), "--input", "n=2", "--json"]
    )
    assert result.exit_code == 0, result.output
    run = json.loads(result.stdout)
    assert run["inputs"] == {"url": "https://a.example", "n": 2}
    assert run["state"] == "queued"


def test_run_bad_input_is_a_usage_error(runner: CliRunner, deployed: FakeQO) -> None:
    result = runner.invoke(app, ["run", "digest", "--input", "oops"])
    assert result.exit_code == 2
    assert "not key=value" in result.stderr


def test_run_bad_inputs_file(runner: CliRunner, deployed: FakeQO, tmp_path: Path) -> None:
    inputs = tmp_path / "inputs.json"
    inputs.write_text("[1, 2]")
    result = runner.invoke(app, ["run", "digest", "--input-file", str(inputs)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {inputs}: an inputs file must be a mapping (an object with keys), found a list\n"
    )


def test_run_wait_succeeded(runner: CliRunner, deployed: FakeQO) -> None:
    result = runner.invoke(app, ["run", "digest", "--wait", "--timeout", "20"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"status": 200}


def test_run_wait_failed(runner: CliRunner, deployed: FakeQO) -> None:
    result = runner.invoke(app, ["run", "digest", "-i", "outcome=failed", "--wait"])
    assert result.exit_code == 1
    assert json.loads(result.stdout) is None
    assert result.stderr == (
        "error: run run_1 failed: step_failed: node fetch failed after 2 attempts\n"
        "  fetch: http_error: GET https://example.com: 503\n"
    )


def test_run_wait_cancelled_json(runner: CliRunner, deployed: FakeQO) -> None:
    result = runner.invoke(app, ["run", "digest", "-i", "outcome=cancelled", "--wait", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout)["state"] == "cancelled"
    assert result.stderr == "run run_1 was cancelled\n"


def test_run_follow_prints_events(runner: CliRunner, deployed: FakeQO) -> None:
    result = runner.invoke(app, ["run", "digest", "--follow"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    clock = r"\d\d:\d\d:\d\d\.\d{3}"
    expected = [
        "run running",
        "step fetch running (attempt 1)",
        "step fetch pending (attempt 1): http_error: GET https://example.com: 503",
        "step fetch succeeded (attempt 2)",
        "step shape succeeded (attempt 1)",
        "run succeeded",
    ]
    for line, text in zip(lines, expected, strict=False):
        assert re.fullmatch(f"{clock} {re.escape(text)}", line), line
    assert json.loads("\n".join(lines[len(expected) :])) == {"status": 200}
    assert result.stderr == "run run_1 of digest version 1\n"


def test_run_wait_timeout(runner: CliRunner, deployed: FakeQO) -> None:
    result = runner.invoke(
        app, ["run", "digest", "-i", "outcome=slow", "--wait", "--timeout", "0.3"]
    )
    assert result.exit_code == 1
    assert result.stderr == "error: run run_1 did not finish within 0.3 s (it goes on running)\n"


def test_run_unknown_workflow(runner: CliRunner, qo_server: FakeQO) -> None:
    result = runner.invoke(app, ["run", "ghost"])
    assert result.exit_code == 1
    assert result.stderr == "error: workflow 'ghost' not found (HTTP 404 not_found)\n"


def test_format_event_with_map_index_and_unknown_kinds() -> None:
    line = format_event(
        {
            "type": "step.failed",
            "node_id": "each",
            "ts": "2024-05-01T12:00:00.5+00:00",
            "data": {"map_index": 2, "attempt": 3, "error": {"code": "boom", "message": "no"}},
        }
    )
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.500 step each\[2\] failed \(attempt 3\): boom: no", line)
    assert format_event({"type": "trigger.fired", "ts": "bad"}).endswith(" trigger.fired")
    logged = format_event(
        {"type": "step.logs", "node_id": "fetch", "state": "running", "data": {"lines": 3}}
    )
    assert logged.endswith(" step fetch logged 3 line(s)")


def test_runs_list_and_filters(runner: CliRunner, deployed: FakeQO) -> None:
    runner.invoke(app, ["run", "digest"])
    runner.invoke(app, ["run", "digest", "-i", "outcome=failed"])
    result = runner.invoke(app, ["runs", "list"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "WORKFLOW", "VERSION", "STATE", "CREATED", "DURATION"]
    assert [line.split()[0] for line in lines[1:]] == ["run_2", "run_1"]
    assert "1.3 s" in lines[1]
    failed = runner.invoke(app, ["runs", "list", "--state", "failed", "--json"])
    assert [r["id"] for r in json.loads(failed.stdout)["items"]] == ["run_2"]
    limited = runner.invoke(app, ["runs", "list", "--limit", "1", "--workflow", "digest"])
    assert len(limited.stdout.splitlines()) == 2
    assert limited.stderr == "more: qo runs list --cursor c2\n"


def test_runs_show_failed_run(runner: CliRunner, deployed: FakeQO) -> None:
    runner.invoke(app, ["run", "digest", "-i", "outcome=failed"])
    result = runner.invoke(app, ["runs", "show", "run_1"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "workflow  digest version 1" in out
    assert "state     failed" in out
    assert "error     step_failed: node fetch failed after 2 attempts" in out
    rows = {
        line.split()[0]: line.split()
        for line in out.splitlines()
        if line.startswith(("fetch", "shape"))
    }
    assert rows["fetch"][:5] == ["fetch", "specialized.http_request", "failed", "2", "1.2"]
    assert rows["shape"][:4] == ["shape", "specialized.transform", "skipped", "0"]
    assert "failed attempts:" in out
    assert "  fetch attempt 1 on agent agt_1: http_error: GET https://example.com: 503" in out
    assert "  fetch attempt 2 on agent agt_1: http_error: GET https://example.com: 503" in out
    as_json = runner.invoke(app, ["runs", "show", "run_1", "--json"])
    assert len(json.loads(as_json.stdout)["steps"]) == 2


def test_runs_cancel_and_retry(runner: CliRunner, deployed: FakeQO) -> None:
    runner.invoke(app, ["run", "digest", "-i", "outcome=slow"])
    cancelled = runner.invoke(app, ["runs", "cancel", "run_1"])
    assert cancelled.exit_code == 0, cancelled.output
    assert cancelled.stdout == "run run_1 cancelled\n"
    again = runner.invoke(app, ["runs", "cancel", "run_1"])
    assert again.exit_code == 1
    assert again.stderr == "error: run run_1 is already cancelled (HTTP 409 invalid_transition)\n"
    retried = runner.invoke(app, ["runs", "retry", "run_1", "--json"])
    assert json.loads(retried.stdout)["state"] == "queued"
