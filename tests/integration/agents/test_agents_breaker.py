"""Circuit breakers of the built-in HTTP nodes, against real servers on 127.0.0.1."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from quantum_orchestrator.agents import NodeResources, RuntimeOptions, StepContext
from quantum_orchestrator.agents.breaker import CircuitBreakers, CircuitOpenError, target_of
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.nodes import builtin_handlers
from quantum_orchestrator.agents.serve import build_runtime
from quantum_orchestrator.agents.transport import AgentTransport
from quantum_orchestrator.domain.breaker import BreakerPolicy, BreakerState
from quantum_orchestrator.domain.errors import StepError

LOOPBACK = ["127.0.0.0/8"]


class Flaky:
    """A server that answers ``status`` (503 at first) until told to recover; counts hits."""

    def __init__(self) -> None:
        self.status = 503
        self.hits = 0
        self.app = Starlette(
            routes=[
                Route("/{path:path}", self.serve, methods=["GET", "POST"]),
            ]
        )

    async def serve(self, request: Request) -> Response:
        self.hits += 1
        if self.status != 200:
            return PlainTextResponse("down", status_code=self.status)
        path = request.url.path
        if path.endswith("/chat/completions"):
            return JSONResponse(
                {"model": "m", "choices": [{"message": {"content": "hi"}, "finish_reason": "stop"}]}
            )
        if path.endswith("/predict"):
            return JSONResponse({"predictions": [1]})
        return PlainTextResponse("ok")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_ctx(node_type: str = "specialized.http_request") -> StepContext:
    return StepContext(
        run_id="r",
        step_id="s",
        node_id="n",
        node_type=node_type,
        attempt=1,
        idempotency_key="r:n",
        timeout=30,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def handlers(clock: Clock) -> AsyncIterator[dict[str, Handler]]:
    resources = NodeResources(http_allow=LOOPBACK)
    # Three failures open a breaker for 30 s of the test's clock.
    resources.breakers = CircuitBreakers(
        BreakerPolicy(failure_threshold=3, cooldown=30.0), clock=clock
    )
    yield builtin_handlers(resources=resources)
    await resources.aclose()


@pytest.fixture
def flaky(live_server: Callable[[Any], Any]) -> tuple[Flaky, str]:
    server = Flaky()
    url: str = live_server(server.app).url
    return server, url


async def expect_error(handler: Handler, params: dict[str, Any], code: str) -> StepError:
    with pytest.raises(StepError) as info:
        await handler(params, make_ctx())
    assert info.value.code == code, info.value.message
    return info.value


async def test_opens_fails_fast_then_recovers(
    handlers: dict[str, Handler], flaky: tuple[Flaky, str], clock: Clock
) -> None:
    server, url = flaky
    http = handlers["specialized.http_request"]
    for _ in range(3):
        await expect_error(http, {"url": f"{url}/x"}, "http_503")
    assert server.hits == 3

    error = await expect_error(http, {"url": f"{url}/x"}, "circuit_open")
    assert isinstance(error, CircuitOpenError)
    assert error.retryable
    assert f"circuit open for http://127.0.0.1:{url.rsplit(':', 1)[1]}" in error.message
    assert "until" in error.message
    assert "(in 30.0s)" in error.message
    assert server.hits == 3  # failed fast: the server saw nothing

    # Still open just before the cool-down ends.
    clock.now += 29.0
    await expect_error(http, {"url": f"{url}/x"}, "circuit_open")

    # Half-open: one trial goes through; the target recovered, so the breaker closes.
    clock.now += 1.0
    server.status = 200
    output = await http({"url": f"{url}/x"}, make_ctx())
    assert output["status"] == 200
    assert server.hits == 4
    for _ in range(3):
        assert (await http({"url": f"{url}/x"}, make_ctx()))["status"] == 200


async def test_a_failed_trial_reopens(
    handlers: dict[str, Handler], flaky: tuple[Flaky, str], clock: Clock
) -> None:
    server, url = flaky
    http = handlers["specialized.http_request"]
    server.status = 429
    for _ in range(3):
        await expect_error(http, {"url": f"{url}/x"}, "http_429")
    clock.now += 30.0
    await expect_error(http, {"url": f"{url}/x"}, "http_429")
    assert server.hits == 4
    await expect_error(http, {"url": f"{url}/x"}, "circuit_open")
    assert server.hits == 4


async def test_connection_errors_count(handlers: dict[str, Handler], closed_port: int) -> None:
    http = handlers["specialized.http_request"]
    for _ in range(3):
        await expect_error(http, {"url": f"http://127.0.0.1:{closed_port}/"}, "network_error")
    await expect_error(http, {"url": f"http://127.0.0.1:{closed_port}/"}, "circuit_open")


async def test_client_errors_do_not_count(
    handlers: dict[str, Handler], flaky: tuple[Flaky, str]
) -> None:
    server, url = flaky
    server.status = 404
    http = handlers["specialized.http_request"]
    for _ in range(5):
        await expect_error(http, {"url": f"{url}/x"}, "http_404")
    assert server.hits == 5


async def test_targets_are_independent(
    handlers: dict[str, Handler],
    flaky: tuple[Flaky, str],
    live_server: Callable[[Any], Any],
) -> None:
    _server, url = flaky
    healthy = Flaky()
    healthy.status = 200
    other: str = live_server(healthy.app).url
    http = handlers["specialized.http_request"]
    for _ in range(3):
        await expect_error(http, {"url": f"{url}/x"}, "http_503")
    await expect_error(http, {"url": f"{url}/x"}, "circuit_open")
    assert (await http({"url": f"{other}/x"}, make_ctx()))["status"] == 200


async def test_every_http_node_shares_the_breakers(
    handlers: dict[str, Handler], flaky: tuple[Flaky, str], clock: Clock
) -> None:
    server, url = flaky
    # Failures seen by ml.predict open the breaker for every node calling that target.
    predict = {"url": f"{url}/predict", "instances": [1]}
    for _ in range(3):
        with pytest.raises(StepError) as info:
            await handlers["ml.predict"](predict, make_ctx("ml.predict"))
        assert info.value.code == "http_503"
    calls: list[tuple[str, dict[str, Any]]] = [
        ("specialized.http_request", {"url": f"{url}/x"}),
        ("ml.predict", predict),
        ("generative.llm_chat", {"base_url": url, "model": "m", "prompt": "hi"}),
        (
            "specialized.notify",
            {"channel": "slack", "webhook_url": f"{url}/hook", "text": "hi"},
        ),
    ]
    for name, params in calls:
        with pytest.raises(StepError) as info:
            await handlers[name](params, make_ctx(name))
        assert info.value.code == "circuit_open", name
        assert info.value.retryable
    assert server.hits == 3

    clock.now += 30.0
    server.status = 200
    chat = await handlers["generative.llm_chat"](
        {"base_url": url, "model": "m", "prompt": "hi"}, make_ctx("generative.llm_chat")
    )
    assert chat["content"] == "hi"
    for name, params in calls:
        await handlers[name](params, make_ctx(name))


def test_target_of() -> None:
    assert target_of("https://Example.com/a?b") == "https://example.com:443"
    assert target_of("http://example.com:8080/") == "http://example.com:8080"
    assert target_of("http://[::1]/") == "http://[::1]:80"
    assert target_of("ftp://example.com/") is None
    assert target_of("not a url") is None


def test_runtime_options_and_resources() -> None:
    options = RuntimeOptions()
    assert (options.breaker_failures, options.breaker_cooldown) == (5, 30.0)
    with pytest.raises(ValueError, match="breaker_failures"):
        RuntimeOptions(breaker_failures=0)
    with pytest.raises(ValueError, match="breaker_cooldown"):
        RuntimeOptions(breaker_cooldown=0)
    resources = NodeResources(breaker_policy=BreakerPolicy(failure_threshold=2, cooldown=5))
    assert resources.breakers.policy == BreakerPolicy(failure_threshold=2, cooldown=5)
    assert resources.breakers.state("http://example.com:80") is BreakerState.CLOSED


def test_build_runtime_passes_the_thresholds() -> None:
    # Building a runtime talks to no server: the transport is never called.
    transport = cast(AgentTransport, object())
    options = RuntimeOptions(breaker_failures=2, breaker_cooldown=7.0)
    runtime = build_runtime([], transport=transport, options=options)
    resources = runtime._resources
    assert resources is not None
    assert resources.breakers.policy == BreakerPolicy(failure_threshold=2, cooldown=7.0)
