"""``qo usage show`` and ``qo usage budget`` against a real server and a local LLM server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from tests.conftest import make_settings
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run
from tests.support.llm_server import Reply, llm_server
from tests.support.server import live_app
from typer.testing import CliRunner

from quantum_orchestrator.cli.main import app

API = "/api/v1"
PRICES = {"small": {"prompt_per_1k": 1.0, "completion_per_1k": 2.0}}


async def test_usage_and_budget_from_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("QO_WORKSPACE", raising=False)
    settings = make_settings(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'qo.db'}", llm_prices=PRICES
    )
    runner = CliRunner()
    with llm_server() as llm:
        async with (
            live_app(settings) as live,
            httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as http,
        ):
            env = {"QO_SERVER": live.url, "QO_TOKEN": live.token}

            async def qo(*args: str, code: int = 0) -> Result:
                result = await asyncio.to_thread(runner.invoke, app, list(args), env=env)
                assert result.exit_code == code, (args, result.output)
                return result

            (workspace,) = (await http.get(f"{API}/workspaces")).json()["items"]
            await http.put(
                f"{API}/workspaces/{workspace['id']}/http-allow",
                json={"networks": ["127.0.0.0/8"]},
            )
            spec: dict[str, Any] = {
                "name": "chatty",
                "nodes": [
                    {
                        "id": "chat",
                        "type": "generative.llm_chat",
                        "params": {"base_url": llm.url, "model": "small", "prompt": "Hi"},
                        "retry": {"max_attempts": 1},
                    }
                ],
            }
            await create_and_deploy(http, spec)
            llm.add(Reply(prompt_tokens=1000, completion_tokens=500))
            started = await start_run(http, "chatty")
            done = await wait_run(http, started["id"], timeout=30)
            assert done["state"] == "succeeded", done

            shown = await qo("usage", "show", "--json")
            answer = json.loads(shown.output)
            assert answer["total"]["total_tokens"] == 1500
            assert answer["total"]["cost"] == pytest.approx(2.0)
            table = await qo("usage", "show", "--group-by", "model")
            assert "small" in table.output
            assert "TOTAL" in table.output
            bad = await qo("usage", "show", "--group-by", "planet", code=1)
            assert "group_by" in bad.output

            await qo("usage", "budget", "--tokens", "1000")
            status = json.loads((await qo("usage", "budget", "--json")).output)
            assert (status["token_limit"], status["tokens"], status["exceeded"]) == (
                1000,
                1500,
                True,
            )
            await qo("usage", "budget", "--clear")
            assert json.loads((await qo("usage", "budget", "--json")).output)["token_limit"] is None
