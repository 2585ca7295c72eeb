"""``qo triggers`` against a real server (the CLI runs in a thread, the server in the loop)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from tests.integration.api.helpers import create_and_deploy, transform_spec
from tests.support.server import LiveApp
from typer.testing import CliRunner

from quantum_orchestrator.cli.main import app


@pytest.fixture
def qo(server: LiveApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("QO_WORKSPACE", raising=False)
    env = {"QO_SERVER": server.url, "QO_TOKEN": server.token}
    runner = CliRunner()

    async def invoke(*args: str) -> Result:
        result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
        assert result.exit_code == 0, (args, result.output)
        return result

    return invoke


async def test_triggers_cli_round_trip(http: httpx.AsyncClient, qo: Any) -> None:
    await create_and_deploy(http, transform_spec("cli-flow"))
    created = await qo(
        "triggers", "create-schedule", "cli-flow", "--name", "nine",
        "--cron", "0 9 * * *", "--tz", "America/New_York", "--input", "who=cli", "--json",
    )  # fmt: skip
    schedule = json.loads(created.output)
    assert schedule["config"]["timezone"] == "America/New_York"
    assert schedule["inputs"] == {"who": "cli"}

    hook = await qo("triggers", "create-webhook", "cli-flow", "--name", "inbox")
    assert "secret: whsec_" in hook.output
    await qo(
        "triggers", "create-on-completion", "cli-flow", "--name", "chain",
        "--after", "cli-flow", "--state", "failed",
    )  # fmt: skip

    listing = await qo("triggers", "list", "--json")
    rows = json.loads(listing.output)
    assert sorted(r["kind"] for r in rows) == ["run_completion", "schedule", "webhook"]
    table = await qo("triggers", "list", "--workflow", "cli-flow")
    assert "nine" in table.output
    assert "whsec_" not in table.output

    preview = await qo("triggers", "preview", schedule["id"], "--count", "3")
    assert len(preview.output.split()) == 3

    paused = await qo("triggers", "pause", schedule["id"], "--json")
    assert json.loads(paused.output)["state"] == "paused"
    resumed = await qo("triggers", "resume", schedule["id"])
    assert "active" in resumed.output

    webhook = next(r for r in rows if r["kind"] == "webhook")
    rotated = await qo("triggers", "rotate-secret", webhook["id"])
    assert "secret: whsec_" in rotated.output

    await qo("triggers", "delete", schedule["id"])
    remaining = json.loads((await qo("triggers", "list", "--json")).output)
    assert schedule["id"] not in {r["id"] for r in remaining}
