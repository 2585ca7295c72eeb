"""Streamed ``generative.llm_chat`` answers: ``step.progress`` events on the run's event stream,
and the agent-protocol call behind them (``POST /api/v1/agent/{id}/progress``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings
from tests.integration.api.helpers import Frame, create_and_deploy, sse_frames, start_run, wait_run
from tests.support.llm_server import LlmServer, Reply, llm_server
from tests.support.server import live_app

API = "/api/v1"
PRICES = {"test-model": {"prompt_per_1k": 1.0, "completion_per_1k": 2.0}}
POOL = "gpu"


@pytest.fixture
def llm() -> Iterator[LlmServer]:
    with llm_server() as server:
        yield server


@pytest.fixture
async def http(tmp_path: Path, sqlite_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A server with a price table, its workspace allowed to reach 127.0.0.0/8."""
    settings = make_settings(tmp_path, sqlite_url, llm_prices=PRICES)
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as client,
    ):
        (workspace,) = (await client.get(f"{API}/workspaces")).json()["items"]
        allowed = await client.put(
            f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": ["127.0.0.0/8"]}
        )
        assert allowed.status_code == 200, allowed.text
        yield client


def chat_spec(name: str, llm: LlmServer, **params: Any) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": "chat",
        "type": "generative.llm_chat",
        "params": {"base_url": llm.url, "model": "test-model", "prompt": "Hi", **params},
        "retry": {"max_attempts": 1},
    }
    return {"name": name, "nodes": [node], "outputs": {"answer": "{{ nodes.chat.output }}"}}


async def follow(http: httpx.AsyncClient, run_id: str) -> list[tuple[Frame, float]]:
    """Every event of the run with the time it arrived, until the stream ends."""
    loop = asyncio.get_running_loop()
    frames: list[tuple[Frame, float]] = []
    async with http.stream("GET", f"{API}/runs/{run_id}/events") as response:
        assert response.status_code == 200
        async for frame in sse_frames(response):
            frames.append((frame, loop.time()))
    return frames


