"""A small but real HTTP server speaking the ``/api/v1`` contract, for SDK and CLI tests.

It keeps workflows, versions and runs in memory and answers with canned but realistic bodies:
problem+json errors, cursors, and a Server-Sent Events stream per run. A run's fate is chosen by
its ``outcome`` input:

- ``succeeded`` (default), ``failed``, ``cancelled``: the run is finished when created;
- ``reconnect``: the first event stream stops half-way, the next one resumes from Last-Event-ID;
- ``nostream``: the events endpoint answers 404 and the run finishes after a few GETs;
- ``abort``: the event stream breaks mid-way (a dropped connection) and polling takes over;
- ``slow``: the run never finishes.

Accounts (log in, workspaces, members, API keys, agent tokens) live in ``fake_accounts.py``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import uvicorn
from fake_accounts import FakeAccounts
from fake_problems import problem
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

KNOWN_TYPES = {"specialized.http_request", "specialized.transform", "core.noop"}
T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def _ts(offset_ms: int) -> str:
    return (T0 + timedelta(milliseconds=offset_ms)).isoformat()


class _Auth:
    """Pure ASGI middleware: when the fake has a token, every request must carry it (or one
    the account routes issued); logging in needs none."""

    def __init__(self, app: ASGIApp, fake: FakeQO) -> None:
        self.app = app
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.fake.seen_headers.append(headers)
            sent = headers.get("authorization", "").removeprefix("Bearer ")
            if (
                self.fake.token
                and scope["path"] != "/api/v1/auth/token"
                and sent != self.fake.token
                and not self.fake.accounts.accepts(sent)
            ):
                await problem(401, "unauthorized", "a valid API token is required")(
                    scope, receive, send
                )
                return
        await self.app(scope, receive, send)


class FakeQO:
    """The in-memory server; ``url`` is set once it listens."""

    def __init__(self) -> None:
        self.url = ""
        self.token: str | None = None
        self.workflows: dict[str, dict[str, Any]] = {}
        self.versions: dict[str, list[dict[str, Any]]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, str] = {}
        self.gets: dict[str, int] = {}
        self.streams: list[str | None] = []
        self.seen_headers: list[dict[str, str]] = []
        self.calls: list[tuple[str, str]] = []
        self.accounts = FakeAccounts()
        routes = [
            *self.accounts.routes(),
            Route("/api/v1/workflows/validate", self.validate, methods=["POST"]),
            Route("/api/v1/workflows", self.list_workflows, methods=["GET"]),
            Route("/api/v1/workflows", self.create_workflow, methods=["POST"]),
            Route("/api/v1/workflows/{ref}", self.get_workflow, methods=["GET"]),
            Route("/api/v1/workflows/{ref}", self.update_workflow, methods=["PUT"]),
            Route("/api/v1/workflows/{ref}/deploy", self.deploy, methods=["POST"]),
            Route("/api/v1/workflows/{ref}/versions", self.list_versions, methods=["GET"]),
            Route("/api/v1/workflows/{ref}/versions/{n:int}", self.get_version, methods=["GET"]),
            Route("/api/v1/workflows/{ref}/runs", self.start_run, methods=["POST"]),
            Route("/api/v1/runs", self.list_runs, methods=["GET"]),
            Route("/api/v1/runs/{id}", self.get_run, methods=["GET"]),
            Route("/api/v1/runs/{id}/cancel", self.cancel, methods=["POST"]),
            Route("/api/v1/runs/{id}/retry", self.retry, methods=["POST"]),
            Route("/api/v1/runs/{id}/events", self.events, methods=["GET"]),
            Route("/api/v1/agents", self.list_agents, methods=["GET"]),
            Route("/api/v1/agents/{id}/drain", self.drain, methods=["POST"]),
            Route("/api/v1/node-types", self.node_types, methods=["GET"]),
            Route("/not-json/api/v1/workflows", self.not_json, methods=["GET"]),
        ]
        self.app = _Auth(Starlette(routes=routes), self)

    # Workflows

    def _check(self, spec: Any) -> list[dict[str, str]]:
        if not isinstance(spec, dict):
            return [{"path": "", "message": "the spec must be an object"}]
        errors = []
        if not isinstance(spec.get("name"), str) or not spec.get("name"):
            errors.append({"path": "name", "message": "a workflow needs a name"})
        nodes = spec.get("nodes")
        if not isinstance(nodes, list) or not nodes:
            errors.append({"path": "nodes", "message": "at least one node is needed"})
        else:
            for i, node in enumerate(nodes):
                if node.get("type") not in KNOWN_TYPES:
                    errors.append(
                        {
                            "path": f"nodes[{i}].type",
                            "message": f"unknown node type {node.get('type')!r}",
                        }
                    )
        return errors

    def _find(self, ref: str) -> dict[str, Any] | None:
        for wf in self.workflows.values():
            if ref in (wf["id"], wf["name"]):
                return wf
        return None

    async def validate(self, request: Request) -> Response:
        spec = (await request.json()).get("spec")
        errors = self._check(spec)
        return JSONResponse({"valid": not errors, "errors": errors})

    async def create_workflow(self, request: Request) -> Response:
        self.calls.append(("POST", "/workflows"))
        spec = (await request.json()).get("spec")
        errors = self._check(spec)
        if errors:
            return problem(422, "spec_invalid", "the spec is not valid", errors)
        if spec["name"] in self.workflows:
            return problem(409, "conflict", f"a workflow named {spec['name']!r} already exists")
        wf = {
            "id": f"wf_{len(self.workflows) + 1}",
            "name": spec["name"],
            "description": spec.get("description"),
            "spec": spec,
            "latest_version": None,
            "created_at": _ts(0),
            "updated_at": _ts(0),
        }
        self.workflows[spec["name"]] = wf
        return JSONResponse(wf, status_code=201)

    async def list_workflows(self, request: Request) -> Response:
        # Pages of one item, so clients must follow the cursor.
        items = sorted(self.workflows.values(), key=lambda w: w["id"])
        start = int(request.query_params.get("cursor") or 0)
        page = items[start : start + 1]
        more = start + 1 < len(items)
        return JSONResponse({"items": page, "next_cursor": str(start + 1) if more else None})

    async def get_workflow(self, request: Request) -> Response:
        wf = self._find(request.path_params["ref"])
        if wf is None:
            return problem(404, "not_found", f"workflow {request.path_params['ref']!r} not found")
        return JSONResponse(wf)

    async def update_workflow(self, request: Request) -> Response:
        self.calls.append(("PUT", request.path_params["ref"]))
        wf = self._find(request.path_params["ref"])
        if wf is None:
            return problem(404, "not_found", f"workflow {request.path_params['ref']!r} not found")
        spec = (await request.json()).get("spec")
        wf.update(spec=spec, description=spec.get("description"), updated_at=_ts(5000))
        return JSONResponse(wf)

    async def deploy(self, request: Request) -> Response:
        wf = self._find(request.path_params["ref"])
        if wf is None:
            return problem(404, "not_found", f"workflow {request.path_params['ref']!r} not found")
        versions = self.versions.setdefault(wf["id"], [])
        version = {
            "id": f"ver_{wf['id']}_{len(versions) + 1}",
            "workflow_id": wf["id"],
            "workflow_name": wf["name"],
            "number": len(versions) + 1,
            "spec": wf["spec"],
            "created_at": _ts(1000),
        }
        versions.append(version)
        wf["latest_version"] = version["number"]
        return JSONResponse(version, status_code=201)

    async def list_versions(self, request: Request) -> Response:
        wf = self._find(request.path_params["ref"])
        if wf is None:
            return problem(404, "not_found", "workflow not found")
        return JSONResponse({"items": self.versions.get(wf["id"], []), "next_cursor": None})

    async def get_version(self, request: Request) -> Response:
        wf = self._find(request.path_params["ref"])
        n = request.path_params["n"]
        versions = self.versions.get(wf["id"], []) if wf else []
        if not 1 <= n <= len(versions):
            return problem(404, "not_found", f"version {n} not found")
        return JSONResponse(versions[n - 1])

    # Runs

    async def start_run(self, request: Request) -> Response:
        wf = self._find(request.path_params["ref"])
        if wf is None:
            return problem(404, "not_found", f"workflow {request.path_params['ref']!r} not found")
        if not wf["latest_version"]:
            return problem(409, "conflict", f"workflow {wf['name']!r} has no deployed version")
        body = await request.json()
        key = request.headers.get("idempotency-key")
        if key and key in self.idempotency:
            return JSONResponse(self._public(self.runs[self.idempotency[key]]), status_code=201)
        inputs = body.get("inputs") or {}
        run_id = f"run_{len(self.runs) + 1}"
        outcome = str(inputs.get("outcome", "succeeded"))
        self.runs[run_id] = run = _make_run(
            run_id, wf, body.get("version") or wf["latest_version"], inputs, outcome
        )
        if key:
            self.idempotency[key] = run_id
        return JSONResponse(self._public(run, state="queued"), status_code=201)

    def _public(
        self, run: dict[str, Any], *, state: str | None = None, steps: bool = False
    ) -> dict[str, Any]:
        out = {k: v for k, v in run.items() if not k.startswith("_") and k != "steps"}
        if state is not None:
            out.update(state=state, outputs=None, error=None, finished_at=None, duration_ms=None)
        if steps:
            out["steps"] = run["steps"]
        return out

    async def get_run(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["id"])
        if run is None:
            return problem(404, "not_found", f"run {request.path_params['id']!r} not found")
        count = self.gets[run["id"]] = self.gets.get(run["id"], 0) + 1
        if run["_outcome"] == "slow" or (run["_outcome"] in ("nostream", "abort") and count < 3):
            return JSONResponse(self._public(run, state="running", steps=True))
        return JSONResponse(self._public(run, steps=True))

    async def list_runs(self, request: Request) -> Response:
        q = request.query_params
        items = [
            self._public(r)
            for r in reversed(self.runs.values())
            if (not q.get("workflow") or q["workflow"] in (r["workflow_name"], r["workflow_id"]))
            and (not q.get("state") or q["state"] == r["state"])
        ]
        limit = int(q.get("limit", 50))
        more = len(items) > limit
        return JSONResponse({"items": items[:limit], "next_cursor": "c2" if more else None})

    async def cancel(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["id"])
        if run is None:
            return problem(404, "not_found", "run not found")
        if run["state"] in ("succeeded", "failed", "cancelled"):
            return problem(409, "invalid_transition", f"run {run['id']} is already {run['state']}")
        run["state"] = "cancelled"
        return JSONResponse(self._public(run))

    async def retry(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["id"])
        if run is None:
            return problem(404, "not_found", "run not found")
        run.update(state="queued", error=None)
        return JSONResponse(self._public(run))

    async def events(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["id"])
        if run is None:
            return problem(404, "not_found", "run not found")
        last = request.headers.get("last-event-id")
        self.streams.append(last)
        outcome = run["_outcome"]
        if outcome == "nostream":
            return problem(404, "not_found", "no event stream here")
        events = [e for e in run["_events"] if last is None or e["id"] > int(last)]
        if outcome == "reconnect" and last is None:
            events = events[:2]
        if outcome == "slow":
            events = events[:1]

        async def stream() -> AsyncIterator[str]:
            yield ": ping\n\n"
            for i, event in enumerate(events):
                if outcome == "abort" and i == 1:
                    raise ConnectionAbortedError("the fake drops the connection")
                yield f"id: {event['id']}\nevent: {event['type']}\ndata: {json.dumps(event)}\n\n"
            if outcome == "slow":
                await asyncio.sleep(30)

        return StreamingResponse(stream(), media_type="text/event-stream")

    # Agents and node types

    async def list_agents(self, request: Request) -> Response:
        agent = {
            "id": "agt_1",
            "name": "builtin-1",
            "pool": "builtin",
            "capabilities": ["specialized.http_request", "specialized.transform"],
            "concurrency": 64,
            "running": 2,
            "steps_done": 120,
            "version": "0.1.0",
            "host": "box",
            "pid": 4242,
            "state": "online",
            "registered_at": _ts(0),
            "last_heartbeat_at": _ts(9000),
        }
        return JSONResponse({"items": [agent], "next_cursor": None})

    async def drain(self, request: Request) -> Response:
        if request.path_params["id"] != "agt_1":
            return problem(404, "not_found", f"agent {request.path_params['id']!r} not found")
        return JSONResponse({"id": "agt_1", "state": "draining"})

    async def node_types(self, request: Request) -> Response:
        items = [
            {
                "type": t,
                "category": t.split(".")[0],
                "description": t,
                "params_schema": {},
                "executor": "agent",
                "builtin": True,
            }
            for t in sorted(KNOWN_TYPES)
        ]
        return JSONResponse({"items": items})

    async def not_json(self, request: Request) -> Response:
        return Response("<html>hello</html>", media_type="text/html")


def _make_run(
    run_id: str, wf: dict[str, Any], version: int, inputs: dict[str, Any], outcome: str
) -> dict[str, Any]:
    final = outcome if outcome in ("failed", "cancelled") else "succeeded"
    error = {"code": "http_error", "message": "GET https://example.com: 503", "retryable": True}
    fetch_attempts = [
        {
            "number": 1,
            "state": "failed",
            "agent_id": "agt_1",
            "started_at": _ts(10),
            "finished_at": _ts(20),
            "error": error,
        },
    ]
    if final == "failed":
        fetch_attempts.append(
            {**fetch_attempts[0], "number": 2, "started_at": _ts(30), "finished_at": _ts(40)}
        )
    else:
        fetch_attempts.append(
            {
                "number": 2,
                "state": "succeeded",
                "agent_id": "agt_1",
                "started_at": _ts(30),
                "finished_at": _ts(1240),
                "error": None,
            }
        )
    fetch = {
        "id": f"{run_id}_s1",
        "node_id": "fetch",
        "node_type": "specialized.http_request",
        "parent_id": None,
        "map_index": None,
        "state": "failed" if final == "failed" else "succeeded",
        "params": {"url": "https://example.com"},
        "output": None if final == "failed" else {"status": 200},
        "error": error if final == "failed" else None,
        "attempts": fetch_attempts,
        "queued_at": _ts(5),
        "started_at": _ts(10),
        "finished_at": _ts(1240),
        "duration_ms": 1230,
    }
    shape = {
        "id": f"{run_id}_s2",
        "node_id": "shape",
        "node_type": "specialized.transform",
        "parent_id": None,
        "map_index": None,
        "state": "succeeded" if final == "succeeded" else "skipped",
        "params": {},
        "output": {"status": 200} if final == "succeeded" else None,
        "error": None,
        "attempts": []
        if final != "succeeded"
        else [
            {
                "number": 1,
                "state": "succeeded",
                "agent_id": "agt_1",
                "started_at": _ts(1250),
                "finished_at": _ts(1260),
                "error": None,
            }
        ],
        "queued_at": _ts(1245),
        "started_at": None,
        "finished_at": None,
        "duration_ms": None,
    }
    events: list[dict[str, Any]] = []

    def add(kind: str, step: dict[str, Any] | None, state: str, at: int, **data: Any) -> None:
        events.append(
            {
                "id": len(events) + 1,
                "run_id": run_id,
                "step_id": step["id"] if step else None,
                "node_id": step["node_id"] if step else None,
                "type": kind,
                "state": state,
                "ts": _ts(at),
                "data": data,
            }
        )

    add("run.running", None, "running", 1)
    add("step.running", fetch, "running", 10, attempt=1)
    add("step.retrying", fetch, "pending", 20, attempt=1, error=error)
    if final == "failed":
        add("step.failed", fetch, "failed", 40, attempt=2, error=error)
        add("run.failed", None, "failed", 41)
    elif final == "cancelled":
        add("run.cancelled", None, "cancelled", 35)
    else:
        add("step.succeeded", fetch, "succeeded", 1240, attempt=2)
        add("step.succeeded", shape, "succeeded", 1260, attempt=1)
        add("run.succeeded", None, "succeeded", 1261)
    return {
        "id": run_id,
        "workflow_id": wf["id"],
        "workflow_name": wf["name"],
        "version": version,
        "state": "running" if outcome == "slow" else final,
        "inputs": inputs,
        "outputs": {"status": 200} if final == "succeeded" else None,
        "error": {
            "code": "step_failed",
            "message": "node fetch failed after 2 attempts",
            "retryable": False,
        }
        if final == "failed"
        else None,
        "created_at": _ts(0),
        "started_at": _ts(1),
        "finished_at": _ts(1261),
        "duration_ms": 1260,
        "steps": [fetch, shape],
        "_outcome": outcome,
        "_events": events,
    }


def free_port() -> int:
    """A TCP port nobody listens on (right now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread; yields the base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        # The stock asyncio loop: uvloop would become the process-wide default and hide
        # the lines it runs from coverage.
        loop="asyncio",
        log_level="critical",
        lifespan="off",
        ws="none",
        http="h11",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def fake_qo() -> Iterator[FakeQO]:
    """A started :class:`FakeQO`."""
    fake = FakeQO()
    with serving(fake.app) as url:
        fake.url = url
        yield fake
