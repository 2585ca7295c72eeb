"""``ml.predict``, ``ml.embed`` and ``ml.similarity`` against a real model server on 127.0.0.1.

The server is a tiny deterministic "model": KServe V1 predict doubles numbers, the OpenAI-style
completions upper-case prompts, and ``/v1/embeddings`` maps a text to a bag-of-letters vector
(so texts that share letters are similar), answering in shuffled order to prove re-ordering.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run

from quantum_orchestrator.agents import NodeResources, StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.nodes import builtin_handlers
from quantum_orchestrator.agents.nodes.ml import cosine
from quantum_orchestrator.domain.errors import StepError

API = "/api/v1"
LOOPBACK = ["127.0.0.0/8"]


def letters(text: str) -> list[float]:
    return [float(text.lower().count(c)) for c in "abcdefghijklmnopqrstuvwxyz"]


class Model:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[str | None] = []
        self.fail_next: int | None = None

    def _record(self, request: Request, body: dict[str, Any]) -> Response | None:
        self.bodies.append(body)
        self.headers.append(request.headers.get("authorization"))
        if self.fail_next is not None:
            status, self.fail_next = self.fail_next, None
            return PlainTextResponse("overloaded", status_code=status)
        return None

    async def predict(self, request: Request) -> Response:
        body = await request.json()
        failed = self._record(request, body)
        if failed is not None:
            return failed
        return JSONResponse({"predictions": [x * 2 for x in body["instances"]]})

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        failed = self._record(request, body)
        if failed is not None:
            return failed
        choices = [{"index": i, "text": p.upper()} for i, p in enumerate(body["prompt"])]
        return JSONResponse({"choices": choices[::-1], "model": body.get("model")})

    async def embeddings(self, request: Request) -> Response:
        body = await request.json()
        failed = self._record(request, body)
        if failed is not None:
            return failed
        data = [
            {"object": "embedding", "index": i, "embedding": letters(text)}
            for i, text in enumerate(body["input"])
        ]
        return JSONResponse({"object": "list", "data": data[::-1], "model": body.get("model")})

    async def wrong(self, request: Request) -> Response:
        return JSONResponse({"predictions": [1]})


@pytest.fixture
def model(live_server: Callable[[Any], Any]) -> tuple[Model, str]:
    served = Model()
    app = Starlette(
        routes=[
            Route("/v1/models/double:predict", served.predict, methods=["POST"]),
            Route("/v1/completions", served.completions, methods=["POST"]),
            Route("/v1/embeddings", served.embeddings, methods=["POST"]),
            Route("/wrong", served.wrong, methods=["POST"]),
        ]
    )
    return served, live_server(app).url


def make_ctx() -> StepContext:
    return StepContext(
        run_id="r",
        step_id="s",
        node_id="n",
        node_type="ml.predict",
        attempt=1,
        idempotency_key="r:n",
        timeout=30,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
    )


@pytest.fixture
async def handlers() -> AsyncIterator[dict[str, Handler]]:
    resources = NodeResources(http_allow=LOOPBACK)
    yield builtin_handlers(resources=resources)
    await resources.aclose()


async def test_predict_kserve_in_batches(
    handlers: dict[str, Handler], model: tuple[Model, str]
) -> None:
    served, base = model
    output = await handlers["ml.predict"](
        {
            "url": f"{base}/v1/models/double:predict",
            "instances": [1, 2, 3, 4, 5],
            "batch_size": 2,
            "headers": {"Authorization": "Bearer k"},
        },
        make_ctx(),
    )
    assert output == {"predictions": [2, 4, 6, 8, 10], "batches": 3}
    assert served.bodies == [{"instances": [1, 2]}, {"instances": [3, 4]}, {"instances": [5]}]
    assert served.headers == ["Bearer k"] * 3


async def test_predict_openai_completions(
    handlers: dict[str, Handler], model: tuple[Model, str]
) -> None:
    served, base = model
    output = await handlers["ml.predict"](
        {
            "url": f"{base}/v1/completions",
            "protocol": "openai",
            "model": "tiny",
            "instances": ["a", "b", "c"],
            "options": {"max_tokens": 5},
        },
        make_ctx(),
    )
    assert output == {"predictions": ["A", "B", "C"], "batches": 1}
    assert served.bodies == [{"max_tokens": 5, "prompt": ["a", "b", "c"], "model": "tiny"}]


async def test_embed_keeps_the_order_across_batches(
    handlers: dict[str, Handler], model: tuple[Model, str]
) -> None:
    served, base = model
    texts = ["abc", "zzz", "hello", "cab"]
    output = await handlers["ml.embed"](
        {"url": f"{base}/v1/", "input": texts, "model": "m", "batch_size": 3}, make_ctx()
    )
    assert output["embeddings"] == [letters(t) for t in texts]
    assert (output["model"], output["dimensions"]) == ("m", 26)
    assert [b["input"] for b in served.bodies] == [["abc", "zzz", "hello"], ["cab"]]
    single = await handlers["ml.embed"]({"url": f"{base}/v1", "input": "abc"}, make_ctx())
    assert single["embeddings"] == [letters("abc")]


async def test_similarity_ranks_documents(
    handlers: dict[str, Handler], model: tuple[Model, str]
) -> None:
    _, base = model
    documents = ["zzz", "cab", "abd", "xyz"]
    output = await handlers["ml.similarity"](
        {"url": f"{base}/v1", "query": "abc", "documents": documents, "top_k": 2}, make_ctx()
    )
    assert output["scores"][1] == 1.0
    assert output["scores"][0] == 0.0
    assert output["ranking"] == [
        {"index": 1, "score": 1.0, "document": "cab"},
        {"index": 2, "score": round(cosine(letters("abc"), letters("abd")), 6), "document": "abd"},
    ]


@pytest.mark.parametrize(("status", "retryable"), [(503, True), (429, True), (400, False)])
async def test_http_errors(
    handlers: dict[str, Handler], model: tuple[Model, str], status: int, retryable: bool
) -> None:
    served, base = model
    served.fail_next = status
    with pytest.raises(StepError) as caught:
        await handlers["ml.embed"]({"url": f"{base}/v1", "input": ["a"]}, make_ctx())
    assert (caught.value.code, caught.value.retryable) == (f"http_{status}", retryable)


async def test_wrong_answers_and_network_errors(
    handlers: dict[str, Handler], model: tuple[Model, str], closed_port: int
) -> None:
    _, base = model
    with pytest.raises(StepError) as wrong:
        await handlers["ml.predict"]({"url": f"{base}/wrong", "instances": [1, 2]}, make_ctx())
    assert (wrong.value.code, wrong.value.retryable) == ("invalid_model_response", False)
    with pytest.raises(StepError) as down:
        await handlers["ml.predict"](
            {"url": f"http://127.0.0.1:{closed_port}/p", "instances": [1]}, make_ctx()
        )
    assert (down.value.code, down.value.retryable) == ("network_error", True)


async def test_models_are_behind_the_ssrf_guard(model: tuple[Model, str]) -> None:
    served, base = model
    resources = NodeResources()
    try:
        embed = builtin_handlers(resources=resources)["ml.embed"]
        with pytest.raises(StepError) as caught:
            await embed({"url": f"{base}/v1", "input": "a"}, make_ctx())
    finally:
        await resources.aclose()
    assert caught.value.code == "ssrf_blocked"
    assert served.bodies == []


async def test_in_a_workflow(http: httpx.AsyncClient, model: tuple[Model, str]) -> None:
    _, base = model
    (workspace,) = (await http.get(f"{API}/workspaces")).json()["items"]
    allowed = await http.put(
        f"{API}/workspaces/{workspace['id']}/http-allow", json={"networks": LOOPBACK}
    )
    assert allowed.status_code == 200, allowed.text
    spec = {
        "name": "rank",
        "nodes": [
            {
                "id": "score",
                "type": "ml.predict",
                "params": {"url": f"{base}/v1/models/double:predict", "instances": [1, 2]},
            },
            {
                "id": "rank",
                "type": "ml.similarity",
                "params": {
                    "url": f"{base}/v1",
                    "query": "{{ inputs.query }}",
                    "documents": ["zzz", "cab"],
                    "top_k": 1,
                },
            },
        ],
        "connections": [{"from": "score", "to": "rank"}],
    }
    await create_and_deploy(http, spec)
    run = await start_run(http, "rank", {"query": "abc"})
    done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded", done
    outputs = {step["node_id"]: step["output"] for step in done["steps"]}
    assert outputs["score"]["predictions"] == [2, 4]
    assert outputs["rank"]["ranking"] == [{"index": 1, "score": 1.0, "document": "cab"}]
