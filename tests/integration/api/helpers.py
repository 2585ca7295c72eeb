"""Helpers for the API suite: specs, polling, problem checks, an SSE reader, pagination."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

API = "/api/v1"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id", "instance"}
TERMINAL = {"succeeded", "failed", "cancelled"}


def transform_spec(name: str, *, value: Any = "hi {{ inputs.who }}") -> dict[str, Any]:
    """A one-node workflow that needs the input ``who``."""
    return {
        "name": name,
        "description": f"the {name} workflow",
        "inputs": {
            "type": "object",
            "properties": {"who": {"type": "string"}},
            "required": ["who"],
            "additionalProperties": False,
        },
        "nodes": [{"id": "greet", "type": "specialized.transform", "params": {"value": value}}],
        "outputs": {"greeting": "{{ nodes.greet.output }}"},
    }


def delay_spec(name: str, seconds: float = 30) -> dict[str, Any]:
    """A workflow that waits (engine timer) and then succeeds: stays active for ``seconds``."""
    return {
        "name": name,
        "nodes": [
            {"id": "wait", "type": "core.delay", "params": {"seconds": seconds}},
            {"id": "done", "type": "core.noop", "params": {"ok": True}},
        ],
        "connections": [{"from": "wait", "to": "done"}],
    }


def failing_spec(name: str) -> dict[str, Any]:
    """A workflow whose only step fails at once (an HTTP request to a closed port, 1 attempt)."""
    return {
        "name": name,
        "nodes": [
            {
                "id": "call",
                "type": "specialized.http_request",
                "params": {"url": "http://127.0.0.1:9/nothing", "timeout": 1},
                "retry": {"max_attempts": 1},
            }
        ],
    }


def assert_problem(
    response: httpx.Response, status: int, code: str | None = None
) -> dict[str, Any]:
    """``response`` is an RFC 9457 problem with this status (and code); answers its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["type"].endswith("/" + body["code"])
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    assert body["instance"] == response.request.url.path
    if code is not None:
        assert body["code"] == code, body
    return body


def error_paths(body: dict[str, Any]) -> list[str]:
    """The ``path`` of every entry of a problem's ``errors``."""
    return [entry["path"] for entry in body.get("errors", [])]


async def create_workflow(http: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    response = await http.post(f"{API}/workflows", json={"spec": spec})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def deploy(http: httpx.AsyncClient, ref: str) -> dict[str, Any]:
    response = await http.post(f"{API}/workflows/{ref}/deploy")
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_and_deploy(http: httpx.AsyncClient, spec: dict[str, Any]) -> dict[str, Any]:
    """Create and deploy ``spec``; answers the workflow (as read after the deploy)."""
    await create_workflow(http, spec)
    await deploy(http, spec["name"])
    body: dict[str, Any] = (await http.get(f"{API}/workflows/{spec['name']}")).json()
    return body


async def start_run(
    http: httpx.AsyncClient, ref: str, inputs: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await http.post(f"{API}/workflows/{ref}/runs", json={"inputs": inputs or {}})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_run(
    http: httpx.AsyncClient, run_id: str, states: set[str] | None = None, timeout: float = 15
) -> dict[str, Any]:
    """Poll the run until it reaches one of ``states`` (default: any terminal state)."""
    wanted = states or TERMINAL
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run: dict[str, Any] = (await http.get(f"{API}/runs/{run_id}")).json()
        if run["state"] in wanted:
            return run
        if loop.time() > deadline:
            raise AssertionError(f"run {run_id} stayed {run['state']}: {run}")
        await asyncio.sleep(0.02)


async def wait_step(
    http: httpx.AsyncClient, run_id: str, node_id: str, state: str, timeout: float = 15
) -> dict[str, Any]:
    """Poll the run until its step ``node_id`` is in ``state``; answers the run."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        run: dict[str, Any] = (await http.get(f"{API}/runs/{run_id}")).json()
        if any(s["node_id"] == node_id and s["state"] == state for s in run["steps"]):
            return run
        if loop.time() > deadline:
            raise AssertionError(f"step {node_id} of run {run_id} never became {state}: {run}")
        await asyncio.sleep(0.02)


@dataclass
class Frame:
    """One Server-Sent Event."""

    id: str | None = None
    event: str | None = None
    data: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads("\n".join(self.data))


async def sse_frames(response: httpx.Response) -> AsyncIterator[Frame]:
    """Parse ``id:``/``event:``/``data:`` frames (comments are skipped) until the stream ends."""
    frame = Frame()
    seen = False
    async for line in response.aiter_lines():
        if line == "":
            if seen:
                yield frame
            frame, seen = Frame(), False
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        seen = True
        if name == "id":
            frame.id = value
        elif name == "event":
            frame.event = value
        elif name == "data":
            frame.data.append(value)
    if seen:
        yield frame


async def collect_sse(
    http: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None
) -> list[Frame]:
    """Read a whole event stream (it must end by itself within the client timeout)."""
    frames: list[Frame] = []
    async with http.stream("GET", path, headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for frame in sse_frames(response):
            frames.append(frame)
    return frames


async def walk_pages(
    http: httpx.AsyncClient, path: str, limit: int, params: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Follow ``next_cursor`` from the first page to the last; answers every item in order."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        query: dict[str, Any] = {"limit": limit, **(params or {})}
        if cursor is not None:
            query["cursor"] = cursor
        response = await http.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert page["items"], "a page with a next_cursor must not be empty"
    raise AssertionError("pagination did not end")
