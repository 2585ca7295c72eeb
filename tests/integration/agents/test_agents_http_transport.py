"""HttpTransport and the served runtime against a small in-memory agent API over real HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from quantum_orchestrator.__about__ import __version__
from quantum_orchestrator.agents import (
    Agent,
    AgentUnknownError,
    HttpTransport,
    RuntimeOptions,
    StepContext,
    TransportError,
    build_runtime,
    serve_agents,
)
from quantum_orchestrator.domain.agent_protocol import Registration, Task
from quantum_orchestrator.domain.step_logs import LogLine

TOKEN = "s3cret"


def problem(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": "about:blank",
            "title": "error",
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": "r1",
        },
        status_code=status,
        media_type="application/problem+json",
    )


class FakeAgentApi:
    """The server side of the agent protocol, kept in memory (shared with the test thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.agents: dict[str, dict[str, Any]] = {}
        self.registrations = 0
        self.tasks: list[Task] = []
        self.results: list[dict[str, Any]] = []
        self.heartbeats: list[list[str]] = []
        self.claims: list[dict[str, Any]] = []
        self.deregistered: list[str] = []
        self.progress: list[dict[str, Any]] = []
        self.logs: list[dict[str, Any]] = []
        self.cancel: set[str] = set()
        self.fail_status: int | None = None
        self.app = Starlette(
            routes=[
                Route("/api/v1/agent/register", self.register, methods=["POST"]),
                Route("/api/v1/agent/{agent_id}/{action}", self.agent_call, methods=["POST"]),
            ]
        )

    async def register(self, request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return problem(401, "unauthorized", "a valid agent token is required")
        registration = await request.json()
        with self.lock:
            self.registrations += 1
            agent_id = f"agent-{self.registrations}"
            self.agents[agent_id] = registration
        return JSONResponse(
            {"agent_id": agent_id, "heartbeat_interval": 0.05, "lease_seconds": 30}, status_code=201
        )

    async def agent_call(self, request: Request) -> Response:
        agent_id = request.path_params["agent_id"]
        action = request.path_params["action"]
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return problem(401, "unauthorized", "a valid agent token is required")
        if self.fail_status is not None:
            return problem(self.fail_status, "boom", "injected failure")
        with self.lock:
            known = agent_id in self.agents
        if not known:
            return problem(404, "agent_unknown", f"no agent {agent_id}")
        body = await request.json() if action != "deregister" else None
        if action == "heartbeat":
            with self.lock:
                self.heartbeats.append(body["running"])
                cancel = sorted(self.cancel & set(body["running"]))
            return JSONResponse({"state": "online", "cancel": cancel})
        if action == "claim":
            deadline = time.monotonic() + body["wait"]
            while True:
                with self.lock:
                    self.claims.append(body)
                    if self.tasks or time.monotonic() >= deadline:
                        claimed, self.tasks = self.tasks[: body["max"]], self.tasks[body["max"] :]
                        return JSONResponse({"tasks": claimed})
                if await request.is_disconnected():
                    return Response(status_code=499)
                await asyncio.sleep(0.02)
        if action == "results":
            with self.lock:
                self.results.extend(body["results"])
            return JSONResponse(
                {"accepted": [r["step_id"] for r in body["results"]], "rejected": []}
            )
        if action == "progress":
            with self.lock:
                self.progress.append(body)
            return Response(status_code=204)
        if action == "logs":
            with self.lock:
                self.logs.append(body)
            return Response(status_code=204)
        if action == "deregister":
            with self.lock:
                del self.agents[agent_id]
                self.deregistered.append(agent_id)
            return Response(status_code=204)
        return problem(404, "not_found", "no such action")


def make_task(step_id: str, node_type: str, params: Any) -> Task:
    return Task(
        step_id=step_id,
        run_id="run-1",
        node_id=step_id,
        node_type=node_type,
        attempt=1,
        params=params,
        timeout=10,
        idempotency_key=f"run-1:{step_id}",
        lease_expires_at="2030-01-01T00:00:00Z",
    )


async def wait_for(predicate: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


def registration() -> Registration:
    return Registration(
        name="t", pool="p", capabilities=[], concurrency=1, version="0", host="h", pid=os.getpid()
    )


@pytest.fixture
def api(live_server: Callable[[Any], Any]) -> tuple[FakeAgentApi, str]:
    fake = FakeAgentApi()
    url: str = live_server(fake.app).url
    return fake, url


async def test_protocol_calls(api: tuple[FakeAgentApi, str]) -> None:
    fake, url = api
    transport = HttpTransport(url + "/", token=TOKEN)
    try:
        answer = await transport.register(registration())
        agent_id = answer["agent_id"]
        assert answer["heartbeat_interval"] == 0.05
        fake.cancel.add("s9")
        assert await transport.heartbeat(agent_id, ["s9", "s1"]) == {
            "state": "online",
            "cancel": ["s9"],
        }
        fake.tasks.append(make_task("s1", "core.noop", {}))
        tasks = await transport.claim(agent_id, 4, 1)
        assert [t["step_id"] for t in tasks] == ["s1"]
        report = await transport.report(
            agent_id, [{"step_id": "s1", "attempt": 1, "status": "succeeded", "output": None}]
        )
        assert report == {"accepted": ["s1"], "rejected": []}
        await transport.progress(agent_id, "s1", 1, {"delta": "so far"})
        assert fake.progress == [{"step_id": "s1", "attempt": 1, "data": {"delta": "so far"}}]
        line: LogLine = {"at": "2026-12-06T06:00:00+00:00", "level": "info", "message": "hi"}
        await transport.logs(agent_id, "s1", 1, [line])
        assert fake.logs == [{"step_id": "s1", "attempt": 1, "lines": [line]}]
        await transport.deregister(agent_id)
        assert fake.deregistered == [agent_id]
        with pytest.raises(AgentUnknownError):
            await transport.heartbeat(agent_id, [])
    finally:
        await transport.aclose()


async def test_claim_long_poll_outlasts_the_request_timeout(api: tuple[FakeAgentApi, str]) -> None:
    _, url = api
    transport = HttpTransport(url, token=TOKEN, timeout=0.3)
    try:
        agent_id = (await transport.register(registration()))["agent_id"]
        started = time.monotonic()
        assert await transport.claim(agent_id, 1, 0.8) == []
        assert time.monotonic() - started >= 0.7
    finally:
        await transport.aclose()


async def test_errors_are_mapped(api: tuple[FakeAgentApi, str], closed_port: int) -> None:
    fake, url = api
    anonymous = HttpTransport(url)
    with pytest.raises(TransportError) as info:
        await anonymous.register(registration())
    assert (info.value.code, info.value.status, info.value.retryable) == (
        "unauthorized",
        401,
        False,
    )
    assert "valid agent token" in info.value.message
    await anonymous.aclose()

    transport = HttpTransport(url, token=TOKEN)
    agent_id = (await transport.register(registration()))["agent_id"]
    fake.fail_status = 503
    with pytest.raises(TransportError) as info:
        await transport.report(agent_id, [])
    assert info.value.retryable
    assert not isinstance(info.value, AgentUnknownError)
    await transport.aclose()

    refused = HttpTransport(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(TransportError) as info:
        await refused.register(registration())
    assert (info.value.code, info.value.retryable) == ("network_error", True)
    await refused.aclose()
    with pytest.raises(ValueError, match="http"):
        HttpTransport("localhost:8787")


async def test_runtime_round_trip_over_http(api: tuple[FakeAgentApi, str]) -> None:
    fake, url = api
    agent = Agent("ml", name="scorer", concurrency=2)

    @agent.capability("ml.score")
    async def score(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        return {"score": len(params["text"])}

    @agent.capability("ml.hang")
    async def hang(params: dict[str, Any], ctx: StepContext) -> None:
        await asyncio.sleep(30)

    transport = HttpTransport(url, token=TOKEN)
    options = RuntimeOptions(claim_wait=0.5, backoff_initial=0.01, backoff_max=0.05)
    runtime = build_runtime([agent], transport=transport, include_builtin=True, options=options)
    try:
        async with runtime:
            fake.tasks.extend(
                [
                    make_task("s1", "ml.score", {"text": "abcd"}),
                    make_task("s2", "specialized.transform", {"value": {"k": [1]}}),
                    make_task("s3", "ml.hang", {}),
                ]
            )
            await wait_for(lambda: ["s3"] in fake.heartbeats)
            fake.cancel.add("s3")
            await wait_for(lambda: len(fake.results) == 3)
            # The server forgets the agent: the runtime registers again and keeps working.
            with fake.lock:
                fake.agents.clear()
            fake.tasks.append(make_task("s4", "core.noop", {"n": 1}))
            await wait_for(lambda: len(fake.results) == 4)
    finally:
        await transport.aclose()
    results = {r["step_id"]: r for r in fake.results}
    assert results["s1"]["output"] == {"score": 4}
    assert results["s2"]["output"] == {"k": [1]}
    assert results["s3"]["error"]["code"] == "cancelled"
    assert results["s4"]["output"] == {"n": 1}
    assert fake.registrations == 2
    assert fake.deregistered == ["agent-2"]
    assert all(claim["max"] <= 2 for claim in fake.claims)


async def test_serve_agents_drains_on_sigterm(api: tuple[FakeAgentApi, str]) -> None:
    fake, url = api
    finished = asyncio.Event()
    agent = Agent("ml")

    @agent.capability("ml.slow")
    async def slow(params: dict[str, Any], ctx: StepContext) -> str:
        await asyncio.sleep(0.3)
        finished.set()
        return "ok"

    serving = asyncio.create_task(
        serve_agents([agent], server=url, token=TOKEN, name="served", concurrency=3)
    )
    await wait_for(lambda: bool(fake.agents))
    registered = next(iter(fake.agents.values()))
    assert (registered["name"], registered["pool"], registered["concurrency"]) == (
        "served",
        "ml",
        3,
    )
    assert registered["version"] == __version__
    assert registered["pid"] == os.getpid()
    fake.tasks.append(make_task("s1", "ml.slow", {}))
    await wait_for(lambda: ["s1"] in fake.heartbeats)
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 10)
    assert finished.is_set()
    assert [r["output"] for r in fake.results] == ["ok"]
    assert fake.deregistered == ["agent-1"]


async def test_serve_agents_without_agents_serves_builtins(api: tuple[FakeAgentApi, str]) -> None:
    fake, url = api
    serving = asyncio.create_task(serve_agents([], server=url, token=TOKEN))
    await wait_for(lambda: bool(fake.agents))
    registered = next(iter(fake.agents.values()))
    assert "specialized.http_request" in {c["name"] for c in registered["capabilities"]}
    os.kill(os.getpid(), signal.SIGINT)
    await asyncio.wait_for(serving, 10)
    assert fake.deregistered == ["agent-1"]


async def test_agent_run_and_shutdown(api: tuple[FakeAgentApi, str]) -> None:
    fake, url = api
    agent = Agent("ml", name="runner")
    agent.capability("ml.noop")(lambda params, ctx: None)
    running = asyncio.create_task(agent.run(server=url, token=TOKEN))
    await wait_for(lambda: bool(fake.agents))
    with pytest.raises(RuntimeError, match="already running"):
        await agent.run(server=url, token=TOKEN)
    await agent.shutdown()
    await asyncio.wait_for(running, 10)
    assert fake.deregistered == ["agent-1"]


async def test_bad_token_stops_the_agent(api: tuple[FakeAgentApi, str]) -> None:
    _, url = api
    agent = Agent("ml")
    agent.capability("ml.noop")(lambda params, ctx: None)
    with pytest.raises(TransportError, match="401"):
        await agent.run(server=url, token="wrong")


async def test_the_agent_token_comes_from_the_environment(
    api: tuple[FakeAgentApi, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake, url = api
    agent = Agent("ml", name="from-env")
    agent.capability("ml.noop")(lambda params, ctx: None)
    monkeypatch.setenv("QO_AGENT_TOKEN", "wrong")
    with pytest.raises(TransportError, match="401"):
        await agent.run(server=url)
    monkeypatch.setenv("QO_AGENT_TOKEN", TOKEN)
    running = asyncio.create_task(agent.run(server=url))
    await wait_for(lambda: bool(fake.agents))
    await agent.shutdown()
    await asyncio.wait_for(running, 10)
