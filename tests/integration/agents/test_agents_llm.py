"""``generative.llm_chat`` through a real server and its built-in agents, against a scripted
OpenAI-compatible server on 127.0.0.1 (allowed for the workspace past the SSRF guard)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run
from tests.support.llm_server import LlmServer, Reply, llm_server
from tests.support.server import live_app

API = "/api/v1"
PRICES = {"test-model": {"prompt_per_1k": 1.0, "completion_per_1k": 2.0}}


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


def chat_spec(
    name: str, llm: LlmServer, *, retry: dict[str, Any] | None = None, **params: Any
) -> dict[str, Any]:
    """A one-node workflow calling the scripted server (asking "Hi" unless told otherwise)."""
    if "messages" not in params:
        params.setdefault("prompt", "Hi")
    node: dict[str, Any] = {
        "id": "chat",
        "type": "generative.llm_chat",
        "params": {"base_url": llm.url, "model": "test-model", **params},
        "retry": retry or {"max_attempts": 1},
    }
    return {"name": name, "nodes": [node], "outputs": {"answer": "{{ nodes.chat.output }}"}}


async def run_chat(
    http: httpx.AsyncClient, spec: dict[str, Any], inputs: dict[str, Any] | None = None
) -> dict[str, Any]:
    if (await http.get(f"{API}/workflows/{spec['name']}")).status_code == 404:
        await create_and_deploy(http, spec)
    run = await start_run(http, spec["name"], inputs)
    return await wait_run(http, run["id"], timeout=30)


def step(run: dict[str, Any]) -> dict[str, Any]:
    (only,) = run["steps"]
    return dict(only)


async def test_a_plain_answer_with_a_templated_prompt_and_a_secret_key(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    created = await http.post(f"{API}/secrets", json={"name": "OPENAI_KEY", "value": "sk-test-1"})
    assert created.status_code == 201, created.text
    spec = chat_spec(
        "ask",
        llm,
        api_key="{{ secrets.OPENAI_KEY }}",
        system="Be brief.",
        prompt="Tell me about {{ inputs.topic }}",
        temperature=0.2,
        max_tokens=50,
    )
    llm.add(Reply(content="Otters hold hands.", prompt_tokens=120, completion_tokens=30))
    run = await run_chat(http, spec, {"topic": "otters"})

    assert run["state"] == "succeeded", run
    output = step(run)["output"]
    assert output["content"] == "Otters hold hands."
    assert output["finish_reason"] == "stop"
    assert output["usage"] == {
        "model": "test-model",
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "total_tokens": 150,
    }
    (seen,) = llm.seen
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["Authorization"] == "Bearer sk-test-1"
    assert seen.body == {
        "model": "test-model",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Tell me about otters"},
        ],
        "stream": False,
        "temperature": 0.2,
        "max_tokens": 50,
    }
    # The stored params keep the marker, never the key.
    assert "sk-test-1" not in str(run)

    usage = (await http.get(f"{API}/usage", params={"group_by": "workflow"})).json()
    (row,) = usage["items"]
    assert row["workflow"] == "ask"
    assert (row["steps"], row["prompt_tokens"], row["completion_tokens"]) == (1, 120, 30)
    # 120 prompt tokens at 1.0 per 1000 and 30 completion tokens at 2.0 per 1000.
    assert row["cost"] == pytest.approx(0.18)


async def test_messages_are_sent_as_given(http: httpx.AsyncClient, llm: LlmServer) -> None:
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Say {{ inputs.word }}"},
    ]
    run = await run_chat(http, chat_spec("talk", llm, messages=messages), {"word": "yes"})
    assert run["state"] == "succeeded", run
    assert step(run)["output"]["content"] == "echo: Say yes"
    assert llm.seen[0].body["messages"][-1] == {"role": "user", "content": "Say yes"}


SCHEMA = {
    "type": "object",
    "required": ["city", "population"],
    "properties": {"city": {"type": "string"}, "population": {"type": "integer"}},
}


async def test_response_schema_valid_repaired_and_invalid(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    spec = chat_spec("extract", llm, prompt="Biggest city?", response_schema=SCHEMA)

    llm.add(Reply(content='```json\n{"city": "Tokyo", "population": 37000000}\n```'))
    valid = await run_chat(http, spec)
    assert valid["state"] == "succeeded", valid
    output = step(valid)["output"]
    assert output["json"] == {"city": "Tokyo", "population": 37000000}
    assert output["repaired"] is False
    assert "JSON Schema" in llm.seen[0].body["messages"][0]["content"]

    llm.seen.clear()
    llm.add(
        Reply(content='{"city": "Tokyo", "population": "many"}', prompt_tokens=10),
        Reply(content='{"city": "Tokyo", "population": 1}', prompt_tokens=40),
    )
    repaired = await run_chat(http, spec)
    assert repaired["state"] == "succeeded", repaired
    output = step(repaired)["output"]
    assert output["json"] == {"city": "Tokyo", "population": 1}
    assert output["repaired"] is True
    # Both calls' tokens count.
    assert output["usage"]["prompt_tokens"] == 50
    second = llm.seen[1].body["messages"]
    assert second[-2] == {"role": "assistant", "content": '{"city": "Tokyo", "population": "many"}'}
    assert "population" in second[-1]["content"]

    llm.seen.clear()
    llm.add(Reply(content="Tokyo, I think"), Reply(content="{broken"))
    failed = await run_chat(http, spec)
    assert failed["state"] == "failed", failed
    error = step(failed)["error"]
    assert error["code"] == "llm_invalid_json"
    assert error["retryable"] is False
    assert len(llm.seen) == 2


async def test_429_waits_for_retry_after_then_succeeds(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    llm.add(Reply(status=429, headers={"Retry-After": "1"}), Reply(content="finally"))
    run = await run_chat(http, chat_spec("busy", llm))
    assert run["state"] == "succeeded", step(run)["error"]
    assert step(run)["output"]["content"] == "finally"
    first, second = llm.seen
    assert second.at - first.at >= 0.95


async def test_server_errors_and_timeouts_are_retried_client_errors_are_not(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    retry = {"max_attempts": 3, "initial_interval": 0.05}
    llm.add(Reply(status=500, error="overloaded"), Reply(content="second try"))
    recovered = await run_chat(http, chat_spec("flaky", llm, retry=retry))
    assert recovered["state"] == "succeeded", recovered
    assert step(recovered)["attempt_count"] == 2
    assert step(recovered)["output"]["content"] == "second try"

    llm.add(Reply(status=400, error="unknown model"))
    refused = await run_chat(http, chat_spec("bad", llm, retry=retry))
    assert refused["state"] == "failed", refused
    error = step(refused)["error"]
    assert error["code"] == "llm_http_400"
    assert error["retryable"] is False
    assert "unknown model" in error["message"]
    assert step(refused)["attempt_count"] == 1

    # A long Retry-After ends the attempt as retryable instead of waiting in the agent.
    llm.add(Reply(status=429, headers={"Retry-After": "120"}))
    limited = await run_chat(http, chat_spec("limited", llm))
    error = step(limited)["error"]
    assert (error["code"], error["retryable"]) == ("llm_http_429", True)
    assert "retry after 120s" in error["message"]

    llm.add(Reply(delay=1.5))
    slow = await run_chat(http, chat_spec("slow", llm, timeout=0.3))
    assert slow["state"] == "failed", slow
    error = step(slow)["error"]
    assert (error["code"], error["retryable"]) == ("llm_timeout", True)


async def test_the_ssrf_guard_applies(tmp_path: Path, sqlite_url: str, llm: LlmServer) -> None:
    settings = make_settings(tmp_path, sqlite_url)
    async with (
        live_app(settings) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as client,
    ):
        run = await run_chat(client, chat_spec("guarded", llm))
    assert run["state"] == "failed", run
    assert step(run)["error"]["code"] == "ssrf_blocked"
    assert llm.seen == []


async def test_a_step_without_a_question_fails_without_a_call(
    http: httpx.AsyncClient, llm: LlmServer
) -> None:
    run = await run_chat(
        http, chat_spec("mute", llm, messages=[{"role": "system", "content": "x"}])
    )
    assert run["state"] == "failed", run
    error = step(run)["error"]
    assert (error["code"], error["retryable"]) == ("invalid_params", False)
    assert "needs a prompt or messages" in error["message"]
    assert llm.seen == []
