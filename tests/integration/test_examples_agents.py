"""The agent examples run end to end, started by their triggers, against real local servers.

``examples/digest.yaml`` is started by an interval schedule: it fetches a page from a local
site, extracts the papers, asks the scripted OpenAI-compatible server (tests/support) for a
summary and posts it to the site's Slack-compatible webhook. ``examples/triage.yaml`` is
started by a signed webhook: the scripted model classifies the ticket, a refund waits for an
approval given through the API, a question is posted at once. Every server is on 127.0.0.1,
which the workspace allows for HTTP steps as an operator would.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.support.llm_server import LlmServer, Reply, llm_server
from tests.support.server import LiveApp

from quantum_orchestrator.domain.triggers import sign_webhook

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
API = "/api/v1"
LLM_KEY = "sk-example-test-key"
TERMINAL = {"succeeded", "failed", "cancelled"}

PAGE = """<!doctype html>
<html><head><title>New papers</title></head>
<body>
  <article><h2><a href="https://papers.example/2611.001">Durable Execution at Scale</a></h2>
    <p>We study workflow engines that survive crashes.</p></article>
  <article><h2><a href="https://papers.example/2611.002">Small Models, Big Routers</a></h2>
    <p>Routing requests between language models.</p></article>
  <article><h2><a href="https://papers.example/2611.003">Cheap Exactly-Once Timers</a></h2>
    <p>Timers in a database table.</p></article>
</body></html>"""
TITLES = ["Durable Execution at Scale", "Small Models, Big Routers", "Cheap Exactly-Once Timers"]


@dataclass
class Site:
    """A web page at ``page_url`` and a Slack-compatible webhook at ``hook_url``."""

    page_url: str = ""
    hook_url: str = ""
    posted: list[dict[str, Any]] = field(default_factory=list)
    fetches: int = 0


@contextmanager
def local_site() -> Iterator[Site]:
    """Serve the page (GET /new) and the webhook (POST /services/T/B/X) on 127.0.0.1."""
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            if self.path != "/new":
                self._send(404, b"not found", "text/plain")
                return
            site.fetches += 1
            self._send(200, PAGE.encode(), "text/html; charset=utf-8")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/services/T/B/X":
                self._send(404, b"not found", "text/plain")
                return
            site.posted.append(json.loads(raw))
            self._send(200, b"ok", "text/plain")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    site.page_url, site.hook_url = f"{base}/new", f"{base}/services/T/B/X"
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def site() -> Iterator[Site]:
    with local_site() as running:
        yield running


@pytest.fixture
def llm() -> Iterator[LlmServer]:
    with llm_server() as server:
        yield server


@pytest.fixture
async def anonymous(server: LiveApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials: a webhook sender has only the trigger's secret."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


async def prepare(http: httpx.AsyncClient, name: str) -> None:
    """Allow loopback, store LLM_KEY, validate the example, then create and deploy it."""
    (workspace,) = (await http.get(f"{API}/workspaces")).json()["items"]
    allowed = await http.put(
        f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": ["127.0.0.0/8"]}
    )
    assert allowed.status_code == 200, allowed.text
    secret = await http.post(f"{API}/secrets", json={"name": "LLM_KEY", "value": LLM_KEY})
    assert secret.status_code == 201, secret.text
    spec = yaml.safe_load((EXAMPLES / f"{name}.yaml").read_text())
    checked = await http.post(f"{API}/workflows/validate", json={"spec": spec})
    assert checked.json() == {"valid": True, "errors": []}, checked.text
    assert (await http.post(f"{API}/workflows", json={"spec": spec})).status_code == 201
    assert (await http.post(f"{API}/workflows/{name}/deploy")).status_code == 201


async def wait_run(
    http: httpx.AsyncClient, run_id: str, states: set[str], timeout: float = 30
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            run: dict[str, Any] = (await http.get(f"{API}/runs/{run_id}")).json()
            if run["state"] in states:
                return run
            await asyncio.sleep(0.02)


def steps(run: dict[str, Any]) -> dict[str, str]:
    return {step["node_id"]: step["state"] for step in run["steps"]}


async def test_digest_on_a_schedule(http: httpx.AsyncClient, site: Site, llm: LlmServer) -> None:
    await prepare(http, "digest")
    summary = "Three papers on durable execution, model routing and database timers."
    llm.add(Reply(content=summary, prompt_tokens=210, completion_tokens=40))
    # The example's trigger is a weekday cron; here an interval of 5 s fires soon, and the
    # schedule is paused as soon as its first run exists (5 s is ample on a loaded machine),
    # so exactly one run fires.
    created = await http.post(
        f"{API}/workflows/digest/triggers",
        json={
            "kind": "schedule",
            "name": "daily",
            "schedule": {"interval": 5},
            "inputs": {
                "url": site.page_url,
                "slack_webhook": site.hook_url,
                "base_url": llm.url,
                "model": "test-model",
            },
        },
    )
    assert created.status_code == 201, created.text
    trigger = created.json()
    async with asyncio.timeout(30):
        while not (
            items := (await http.get(f"{API}/runs", params={"workflow": "digest"})).json()["items"]
        ):
            await asyncio.sleep(0.05)
    paused = await http.post(f"{API}/triggers/{trigger['id']}/pause")
    assert paused.status_code == 200, paused.text
    (fired,) = items
    assert fired["trigger"] == "schedule"
    assert fired["idempotency_key"].startswith(f"schedule:{trigger['id']}:")

    run = await wait_run(http, fired["id"], TERMINAL)
    assert run["state"] == "succeeded", run
    assert run["outputs"] == {"papers": 3, "summary": summary, "tokens": 250}
    assert site.fetches == 1

    # The model got the titles, and the key from the secret; the run never shows the key.
    (asked,) = llm.seen
    assert asked.headers["Authorization"] == f"Bearer {LLM_KEY}"
    assert asked.body["model"] == "test-model"
    prompt = asked.body["messages"][-1]["content"]
    assert prompt == "Today's new papers:\n" + "\n".join(f"- {t}" for t in TITLES)
    assert LLM_KEY not in json.dumps(run)

    # The webhook got the summary and a link per paper.
    (message,) = site.posted
    links = [f"• <https://papers.example/2611.00{i}|{t}>" for i, t in enumerate(TITLES, 1)]
    day = fired["created_at"][:10]
    assert message == {
        "text": "\n".join([f"Research digest, {day}: 3 new papers", summary, *links])
    }

    usage = (await http.get(f"{API}/usage", params={"group_by": "workflow"})).json()
    (row,) = usage["items"]
    assert row["workflow"] == "digest"
    assert (row["steps"], row["prompt_tokens"], row["completion_tokens"]) == (1, 210, 40)
    # The paused schedule fired once.
    listed = (await http.get(f"{API}/runs", params={"workflow": "digest"})).json()["items"]
    assert [r["id"] for r in listed] == [fired["id"]]


def signed(secret: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A delivery as a help desk sends it: HMAC-SHA256 of ``timestamp.body``, with the secret."""
    body = json.dumps(payload).encode()
    timestamp = str(int(time.time()))
    return {
        "content": body,
        "headers": {
            "Content-Type": "application/json",
            "X-QO-Timestamp": timestamp,
            "X-QO-Signature": sign_webhook(secret, timestamp, body),
        },
    }


