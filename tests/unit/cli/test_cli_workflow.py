"""``qo workflow ...`` and ``qo version`` against a real (fake) server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from fake_qo_server import FakeQO, free_port
from typer.testing import CliRunner

from quantum_orchestrator.__about__ import __version__
from quantum_orchestrator.cli.main import app

SPEC_YAML = """\
name: digest
description: Fetch and shape.
nodes:
  - id: fetch
    type: specialized.http_request
    params:
      url: "{{ inputs.url }}"
  - id: shape
    type: specialized.transform
connections:
  - from: fetch
    to: shape
"""


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "digest.yaml"
    path.write_text(SPEC_YAML)
    return path


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["version"])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"qo {__version__} ")


def test_validate_valid(runner: CliRunner, qo_server: FakeQO, spec_file: Path) -> None:
    result = runner.invoke(app, ["workflow", "validate", str(spec_file)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{spec_file}: valid\n"


def test_validate_invalid_lists_field_errors(
    runner: CliRunner, qo_server: FakeQO, tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"name": "x", "nodes": [{"id": "a", "type": "nope.x"}]}))
    result = runner.invoke(app, ["workflow", "validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {path}: not valid (1 problem)\n  nodes[0].type: unknown node type 'nope.x'\n"
    )


def test_validate_reports_yaml_errors_with_line(
    runner: CliRunner, qo_server: FakeQO, tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nnodes:\n  - id: a\n    type: [oops\n")
    result = runner.invoke(app, ["workflow", "validate", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {path}:5:")
    assert "Traceback" not in result.output


def test_missing_file_is_one_line(runner: CliRunner, qo_server: FakeQO, tmp_path: Path) -> None:
    result = runner.invoke(app, ["workflow", "deploy", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert result.stderr == f"error: {tmp_path / 'nope.yaml'}: no such file\n"


def test_deploy_twice_and_list(runner: CliRunner, qo_server: FakeQO, spec_file: Path) -> None:
    first = runner.invoke(app, ["workflow", "deploy", str(spec_file)])
    second = runner.invoke(app, ["workflow", "deploy", str(spec_file), "--json"])
    assert first.exit_code == 0, first.output
    assert first.stdout == "deployed digest version 1\n"
    assert json.loads(second.stdout)["number"] == 2

    listing = runner.invoke(app, ["workflow", "list"])
    assert listing.exit_code == 0
    lines = listing.stdout.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "UPDATED", "DESCRIPTION"]
    assert lines[1].split()[:2] == ["digest", "2"]
    as_json = runner.invoke(app, ["workflow", "list", "--json"])
    assert [w["name"] for w in json.loads(as_json.stdout)] == ["digest"]


def test_deploy_invalid_spec_shows_problem_and_fields(
    runner: CliRunner, qo_server: FakeQO, tmp_path: Path
) -> None:
    path = tmp_path / "noname.yaml"
    path.write_text("nodes:\n  - id: a\n    type: core.noop\n")
    result = runner.invoke(app, ["workflow", "deploy", str(path)])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: the spec is not valid (HTTP 422 spec_invalid)\n  name: a workflow needs a name\n"
    )


def test_show_draft_version_and_yaml(runner: CliRunner, qo_server: FakeQO, spec_file: Path) -> None:
    runner.invoke(app, ["workflow", "deploy", str(spec_file)])
    human = runner.invoke(app, ["workflow", "show", "digest"])
    assert human.exit_code == 0, human.output
    assert "workflow  digest (wf_1)" in human.stdout
    assert "latest    version 1" in human.stdout
    assert "fetch -> shape" in human.stdout
    assert any(
        line.split() == ["fetch", "specialized.http_request", "-"]
        for line in human.stdout.splitlines()
    )

    as_yaml = runner.invoke(app, ["workflow", "show", "digest", "--yaml"])
    assert yaml.safe_load(as_yaml.stdout) == yaml.safe_load(SPEC_YAML)

    version = runner.invoke(app, ["workflow", "show", "wf_1", "--version", "1"])
    assert "version   1" in version.stdout
    as_json = runner.invoke(app, ["workflow", "show", "digest", "--version", "1", "--json"])
    assert json.loads(as_json.stdout)["workflow_name"] == "digest"


def test_show_unknown_workflow(runner: CliRunner, qo_server: FakeQO) -> None:
    result = runner.invoke(app, ["workflow", "show", "ghost"])
    assert result.exit_code == 1
    assert result.stderr == "error: workflow 'ghost' not found (HTTP 404 not_found)\n"


def test_unreachable_server(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QO_SERVER", raising=False)
    url = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, ["workflow", "list", "--server", url])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: the server at {url} is not reachable; start one")
    assert len(result.stderr.splitlines()) == 1


def test_token_option_and_env(
    runner: CliRunner, qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    qo_server.token = "s3cret"
    denied = runner.invoke(app, ["workflow", "list"])
    assert denied.exit_code == 1
    assert "run `qo login` (or pass --token / set QO_TOKEN)" in denied.stderr
    allowed = runner.invoke(app, ["workflow", "list", "--token", "s3cret"])
    assert allowed.exit_code == 0, allowed.output
    monkeypatch.setenv("QO_TOKEN", "s3cret")
    assert runner.invoke(app, ["workflow", "list"]).exit_code == 0
