"""Secrets and credentials never reach a log line.

The server's logging is configured as ``qo up`` configures it (JSON lines, here at debug level,
into a buffer); workflows then use a secret in a request that fails (the failure's message, which
the agent runtime logs, carries the value) and in one that echoes it back. Neither the secret
values nor the bearer tokens in play may appear anywhere in what was logged.
"""

from __future__ import annotations

import io
import json
import logging
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import structlog
from tests.conftest import make_settings
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run
from tests.support.server import LiveApp, live_app
from tests.unit.agents.test_agents_runtime import MemoryTransport, make_task

from quantum_orchestrator.agents import AgentRuntime, StepContext
from quantum_orchestrator.domain.errors import StepError
from quantum_orchestrator.observability.logging import configure_logging, secret_values

API = "/api/v1"
_NOISY = ("uvicorn.access", "httpx", "httpcore", "aiosqlite", "asyncio", "alembic")


@pytest.fixture
def log_buffer() -> Iterator[io.StringIO]:
    """The process's logging as ``qo up`` sets it up (JSON, debug), written to a buffer."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, {n: logging.getLogger(n).level for n in _NOISY})
    buffer = io.StringIO()
    configure_logging(level="debug", fmt="json", stream=buffer)
    try:
        yield buffer
    finally:
        handlers, level, levels = saved
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, value in levels.items():
            logging.getLogger(name).setLevel(value)
        structlog.reset_defaults()


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    assert lines, "nothing was logged"
    return lines


class _Reflect(BaseHTTPRequestHandler):
    """``/fail`` answers 500 and ``/echo`` 200, both quoting the credentials they received."""

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        data = json.dumps(
            {"authorization": self.headers.get("Authorization", ""), "query": query}
        ).encode()
        self.send_response(500 if self.path.startswith("/fail") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def reflector() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Reflect)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
async def app(
    tmp_path: Path, sqlite_url: str, log_buffer: io.StringIO
) -> AsyncIterator[tuple[LiveApp, httpx.AsyncClient]]:
    async with (
        live_app(make_settings(tmp_path, sqlite_url)) as live,
        httpx.AsyncClient(base_url=live.url, auth=live.auth, timeout=30) as client,
    ):
        yield live, client


def _node(node_id: str, url: str) -> dict[str, Any]:
    return {
        "id": node_id,
        "type": "specialized.http_request",
        "params": {
            "url": url + "?key={{ secrets.TOKEN }}",
            "headers": {"Authorization": "Bearer {{ secrets.API_KEY }}"},
        },
        "retry": {"max_attempts": 1},
    }


async def test_secret_values_and_tokens_stay_out_of_the_logs(
    app: tuple[LiveApp, httpx.AsyncClient], reflector: str, log_buffer: io.StringIO
) -> None:
    live, http = app
    value = f"s3cr3t-Value-{uuid.uuid4().hex}"
    created = await http.post(f"{API}/api-keys", json={"name": "workflow", "role": "viewer"})
    assert created.status_code == 201, created.text
    api_key = created.json()["key"]
    assert api_key.startswith("qo_k_")
    for name, secret in (("TOKEN", value), ("API_KEY", api_key)):
        answer = await http.post(f"{API}/secrets", json={"name": name, "value": secret})
        assert answer.status_code == 201, answer.text
    (workspace,) = (await http.get(f"{API}/workspaces")).json()["items"]
    allowed = await http.put(
        f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": ["127.0.0.1/32"]}
    )
    assert allowed.status_code == 200, allowed.text

    failing = {"name": "leaky-fail", "nodes": [_node("call", f"{reflector}/fail")]}
    await create_and_deploy(http, failing)
    failed = await wait_run(http, (await start_run(http, "leaky-fail"))["id"])
    assert failed["state"] == "failed", failed
    error = failed["steps"][0]["error"]
    assert error["code"] == "http_500"
    # The failure quoted both values back; what the run shows has them masked.
    assert "key=***" in error["message"]
    assert "Bearer ***" in error["message"]

    echoing = {
        "name": "leaky-echo",
        "nodes": [
            _node("call", f"{reflector}/echo"),
            {
                "id": "show",
                "type": "specialized.transform",
                "params": {"value": "{{ secrets.TOKEN }} and {{ secrets.API_KEY }}"},
            },
        ],
    }
    await create_and_deploy(http, echoing)
    echoed = await wait_run(http, (await start_run(http, "leaky-echo"))["id"])
    assert echoed["state"] == "succeeded", echoed
    outputs = {step["node_id"]: step["output"] for step in echoed["steps"]}
    assert outputs["call"]["body"]["authorization"] == "Bearer ***"
    assert outputs["show"] == "*** and ***"

    lines = _lines(log_buffer)
    text = log_buffer.getvalue()
    for leaked in (value, api_key, live.token, api_key.removeprefix("qo_k_")):
        assert leaked not in text
    # The agent did log the failure (at info level), with the values masked.
    failures = [line for line in lines if "attempt failed" in str(line.get("event"))]
    assert failures, lines
    assert all("***" in str(line["event"]) for line in failures)
    # Nothing stays registered for redaction once the steps are over.
    assert secret_values.redact(value) == value


def test_tokens_and_credentials_are_masked_on_every_logger(log_buffer: io.StringIO) -> None:
    session = "qo_s_" + "A" * 43
    agent = "qo_a_" + "b-_c" * 10
    other = logging.getLogger("some.library")
    other.warning("calling with Authorization: Bearer %s", session)
    other.warning("headers %s", {"Authorization": f"Bearer {agent}", "Accept": "*/*"})
    other.warning("Cookie: qo_session=%s; qo_csrf=abcdef0123", session)
    other.warning("login password=hunter2-hunter2 ok", extra={"authorization": agent})
    try:
        raise RuntimeError(f"the server refused {agent}")
    except RuntimeError:
        other.exception("request failed")
    structlog.get_logger("structured").info("token in use", token=session, user="u1")
    secret_values.add(["plain-secret-42"])
    try:
        other.info("the value is plain-secret-42, as a plain string")
    finally:
        secret_values.discard(["plain-secret-42"])

    text = log_buffer.getvalue()
    for leaked in (session, agent, "A" * 43, "hunter2-hunter2", "abcdef0123", "plain-secret-42"):
        assert leaked not in text
    lines = _lines(log_buffer)
    assert len(lines) == 7
    events = [str(line["event"]) for line in lines]
    assert events[0] == "calling with Authorization: ***"
    assert "'Accept': '*/*'" in events[1]
    assert lines[3]["authorization"] == "***"
    assert "qo_a_***" in lines[4]["exception"]
    assert lines[5]["token"] == "***"
    assert lines[5]["user"] == "u1"
    assert events[6] == "the value is ***, as a plain string"


async def test_the_agent_runtime_masks_a_steps_secrets(log_buffer: io.StringIO) -> None:
    secret = f"Zz-{uuid.uuid4().hex}"

    async def leaky(params: dict[str, Any], ctx: StepContext) -> Any:
        ctx.logger.info("using %s", params["token"])
        try:
            raise RuntimeError(f"inner {params['token']}")
        except RuntimeError:
            ctx.logger.exception("the handler noticed")
        logging.getLogger("some.library").warning("the library saw %s", params["token"])
        if params["long"]:
            # The value straddles the point where the runtime cuts long messages: it must be
            # masked before the cut, or a piece of it would survive the server's redaction.
            raise StepError("x" * 1990 + params["token"])
        raise StepError(f"failed with {params['token']}")

    transport = MemoryTransport()
    runtime = AgentRuntime(
        transport=transport,
        name="leaky",
        pool="tests",
        capabilities=[{"name": "test.leak", "category": "test"}],
        handlers={"test.leak": leaky},
    )
    async with runtime:
        for step_id, long in (("short", False), ("long", True)):
            task = make_task(step_id, "test.leak", token=secret, long=long)
            task["redact"] = [secret]
            transport.add(task)
        results = await transport.wait_results(2)
    assert results["short"]["error"]["message"] == "failed with ***"
    assert results["long"]["error"]["message"] == "x" * 1990 + "***"
    text = log_buffer.getvalue()
    assert secret[:8] not in text
    events = [str(line["event"]) for line in _lines(log_buffer)]
    assert "using ***" in events
    assert "the library saw ***" in events
    assert any(e.startswith("the handler noticed") and "inner ***" in e for e in events)
    assert secret_values.redact(secret) == secret