async def test_triage_from_a_signed_webhook(
    http: httpx.AsyncClient, anonymous: httpx.AsyncClient, site: Site, llm: LlmServer
) -> None:
    await prepare(http, "triage")
    created = await http.post(
        f"{API}/workflows/triage/triggers",
        json={
            "kind": "webhook",
            "name": "helpdesk",
            "inputs": {"slack_webhook": site.hook_url, "base_url": llm.url, "model": "test-model"},
        },
    )
    assert created.status_code == 201, created.text
    hook_url, secret = created.json()["hook_url"], created.json()["secret"]

    # A refund: classified, then waiting at the approval; nothing is posted yet.
    refund = json.loads((EXAMPLES / "inputs" / "triage.json").read_text())
    llm.add(
        Reply(
            content=json.dumps(
                {"category": "refund", "urgency": "high", "summary": "Charged twice in November."}
            )
        )
    )
    delivered = await anonymous.post(hook_url, **signed(secret, refund))
    assert delivered.status_code == 202, delivered.text
    assert delivered.json()["created"] is True
    run_id = delivered.json()["run_id"]
    waiting = await wait_run(http, run_id, {"waiting", *TERMINAL})
    assert waiting["state"] == "waiting", waiting
    assert waiting["trigger"] == "webhook"
    assert steps(waiting) == {
        "classify": "succeeded",
        "route": "succeeded",
        "approval": "waiting",
        "refund_notice": "pending",
        "bug_notice": "skipped",
        "question_notice": "skipped",
    }
    (pending,) = (await http.get(f"{API}/approvals")).json()["items"]
    assert pending["run_id"] == run_id
    assert "Charged twice in November." in json.dumps(pending)
    assert site.posted == []
    # The classification asked for JSON against the schema, with the ticket in the prompt.
    (asked,) = llm.seen
    assert "JSON Schema" in asked.body["messages"][0]["content"]
    assert refund["subject"] in asked.body["messages"][-1]["content"]

    approved = await http.post(
        f"{API}/runs/{run_id}/steps/approval/approve", json={"comment": "duplicate charge"}
    )
    assert approved.status_code == 200, approved.text
    done = await wait_run(http, run_id, TERMINAL)
    assert done["state"] == "succeeded", done
    assert done["outputs"]["category"] == "refund"
    assert done["outputs"]["approval"]["decision"] == "approved"
    decided_by = done["outputs"]["approval"]["decided_by"]
    assert site.posted == [
        {
            "text": f"Refund approved by {decided_by} for ticket T-1042: "
            "Charged twice in November. (duplicate charge)"
        }
    ]

    # A question takes its own branch at once: no approval.
    site.posted.clear()
    llm.add(
        Reply(
            content=json.dumps(
                {"category": "question", "urgency": "low", "summary": "Asks about CSV export."}
            )
        )
    )
    question = {
        "ticket_id": "T-1043",
        "subject": "Export",
        "body": "Can I export my invoices as CSV?",
    }
    answered = await anonymous.post(hook_url, params={"wait": 20}, **signed(secret, question))
    assert answered.status_code == 200, answered.text
    other = await wait_run(http, answered.json()["run_id"], TERMINAL)
    assert other["state"] == "succeeded", other
    assert other["outputs"] == {
        "category": "question",
        "urgency": "low",
        "summary": "Asks about CSV export.",
        "approval": None,
    }
    assert steps(other)["approval"] == steps(other)["refund_notice"] == "skipped"
    assert steps(other)["question_notice"] == "succeeded"
    assert site.posted == [{"text": "Question in ticket T-1043: Asks about CSV export."}]
    assert (await http.get(f"{API}/approvals")).json()["items"] == []
    assert LLM_KEY not in json.dumps(done) + json.dumps(other)


