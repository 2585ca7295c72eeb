"""Step logs over real HTTP: what a handler logs through ``ctx.logger`` on a real agent process
(HTTP transport) is stored with its attempt and read back per step, secrets redacted."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from tests.integration.api.helpers import (
    API,
    assert_problem,
    collect_sse,
    create_and_deploy,
    start_run,
    wait_run,
)
from typer.testing import CliRunner

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.http_transport import HttpTransport
from quantum_orchestrator.agents.options import RuntimeOptions
from quantum_orchestrator.agents.sdk import Agent
from quantum_orchestrator.agents.serve import build_runtime
from quantum_orchestrator.cli.main import app
from quantum_orchestrator.domain.step_logs import MAX_LINES_PER_ATTEMPT

SECRET = "sk-live-0123456789abcdef"
# Set by a test to let a `talk.wait` step finish.
RELEASE = asyncio.Event()


def talker() -> Agent:
    agent = Agent("talk", name="talker")

    @agent.capability("talk.say")
    async def say(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        ctx.logger.debug("kept out of the step log")
        ctx.logger.info("calling %s with key %s", params["url"], params["key"])
        ctx.logger.warning("slow answer: %.1f s", 2.5)
        if ctx.attempt == 1 and params.get("fail_first"):
            raise RuntimeError("first attempt fails")
        return {"ok": True}

    @agent.capability("talk.wait")
    async def wait(params: dict[str, Any], ctx: StepContext) -> str:
        ctx.logger.info("waiting for the test")
        await RELEASE.wait()
        ctx.logger.info("released")
        return "done"

    @agent.capability("talk.flood")
    async def flood(params: dict[str, Any], ctx: StepContext) -> None:
        for number in range(MAX_LINES_PER_ATTEMPT + 50):
            ctx.logger.info("line %d", number)

    return agent


@contextlib.asynccontextmanager
async def serving(http: httpx.AsyncClient, url: str) -> AsyncIterator[None]:
    """The talker agent, running over HTTP with a pool token, registered before this yields
    (workflows can only name node types some agent offers)."""
    token = await http.post(f"{API}/agent-tokens", json={"name": "talk", "pool": "talk"})
    assert token.status_code == 201, token.text
    transport = HttpTransport(url, token=token.json()["token"])
    options = RuntimeOptions(
        claim_wait=0.5, backoff_initial=0.01, backoff_max=0.05, log_flush_interval=0.05
    )
    runtime = build_runtime([talker()], transport=transport, options=options)
    try:
        async with runtime:
            for _ in range(200):
                listed = (await http.get(f"{API}/agents", params={"pool": "talk"})).json()
                if any(agent["state"] == "online" for agent in listed["items"]):
                    break
                await asyncio.sleep(0.05)
            yield
    finally:
        await transport.aclose()


async def test_a_handlers_lines_are_stored_per_attempt_and_redacted(
    http: httpx.AsyncClient, server: Any
) -> None:
    created = await http.post(f"{API}/secrets", json={"name": "KEY", "value": SECRET})
    assert created.status_code == 201, created.text
    spec = {
        "name": "talks",
        "nodes": [
            {
                "id": "say",
                "type": "talk.say",
                "pool": "talk",
                "params": {
                    "url": "http://example.invalid/x",
                    "key": "{{ secrets.KEY }}",
                    "fail_first": True,
                },
                "retry": {"max_attempts": 2, "initial_interval": 0},
            }
        ],
    }
    async with serving(http, server.url):
        await create_and_deploy(http, spec)
        run = await start_run(http, "talks")
        done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded", done

    answer = await http.get(f"{API}/runs/{run['id']}/steps/say/logs")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["next_cursor"] is None
    lines = [(line["attempt"], line["level"], line["message"]) for line in body["items"]]
    first = [line for line in lines if line[0] == 1]
    assert first[:2] == [
        (1, "info", "calling http://example.invalid/x with key ***"),
        (1, "warning", "slow answer: 2.5 s"),
    ]
    # The runtime's own note of the failure is part of the attempt's story.
    assert any("first attempt fails" in message for _, _, message in first[2:])
    assert [line for line in lines if line[0] == 2] == [
        (2, "info", "calling http://example.invalid/x with key ***"),
        (2, "warning", "slow answer: 2.5 s"),
    ]
    assert all(SECRET not in message for _, _, message in lines)
    assert all("kept out" not in message for _, _, message in lines)
    assert all(line["at"].endswith("+00:00") for line in body["items"])

    only_second = await http.get(f"{API}/runs/{run['id']}/steps/say/logs?attempt=2&limit=1")
    page = only_second.json()
    assert [line["attempt"] for line in page["items"]] == [2]
    rest = await http.get(
        f"{API}/runs/{run['id']}/steps/say/logs",
        params={"attempt": 2, "cursor": page["next_cursor"]},
    )
    assert [line["message"] for line in rest.json()["items"]] == ["slow answer: 2.5 s"]
    assert rest.json()["next_cursor"] is None


async def test_a_flood_of_lines_is_capped_with_a_note(http: httpx.AsyncClient, server: Any) -> None:
    async with serving(http, server.url):
        await create_and_deploy(
            http, {"name": "flood", "nodes": [{"id": "f", "type": "talk.flood", "pool": "talk"}]}
        )
        run = await start_run(http, "flood")
        assert (await wait_run(http, run["id"]))["state"] == "succeeded"
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = await http.get(
            f"{API}/runs/{run['id']}/steps/f/logs", params={"cursor": cursor} if cursor else {}
        )
        items += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    assert len(items) == MAX_LINES_PER_ATTEMPT + 1
    assert items[0]["message"] == "line 0"
    assert items[-1] == {
        **items[-1],
        "level": "warning",
        "message": f"50 more log lines were dropped (the limit is {MAX_LINES_PER_ATTEMPT})",
    }


async def test_unknown_runs_steps_and_bad_queries_are_4xx(http: httpx.AsyncClient) -> None:
    await create_and_deploy(http, {"name": "quiet", "nodes": [{"id": "n", "type": "core.noop"}]})
    run = await start_run(http, "quiet")
    await wait_run(http, run["id"])
    # A built-in step that logged nothing: an empty page, not an error.
    empty = await http.get(f"{API}/runs/{run['id']}/steps/n/logs")
    assert empty.json() == {"items": [], "next_cursor": None}
    assert_problem(await http.get(f"{API}/runs/{run['id']}/steps/nope/logs"), 404)
    assert_problem(await http.get(f"{API}/runs/r0000/steps/n/logs"), 404)
    assert_problem(await http.get(f"{API}/runs/{run['id']}/steps/n/logs?cursor=zz"), 422)
    assert_problem(await http.get(f"{API}/runs/{run['id']}/steps/n/logs?attempt=0"), 422)


@pytest.mark.parametrize("bad", [{"at": "yesterday"}, {"level": "loud"}, {"message": 5}])
async def test_an_agent_reporting_malformed_lines_gets_a_422(
    http: httpx.AsyncClient, bad: dict[str, Any]
) -> None:
    registered = await http.post(
        f"{API}/agent/register",
        json={
            "name": "bad",
            "pool": "bad",
            "capabilities": [
                {"name": "bad.x", "category": "custom", "params_schema": {"type": "object"}}
            ],
            "concurrency": 1,
            "version": "1",
            "host": "h",
            "pid": 1,
        },
    )
    assert registered.status_code == 201, registered.text
    agent_id = registered.json()["agent_id"]
    line = {"at": "2026-12-06T06:00:00+00:00", "level": "info", "message": "hi", **bad}
    answer = await http.post(
        f"{API}/agent/{agent_id}/results",
        json={
            "results": [
                {"step_id": "s1", "attempt": 1, "status": "succeeded", "output": 1, "logs": [line]}
            ]
        },
    )
    assert_problem(answer, 422)


async def test_logging_levels_of_the_agent_do_not_hide_lines(
    http: httpx.AsyncClient, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The agent's own log may be quieter than INFO; the step log still keeps INFO lines.
    caplog.set_level(logging.ERROR, logger="quantum_orchestrator")
    async with serving(http, server.url):
        await create_and_deploy(
            http,
            {
                "name": "quiet-agent",
                "nodes": [
                    {
                        "id": "say",
                        "type": "talk.say",
                        "pool": "talk",
                        "params": {"url": "u", "key": "k"},
                    }
                ],
            },
        )
        run = await start_run(http, "quiet-agent")
        assert (await wait_run(http, run["id"]))["state"] == "succeeded"
    answer = (await http.get(f"{API}/runs/{run['id']}/steps/say/logs")).json()
    assert [line["message"] for line in answer["items"]] == [
        "calling u with key k",
        "slow answer: 2.5 s",
    ]


async def test_built_in_http_steps_log_and_the_cli_shows_it(
    http: httpx.AsyncClient, server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("QO_WORKSPACE", raising=False)
    (workspace,) = (await http.get(f"{API}/workspaces")).json()["items"]
    allowed = await http.put(
        f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": ["127.0.0.0/8"]}
    )
    assert allowed.status_code == 200, allowed.text
    await create_and_deploy(
        http,
        {
            "name": "probe",
            "nodes": [
                {
                    "id": "ping",
                    "type": "specialized.http_request",
                    "params": {"url": f"{server.url}/healthz?token=hidden"},
                },
                {"id": "after", "type": "core.noop"},
            ],
            "connections": [{"from": "ping", "to": "after"}],
        },
    )
    run = await start_run(http, "probe")
    assert (await wait_run(http, run["id"]))["state"] == "succeeded"

    runner = CliRunner()
    env = {"QO_SERVER": server.url, "QO_TOKEN": server.token}

    def qo(*args: str) -> Result:
        return runner.invoke(app, ["runs", "logs", *args], env=env)

    every = await asyncio.to_thread(qo, run["id"])
    assert every.exit_code == 0, every.output
    (printed,) = every.output.splitlines()
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d\.\d{3}  INFO     ping#1  GET http://127\.0\.0\.1:\d+/healthz "
        r"answered 200 in \d+ ms \(\d+ bytes\)",
        printed,
    ), printed
    assert "hidden" not in every.output
    as_json = await asyncio.to_thread(qo, run["id"], "ping", "--attempt", "1", "--json")
    assert as_json.exit_code == 0, as_json.output
    (entry,) = json.loads(as_json.output)
    assert (entry["node_id"], entry["attempt"], entry["level"]) == ("ping", 1, "info")
    quiet = await asyncio.to_thread(qo, run["id"], "after")
    assert quiet.exit_code == 0
    assert "no log lines" in quiet.output
    misuse = await asyncio.to_thread(qo, run["id"], "--attempt", "1")
    assert misuse.exit_code != 0
    assert "--attempt needs a NODE_ID" in misuse.output
    missing = await asyncio.to_thread(qo, run["id"], "nope")
    assert missing.exit_code != 0
    assert "has no step 'nope'" in missing.output
    assert "Traceback" not in missing.output


async def test_a_running_steps_lines_are_readable_before_it_ends(
    http: httpx.AsyncClient, server: Any
) -> None:
    RELEASE.clear()
    async with serving(http, server.url):
        await create_and_deploy(
            http, {"name": "waits", "nodes": [{"id": "w", "type": "talk.wait", "pool": "talk"}]}
        )
        run = await start_run(http, "waits")
        seen: list[str] = []
        for _ in range(200):
            answer = (await http.get(f"{API}/runs/{run['id']}/steps/w/logs")).json()
            seen = [line["message"] for line in answer["items"]]
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == ["waiting for the test"]
        assert (await http.get(f"{API}/runs/{run['id']}")).json()["state"] == "running"
        RELEASE.set()
        assert (await wait_run(http, run["id"]))["state"] == "succeeded"
    final = (await http.get(f"{API}/runs/{run['id']}/steps/w/logs")).json()
    assert [line["message"] for line in final["items"]] == ["waiting for the test", "released"]
    frames = await asyncio.wait_for(collect_sse(http, f"{API}/runs/{run['id']}/events"), 10)
    logged = [f.json() for f in frames if f.event == "step.logs"]
    assert logged, [f.event for f in frames]
    assert all(e["node_id"] == "w" and e["data"]["attempt"] == 1 for e in logged)
    assert sum(e["data"]["lines"] for e in logged) == 1
