"""``specialized.http_request``'s ``auth`` and ``paginate``, against real servers on 127.0.0.1."""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from quantum_orchestrator.agents import NodeResources, StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.nodes import builtin_handlers
from quantum_orchestrator.domain.errors import StepError

LOOPBACK = ["127.0.0.0/8"]
ITEMS = [f"item-{i}" for i in range(7)]


async def whoami(request: Request) -> Response:
    return JSONResponse(
        {
            "authorization": request.headers.get("authorization"),
            "x_api_key": request.headers.get("x-api-key"),
        }
    )


async def bounce(request: Request) -> Response:
    return Response(status_code=302, headers={"Location": request.query_params["to"]})


def _slice(page: int, size: int = 3) -> list[str]:
    return ITEMS[page * size : (page + 1) * size]


async def link(request: Request) -> Response:
    page = int(request.query_params.get("page", "0"))
    headers = {}
    if (page + 1) * 3 < len(ITEMS):
        # A relative link, as many APIs send.
        headers["Link"] = f'</link?page={page + 1}&size=3>; rel="next", </link?page=0>; rel="first"'
    return JSONResponse({"data": _slice(page)}, headers=headers)


async def endless(request: Request) -> Response:
    page = int(request.query_params.get("page", "0"))
    return JSONResponse(
        [page], headers={"Link": f'<{request.url.path}?page={page + 1}>; rel="next"'}
    )


async def cursor(request: Request) -> Response:
    if request.headers.get("authorization") != "Bearer tok":
        return JSONResponse({"error": "no"}, status_code=401)
    page = int(request.query_params.get("after", "0"))
    following = str(page + 1) if (page + 1) * 3 < len(ITEMS) else None
    return JSONResponse(
        {"data": [{"id": x} for x in _slice(page)], "meta": {"next": following}},
    )


async def numbered(request: Request) -> Response:
    page = int(request.query_params["p"])
    if request.query_params.get("kind") != "all":
        return JSONResponse({"error": "query lost"}, status_code=400)
    return JSONResponse({"results": _slice(page - 1)})


async def broken_page(request: Request) -> Response:
    page = int(request.query_params.get("page", "1"))
    if page == 2:
        return JSONResponse({"error": "boom"}, status_code=500)
    return JSONResponse({"results": [page]})


async def set_cookie(request: Request) -> Response:
    response = JSONResponse({"set": True})
    response.set_cookie("session", "step-one-private", path="/")
    return response


async def echo_cookie(request: Request) -> Response:
    return JSONResponse({"cookie": request.headers.get("cookie")})


