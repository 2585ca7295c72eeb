"""``qo agents ...``, ``qo agent`` start-up errors, ``qo up`` settings, ``qo db upgrade``."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fake_accounts import ADMIN_EMAIL, ADMIN_PASSWORD
from fake_qo_server import FakeQO
from typer.testing import CliRunner

from quantum_orchestrator.agents.sdk import Agent
from quantum_orchestrator.cli._common import guarded
from quantum_orchestrator.cli.agents import ModuleImportError, collect_instances, import_modules
from quantum_orchestrator.cli.main import app
from quantum_orchestrator.sdk import Client


def test_agents_list_and_drain(runner: CliRunner, qo_server: FakeQO) -> None:
    result = runner.invoke(app, ["agents", "list"])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == [
        "ID",
        "NAME",
        "POOL",
        "STATE",
        "RUNNING",
        "DONE",
        "CAPABILITIES",
        "HEARTBEAT",
    ]
    assert row.split()[:6] == ["agt_1", "builtin-1", "builtin", "online", "2/64", "120"]
    as_json = runner.invoke(app, ["agents", "list", "--json"])
    assert json.loads(as_json.stdout)[0]["pid"] == 4242

    drained = runner.invoke(app, ["agents", "drain", "agt_1"])
    assert drained.exit_code == 0
    assert drained.stdout == "draining agent agt_1\n"
    unknown = runner.invoke(app, ["agents", "drain", "agt_9"])
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: agent 'agt_9' not found (HTTP 404 not_found)\n"


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory holding user modules (imported modules are forgotten afterwards)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    (tmp_path / "qo_test_mine.py").write_text(
        "from quantum_orchestrator.agents.sdk import Agent\n"
        "main = Agent('mine')\nalias = main\nother = Agent('other')\n"
    )
    (tmp_path / "qo_test_empty.py").write_text("x = 1\n")
    (tmp_path / "qo_test_broken.py").write_text("import not_a_module_anywhere_qo\n")
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith("qo_test_"):
            del sys.modules[name]


def test_import_modules_by_name_and_path(module_dir: Path) -> None:
    by_name = import_modules(["qo_test_mine"])
    by_path = import_modules([str(module_dir / "qo_test_empty.py")])
    assert str(module_dir) in sys.path
    found = collect_instances(by_name + by_path, Agent)
    assert len(found) == 2
    assert all(isinstance(a, Agent) for a in found)


def test_import_errors_are_clear(module_dir: Path) -> None:
    with pytest.raises(
        ModuleImportError, match="cannot import qo_test_broken: ModuleNotFoundError"
    ):
        import_modules(["qo_test_broken"])
    with pytest.raises(ModuleImportError, match="no such file"):
        import_modules(["./missing_file.py"])


def test_agent_command_import_failures_exit_2(runner: CliRunner, module_dir: Path) -> None:
    broken = runner.invoke(app, ["agent", "--import", "qo_test_broken"])
    assert broken.exit_code == 2
    assert broken.stderr.startswith("error: cannot import qo_test_broken: ModuleNotFoundError")
    missing = runner.invoke(app, ["agent", "--import", "qo_test_nothing_here"])
    assert missing.exit_code == 2
    empty = runner.invoke(app, ["agent", "--import", "qo_test_empty"])
    assert empty.exit_code == 2
    assert empty.stderr == "error: qo_test_empty defines no Agent instance at module level\n"


def test_up_rejects_bad_settings(runner: CliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    result = runner.invoke(app, ["up", "--port", "70000"])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "error: invalid settings (check the options and QO_* variables)",
        "  port: Input should be less than or equal to 65535",
    ]
    monkeypatch.setenv("QO_PORT", "abc")
    from_env = runner.invoke(app, ["up"])
    assert from_env.exit_code == 1
    assert "port: Input should be a valid integer" in from_env.stderr


def test_db_upgrade(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QO_DATABASE__URL", raising=False)
    result = runner.invoke(app, ["db", "upgrade", "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("database is up to date")
    assert (tmp_path / "qo.db").is_file()


def test_ctrl_c_is_a_message_not_a_traceback(runner: CliRunner) -> None:
    mini = typer.Typer()

    @mini.command()
    @guarded
    def stop() -> None:
        """Simulate Ctrl-C."""
        raise KeyboardInterrupt

    result = runner.invoke(mini, [])
    assert result.exit_code == 130
    assert result.stderr == "interrupted\n"


def test_unexpected_errors_are_one_line_unless_debugging(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    mini = typer.Typer()

    @mini.command()
    @guarded
    def boom() -> None:
        """Simulate a bug."""
        raise LookupError("no such thing")

    monkeypatch.delenv("QO_DEBUG", raising=False)
    result = runner.invoke(mini, [])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: unexpected LookupError: no such thing (set QO_DEBUG=1 for the traceback)\n"
    )
    monkeypatch.setenv("QO_DEBUG", "1")
    assert isinstance(runner.invoke(mini, []).exception, LookupError)


def test_agent_without_a_valid_token_says_how_to_get_one(
    runner: CliRunner, qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    none = runner.invoke(app, ["agent", "--pool", "text"])
    assert none.exit_code == 1
    assert none.stderr == (
        f"error: the server at {qo_server.url} wants an agent token: create one with "
        "`qo agent-tokens create NAME --pool text` and pass it with --token or QO_AGENT_TOKEN\n"
    )
    monkeypatch.setenv("QO_AGENT_TOKEN", "qo_a_revoked")
    revoked = runner.invoke(app, ["agent", "--pool", "text"])
    assert revoked.exit_code == 1
    assert revoked.stderr == (
        f"error: the server at {qo_server.url} refused the agent token (the agent token is not "
        "valid); create a new one with `qo agent-tokens create NAME --pool text`\n"
    )
    assert qo_server.seen_headers[-1]["authorization"] == "Bearer qo_a_revoked"


def test_agent_token_of_another_pool_or_not_an_agent_token(
    runner: CliRunner, qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = Client(qo_server.url, token="")

    async def issue() -> tuple[str, str]:
        async with admin:
            await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            key = (await admin.create_api_key("ci", "owner"))["key"]
            return key, (await admin.create_agent_token("ml", "ml"))["token"]

    key, ml_token = asyncio.run(issue())
    # QO_TOKEN is the fallback of QO_AGENT_TOKEN.
    monkeypatch.setenv("QO_TOKEN", ml_token)
    other_pool = runner.invoke(app, ["agent", "--pool", "text"])
    assert other_pool.exit_code == 1
    assert other_pool.stderr == (
        f"error: the server at {qo_server.url} refused the agent: this agent token is for the "
        "pool 'ml', not 'text'\n"
    )
    not_agent = runner.invoke(app, ["agent", "--pool", "text", "--token", key])
    assert not_agent.exit_code == 1
    assert "must be an agent token (qo_a_...), not an API key or a login" in not_agent.stderr
    assert qo_server.seen_headers[-1]["authorization"] == f"Bearer {key}"


def test_other_registration_failures_stay_errors(
    runner: CliRunner, qo_server: FakeQO, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = Client(qo_server.url, token="")

    async def issue() -> str:
        async with admin:
            await admin.login(ADMIN_EMAIL, ADMIN_PASSWORD)
            return str((await admin.create_agent_token("text", "text"))["token"])

    monkeypatch.setenv("QO_AGENT_TOKEN", asyncio.run(issue()))
    result = runner.invoke(app, ["agent", "--pool", "text"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: POST /api/v1/agent/register answered 409: the fake does not run agents\n"
    )