async def test_a_streamed_answer_arrives_as_progress_before_the_step_succeeds(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    pieces = ["The ", "quick ", "brown ", "fox ", "jumps."]
    llm.add(Reply(chunks=pieces, chunk_delay=0.3, prompt_tokens=7, completion_tokens=5))
    await create_and_deploy(http, chat_spec("streamed", llm, stream=True))
    run = await start_run(http, "streamed")
    frames = await asyncio.wait_for(follow(http, run["id"]), 30)
    kinds = [frame.event for frame, _ in frames]
    assert kinds[-1] == "run.succeeded", kinds
    progress = [(frame.json(), at) for frame, at in frames if frame.event == "step.progress"]
    assert len(progress) >= 2, kinds
    succeeded = kinds.index("step.succeeded")
    assert max(i for i, kind in enumerate(kinds) if kind == "step.progress") < succeeded
    # The text grows event by event, and the first part came well before the step ended.
    text = ""
    for event, _ in progress:
        assert event["node_id"] == "chat"
        assert event["state"] == "running"
        assert event["data"]["attempt"] == 1
        assert event["data"]["delta"]
        text += event["data"]["delta"]
    assert text == "".join(pieces)
    assert frames[succeeded][1] - progress[0][1] >= 0.5
    done = await wait_run(http, run["id"])
    (step,) = done["steps"]
    assert step["output"]["content"] == "".join(pieces)
    assert step["output"]["finish_reason"] == "stop"
    assert step["output"]["usage"]["prompt_tokens"] == 7
    assert step["output"]["usage"]["completion_tokens"] == 5
    usage = (await http.get(f"{API}/usage", params={"group_by": "workflow"})).json()
    (row,) = usage["items"]
    assert (row["workflow"], row["prompt_tokens"], row["completion_tokens"]) == ("streamed", 7, 5)
    assert row["cost"] == pytest.approx(0.017)
    body = llm.seen[-1].body
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    # Replayed later, the progress events are there too (they are stored with the run).
    async with http.stream("GET", f"{API}/runs/{run['id']}/events") as response:
        replayed = [frame.event async for frame in sse_frames(response)]
    assert replayed.count("step.progress") == len(progress)


async def test_progress_is_batched_and_the_default_does_not_stream(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    llm.add(Reply(chunks=["x"] * 120, chunk_delay=0.005))
    await create_and_deploy(http, chat_spec("batched", llm, stream=True))
    run = await wait_run(http, (await start_run(http, "batched"))["id"], timeout=30)
    assert run["state"] == "succeeded", run
    async with http.stream("GET", f"{API}/runs/{run['id']}/events") as response:
        frames = [frame async for frame in sse_frames(response)]
    progress = [frame.json()["data"]["delta"] for frame in frames if frame.event == "step.progress"]
    assert "".join(progress) == "x" * 120
    assert 1 <= len(progress) <= 10, len(progress)
    # Without ``stream`` the endpoint is asked for one JSON answer and no progress is sent.
    llm.add(Reply(content="whole"))
    await create_and_deploy(http, chat_spec("plain", llm))
    run = await wait_run(http, (await start_run(http, "plain"))["id"], timeout=30)
    assert run["steps"][0]["output"]["content"] == "whole"
    assert llm.seen[-1].body["stream"] is False
    async with http.stream("GET", f"{API}/runs/{run['id']}/events") as response:
        kinds = [frame.event async for frame in sse_frames(response)]
    assert "step.progress" not in kinds


def _registration(pool: str) -> dict[str, Any]:
    return {
        "name": "stream-agent",
        "pool": pool,
        "concurrency": 1,
        "version": "1.0",
        "host": "tests",
        "pid": 1,
        "capabilities": [{"name": f"{pool}.work", "category": pool}],
    }


async def _token(http: httpx.AsyncClient, pool: str, **headers: str) -> dict[str, str]:
    created = await http.post(
        f"{API}/agent-tokens", json={"name": f"stream-{pool}", "pool": pool}, headers=headers
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


async def _register(http: httpx.AsyncClient, pool: str, headers: dict[str, str]) -> str:
    answer = await http.post(f"{API}/agent/register", json=_registration(pool), headers=headers)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["agent_id"])


async def test_progress_needs_the_lease_of_the_attempt(http: httpx.AsyncClient) -> None:
    token = await _token(http, POOL)
    holder = await _register(http, POOL, token)
    other = await _register(http, POOL, token)
    spec = {"name": "held", "nodes": [{"id": "work", "type": f"{POOL}.work", "params": {}}]}
    await create_and_deploy(http, spec)
    run = await start_run(http, "held")
    claimed = await http.post(
        f"{API}/agent/{holder}/claim", json={"max": 1, "wait": 10}, headers=token
    )
    (task,) = claimed.json()["tasks"]
    step_id, attempt = task["step_id"], task["attempt"]

    def post(agent_id: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
        return http.post(f"{API}/agent/{agent_id}/progress", json=body, headers=headers)

    ok = await post(holder, {"step_id": step_id, "attempt": attempt, "data": {"p": 1}}, token)
    assert ok.status_code == 204, ok.text
    # Another agent, another attempt, an unknown step: refused.
    for agent_id, body, status in (
        (other, {"step_id": step_id, "attempt": attempt, "data": {}}, 409),
        (holder, {"step_id": step_id, "attempt": attempt + 1, "data": {}}, 409),
        (holder, {"step_id": "0" * 32, "attempt": 1, "data": {}}, 404),
        ("0" * 32, {"step_id": step_id, "attempt": attempt, "data": {}}, 404),
    ):
        refused = await post(agent_id, body, token)
        assert refused.status_code == status, (agent_id, body, refused.text)
    # A token of another pool does not speak for this pool's agent.
    cpu = await _token(http, "cpu")
    stolen = await post(holder, {"step_id": step_id, "attempt": attempt, "data": {}}, cpu)
    assert stolen.status_code == 404, stolen.text
    # Nor does an agent of another workspace.
    created = await http.post(f"{API}/workspaces", json={"name": "Elsewhere"})
    assert created.status_code == 201, created.text
    elsewhere = await _token(http, POOL, **{"X-QO-Workspace": created.json()["id"]})
    stranger = await _register(http, POOL, elsewhere)
    body = {"step_id": step_id, "attempt": attempt, "data": {}}
    assert (await post(stranger, body, elsewhere)).status_code == 404
    assert (await post(holder, body, elsewhere)).status_code == 404
    # Too large a progress payload is refused.
    big = {"step_id": step_id, "attempt": attempt, "data": {"delta": "y" * 300_000}}
    assert (await post(holder, big, token)).status_code in (413, 422)
    reported = await http.post(
        f"{API}/agent/{holder}/results",
        json={
            "results": [
                {"step_id": step_id, "attempt": attempt, "status": "succeeded", "output": {}}
            ]
        },
        headers=token,
    )
    assert reported.json()["accepted"] == [step_id], reported.text
    done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded"
    async with http.stream("GET", f"{API}/runs/{run['id']}/events") as response:
        events = [frame.json() async for frame in sse_frames(response)]
    (event,) = [e for e in events if e["type"] == "step.progress"]
    assert event["data"] == {"p": 1, "attempt": attempt}
    assert event["step_id"] == step_id