APP = Starlette(
    routes=[
        Route("/set-cookie", set_cookie),
        Route("/echo-cookie", echo_cookie),
        Route("/whoami", whoami),
        Route("/bounce", bounce),
        Route("/link", link),
        Route("/endless", endless),
        Route("/cursor", cursor),
        Route("/numbered", numbered),
        Route("/broken", broken_page),
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


@pytest.fixture
async def http_request() -> AsyncIterator[Handler]:
    resources = NodeResources(http_allow=LOOPBACK)
    yield builtin_handlers(resources=resources)["specialized.http_request"]
    await resources.aclose()


@pytest.fixture
def base_url(live_server: Callable[[Any], Any]) -> str:
    url: str = live_server(APP).url
    return url


@pytest.fixture
def other_url(live_server: Callable[[Any], Any]) -> str:
    """Another origin (another port)."""
    url: str = live_server(APP).url
    return url


# --- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "authorization", "api_key"),
    [
        ({"bearer": "s3cret"}, "Bearer s3cret", None),
        (
            {"basic": {"username": "ann", "password": "p:w"}},
            "Basic " + base64.b64encode(b"ann:p:w").decode(),
            None,
        ),
        ({"header": {"name": "X-Api-Key", "value": "k3y"}}, None, "k3y"),
    ],
)
async def test_auth_sets_the_credentials(
    http_request: Handler,
    base_url: str,
    auth: dict[str, Any],
    authorization: str | None,
    api_key: str | None,
) -> None:
    output = await http_request({"url": f"{base_url}/whoami", "auth": auth}, make_ctx())
    assert output["body"] == {"authorization": authorization, "x_api_key": api_key}


@pytest.mark.parametrize(
    "auth",
    [{"bearer": "s3cret"}, {"header": {"name": "X-Api-Key", "value": "k3y"}}],
)
async def test_auth_follows_same_origin_redirects_only(
    http_request: Handler, base_url: str, other_url: str, auth: dict[str, Any]
) -> None:
    same = await http_request(
        {"url": f"{base_url}/bounce", "query": {"to": "/whoami"}, "auth": auth}, make_ctx()
    )
    assert same["body"] != {"authorization": None, "x_api_key": None}
    other = await http_request(
        {"url": f"{base_url}/bounce", "query": {"to": f"{other_url}/whoami"}, "auth": auth},
        make_ctx(),
    )
    assert other["status"] == 200
    assert other["body"] == {"authorization": None, "x_api_key": None}


@pytest.mark.parametrize(
    "params",
    [
        {"auth": {"bearer": ""}},
        {"auth": {"bearer": "a", "basic": {"username": "u", "password": "p"}}},
        {"auth": {"basic": {"username": "u:x", "password": "p"}}},
        {"auth": {"basic": {"username": "u"}}},
        {"auth": {"header": {"name": "bad name", "value": "v"}}},
        {"auth": {"digest": "x"}},
        {"auth": "Bearer x"},
        {"auth": {"bearer": "a"}, "headers": {"authorization": "Bearer b"}},
        {"auth": {"header": {"name": "X-Key", "value": "v"}}, "headers": {"x-key": "w"}},
    ],
)
async def test_invalid_auth(http_request: Handler, base_url: str, params: dict[str, Any]) -> None:
    with pytest.raises(StepError) as info:
        await http_request({"url": f"{base_url}/whoami", **params}, make_ctx())
    assert info.value.code == "invalid_params"
    assert not info.value.retryable


async def test_an_error_does_not_show_the_credentials(http_request: Handler, base_url: str) -> None:
    with pytest.raises(StepError) as info:
        await http_request({"url": f"{base_url}/cursor", "auth": {"bearer": "wrong"}}, make_ctx())
    assert info.value.code == "http_401"
    assert "wrong" not in info.value.message


# --- paginate ---------------------------------------------------------------------------------


async def test_link_pagination(http_request: Handler, base_url: str) -> None:
    output = await http_request(
        {"url": f"{base_url}/link", "paginate": {"mode": "link", "items": "$.data"}}, make_ctx()
    )
    assert output["items"] == ITEMS
    assert output["pages"] == 3
    assert output["status"] == 200
    assert output["truncated"] is False
    assert output["next"] is None
    assert "content-type" in output["headers"]


async def test_max_pages_stops_and_says_where_it_stopped(
    http_request: Handler, base_url: str
) -> None:
    output = await http_request(
        {"url": f"{base_url}/endless", "paginate": {"mode": "link", "max_pages": 4}}, make_ctx()
    )
    assert output["items"] == [0, 1, 2, 3]
    assert output["pages"] == 4
    assert output["truncated"] is True
    assert output["next"] == f"{base_url}/endless?page=4"


async def test_max_pages_has_a_hard_cap(http_request: Handler, base_url: str) -> None:
    output = await http_request(
        {"url": f"{base_url}/endless", "paginate": {"mode": "link", "max_pages": 10_000}},
        make_ctx(),
    )
    assert output["pages"] == 100
    assert output["truncated"] is True


async def test_cursor_pagination_with_auth(http_request: Handler, base_url: str) -> None:
    output = await http_request(
        {
            "url": f"{base_url}/cursor",
            "auth": {"bearer": "tok"},
            "paginate": {
                "mode": "cursor",
                "items": "$.data[*].id",
                "cursor_path": "$.meta.next",
                "cursor_param": "after",
            },
        },
        make_ctx(),
    )
    assert output["items"] == ITEMS
    assert output["pages"] == 3
    assert output["truncated"] is False


async def test_page_pagination_stops_on_an_empty_page(http_request: Handler, base_url: str) -> None:
    output = await http_request(
        {
            "url": f"{base_url}/numbered",
            "query": {"kind": "all"},
            "paginate": {"mode": "page", "page_param": "p", "items": "$.results"},
        },
        make_ctx(),
    )
    assert output["items"] == ITEMS
    # Three pages of items, then the empty one that ends the listing.
    assert output["pages"] == 4
    assert output["truncated"] is False


async def test_a_failed_page_fails_the_step(http_request: Handler, base_url: str) -> None:
    with pytest.raises(StepError) as info:
        await http_request(
            {"url": f"{base_url}/broken", "paginate": {"mode": "page", "items": "$.results"}},
            make_ctx(),
        )
    assert info.value.code == "http_500"
    assert info.value.retryable


@pytest.mark.parametrize(
    "paginate",
    [
        "link",
        {"mode": "offset"},
        {"mode": "link", "max_pages": 0},
        {"mode": "link", "items": "$[["},
        {"mode": "cursor", "cursor_path": "$.next"},
        {"mode": "cursor", "cursor_param": "after"},
        {"mode": "page", "start": -1},
    ],
)
async def test_invalid_paginate(http_request: Handler, base_url: str, paginate: Any) -> None:
    with pytest.raises(StepError) as info:
        await http_request({"url": f"{base_url}/link", "paginate": paginate}, make_ctx())
    assert info.value.code == "invalid_params"


async def test_cookies_never_travel_from_one_step_to_another(
    http_request: Handler, base_url: str
) -> None:
    # The client is shared by all steps of the agent, whatever their workspace.
    first = await http_request({"url": f"{base_url}/set-cookie"}, make_ctx())
    assert "session=step-one-private" in first["headers"]["set-cookie"]
    second = await http_request({"url": f"{base_url}/echo-cookie"}, make_ctx())
    assert second["body"] == {"cookie": None}
