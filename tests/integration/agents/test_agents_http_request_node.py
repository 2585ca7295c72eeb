"""``specialized.http_request`` against a real HTTP server."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from quantum_orchestrator.agents import NodeResources, StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.nodes import builtin_handlers
from quantum_orchestrator.domain.errors import StepError


async def echo(request: Request) -> Response:
    body = await request.body()
    return JSONResponse(
        {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": {k: v for k, v in request.headers.items() if k.startswith("x-")},
            "content_type": request.headers.get("content-type"),
            "body": body.decode(),
        },
        headers={"X-Reply": "yes"},
    )


async def text(request: Request) -> Response:
    return PlainTextResponse("plain words")


async def status(request: Request) -> Response:
    code = int(request.path_params["code"])
    return PlainTextResponse(f"status {code} " + "x" * 500, status_code=code)


async def problem_json(request: Request) -> Response:
    return Response('{"broken": ', media_type="application/problem+json")


async def slow(request: Request) -> Response:
    await asyncio.sleep(2)
    return PlainTextResponse("late")


async def bounce(request: Request) -> Response:
    return Response(status_code=302, headers={"Location": request.query_params["to"]})


APP = Starlette(
    routes=[
        Route("/bounce", bounce),
        Route("/echo", echo, methods=["GET", "POST", "PUT", "DELETE"]),
        Route("/text", text),
        Route("/status/{code:int}", status),
        Route("/broken-json", problem_json),
        Route("/slow", slow),
    ]
)


def make_ctx() -> StepContext:
    return StepContext(
        run_id="r",
        step_id="s",
        node_id="n",
        node_type="specialized.http_request",
        attempt=1,
        idempotency_key="r:n",
        timeout=30,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
    )


# The test servers listen on loopback, which the SSRF guard refuses unless allowed.
LOOPBACK = ["127.0.0.0/8"]


@pytest.fixture
async def http_request() -> AsyncIterator[Handler]:
    resources = NodeResources(http_allow=LOOPBACK)
    yield builtin_handlers(resources=resources)["specialized.http_request"]
    await resources.aclose()


@pytest.fixture
async def guarded() -> AsyncIterator[Handler]:
    """The handler with the default policy: no internal network allowed."""
    resources = NodeResources()
    yield builtin_handlers(resources=resources)["specialized.http_request"]
    await resources.aclose()


@pytest.fixture
def base_url(live_server: Callable[[Any], Any]) -> str:
    url: str = live_server(APP).url
    return url


async def test_get_json(http_request: Handler, base_url: str) -> None:
    output = await http_request(
        {
            "url": f"{base_url}/echo",
            "query": {"q": "a b", "n": 3, "flag": True},
            "headers": {"X-Token": "t"},
        },
        make_ctx(),
    )
    assert output["status"] == 200
    assert output["headers"]["x-reply"] == "yes"
    body = output["body"]
    assert body["method"] == "GET"
    assert body["query"] == {"q": "a b", "n": "3", "flag": "true"}
    assert body["headers"] == {"x-token": "t"}


async def test_post_json_body(http_request: Handler, base_url: str) -> None:
    output = await http_request(
        {"method": "post", "url": f"{base_url}/echo", "json": {"a": [1, 2]}}, make_ctx()
    )
    assert output["body"]["method"] == "POST"
    assert output["body"]["content_type"] == "application/json"
    assert output["body"]["body"].replace(" ", "") == '{"a":[1,2]}'


async def test_put_raw_body(http_request: Handler, base_url: str) -> None:
    output = await http_request(
        {
            "method": "PUT",
            "url": f"{base_url}/echo",
            "body": "raw text",
            "headers": {"Content-Type": "text/plain"},
        },
        make_ctx(),
    )
    assert output["body"]["body"] == "raw text"
    assert output["body"]["content_type"] == "text/plain"


async def test_text_body_is_not_parsed(http_request: Handler, base_url: str) -> None:
    output = await http_request({"url": f"{base_url}/text"}, make_ctx())
    assert output["body"] == "plain words"
    assert output["headers"]["content-type"].startswith("text/plain")


async def test_broken_json_falls_back_to_text(http_request: Handler, base_url: str) -> None:
    output = await http_request({"url": f"{base_url}/broken-json"}, make_ctx())
    assert output["body"] == '{"broken": '


@pytest.mark.parametrize(
    ("code", "retryable"), [(404, False), (400, False), (503, True), (500, True), (429, True)]
)
async def test_non_2xx_raises(
    http_request: Handler, base_url: str, code: int, retryable: bool
) -> None:
    with pytest.raises(StepError) as info:
        await http_request({"url": f"{base_url}/status/{code}"}, make_ctx())
    assert info.value.code == f"http_{code}"
    assert info.value.retryable is retryable
    assert str(code) in info.value.message
    assert f"status {code} x" in info.value.message
    assert len(info.value.message) < 400


async def test_connection_refused_is_retryable(http_request: Handler, closed_port: int) -> None:
    with pytest.raises(StepError) as info:
        await http_request({"url": f"http://127.0.0.1:{closed_port}/"}, make_ctx())
    assert info.value.code == "network_error"
    assert info.value.retryable


async def test_timeout_is_retryable(http_request: Handler, base_url: str) -> None:
    with pytest.raises(StepError) as info:
        await http_request({"url": f"{base_url}/slow", "timeout": 0.2}, make_ctx())
    assert info.value.code == "network_error"
    assert info.value.retryable
    assert "timed out" in info.value.message


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"url": "ftp://example.invalid/x"},
        {"url": "http://x", "json": 1, "body": "b"},
        {"url": "http://x", "timeout": 0},
    ],
)
async def test_invalid_params_are_not_retryable(
    http_request: Handler, params: dict[str, Any]
) -> None:
    with pytest.raises(StepError) as info:
        await http_request(params, make_ctx())
    assert not info.value.retryable


async def test_the_client_is_shared(base_url: str) -> None:
    resources = NodeResources(http_allow=LOOPBACK)
    handler = builtin_handlers(resources=resources)["specialized.http_request"]
    await handler({"url": f"{base_url}/text"}, make_ctx())
    client = resources.http_client()
    await handler({"url": f"{base_url}/text"}, make_ctx())
    assert resources.http_client() is client
    await resources.aclose()
    assert client.is_closed


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/",
        "http://localhost:9/",
        "http://[::1]:9/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[::ffff:127.0.0.1]:9/",
        "http://0.0.0.0:9/",
    ],
)
async def test_internal_targets_are_refused(guarded: Handler, url: str) -> None:
    with pytest.raises(StepError) as info:
        await guarded({"url": url}, make_ctx())
    assert info.value.code == "ssrf_blocked"
    assert info.value.retryable is False
    assert "QO_AGENTS__HTTP_ALLOW" in info.value.message


async def test_a_redirect_to_an_internal_address_is_refused(base_url: str) -> None:
    # Only the test server's own address is allowed; it redirects to another loopback address.
    resources = NodeResources(http_allow=["127.0.0.1/32"])
    handler = builtin_handlers(resources=resources)["specialized.http_request"]
    try:
        ok = await handler({"url": f"{base_url}/text"}, make_ctx())
        assert ok["body"] == "plain words"
        with pytest.raises(StepError) as info:
            await handler(
                {"url": f"{base_url}/bounce", "query": {"to": "http://127.0.0.2:9/"}}, make_ctx()
            )
        assert info.value.code == "ssrf_blocked"
    finally:
        await resources.aclose()


def test_the_policy() -> None:
    from ipaddress import ip_address

    from quantum_orchestrator.agents.netguard import AddressPolicy

    policy = AddressPolicy(allow=["10.1.0.0/16"])
    assert policy.permits(ip_address("93.184.216.34"))
    assert policy.permits(ip_address("2606:4700:4700::1111"))
    assert policy.permits(ip_address("10.1.2.3"))
    for blocked in ("10.2.0.1", "127.0.0.1", "::1", "169.254.169.254", "fe80::1", "224.0.0.1"):
        assert not policy.permits(ip_address(blocked)), blocked