async def test_the_order_agent_looks_the_order_up_then_answers(
    http: httpx.AsyncClient, site: Site, llm: LlmServer
) -> None:
    await prepare(http, "order_agent")
    orders_api = site.page_url.rsplit("/", 1)[0]
    lookup = {"url": f"{orders_api}/new", "method": "GET"}
    llm.add(
        Reply(
            content="",
            tool_calls=[
                {
                    "id": "call-1",
                    "type": "function",
                    "function": {
                        "name": "specialized__http_request",
                        "arguments": json.dumps(lookup),
                    },
                }
            ],
            prompt_tokens=120,
            completion_tokens=15,
        ),
        Reply(content="Your order is on its way.", prompt_tokens=400, completion_tokens=8),
    )
    started = await http.post(
        f"{API}/workflows/order_agent/runs",
        json={
            "inputs": {
                "question": "Where is order 1042?",
                "orders_api": orders_api,
                "base_url": llm.url,
                "model": "test-model",
            }
        },
    )
    assert started.status_code == 201, started.text
    run = await wait_run(http, started.json()["id"], TERMINAL)
    assert run["state"] == "succeeded", run
    assert run["outputs"] == {"answer": "Your order is on its way.", "tool_calls": 1}
    # The run shows what the agent did: a turn, the HTTP call it asked for, the final turn.
    agent = next(s for s in run["steps"] if s["node_id"] == "agent")
    children = sorted(
        (s for s in run["steps"] if s["parent_id"] == agent["id"]), key=lambda s: s["map_index"]
    )
    assert [s["node_type"] for s in children] == [
        "generative.llm_chat",
        "specialized.http_request",
        "generative.llm_chat",
    ]
    assert all(s["state"] == "succeeded" and s["attempts"] for s in children), children
    assert site.fetches == 1
    # The model saw the tools and, on its second turn, the page the tool fetched.
    first, second = llm.seen
    offered = {tool["function"]["name"] for tool in first.body["tools"]}
    assert offered == {"specialized__http_request", "specialized__transform"}
    assert first.headers["Authorization"] == f"Bearer {LLM_KEY}"
    assert any(message["role"] == "tool" for message in second.body["messages"])
    assert LLM_KEY not in json.dumps(run)
