"""``ml.predict``, ``ml.embed`` and ``ml.similarity``: models served over HTTP.

``ml.predict`` speaks KServe's V1 protocol (``{"instances": [...]}`` → ``{"predictions": [...]}``)
or OpenAI's completions (``{"model", "prompt": [...]}`` → ``choices``); ``ml.embed`` and
``ml.similarity`` call an OpenAI-compatible ``/embeddings`` endpoint, or, with ``provider:
local``, compute the embeddings in the agent's process with a packaged model (the ``local-embed``
extra, see ``agents/local_embeddings.py``). Inputs are sent in batches of ``batch_size``, one
after the other, and the results are put back in input order. Every call goes through the
runtime's guarded HTTP client (SSRF policy, the workspace's allow-list).
"""

from __future__ import annotations

import math
from typing import Any

import httpx

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.local_embeddings import (
    LOCAL_MODELS,
    embed_locally,
    local_model_name,
)
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.domain.errors import StepError

DEFAULT_TIMEOUT = 60.0
DEFAULT_BATCH = 32
_EXCERPT_CHARS = 200


def _invalid(message: str) -> StepError:
    return StepError(message, code="invalid_params")


def _bad_answer(message: str) -> StepError:
    # A model server that answers 2xx with the wrong shape will not do better on a retry.
    return StepError(message, code="invalid_model_response")


def _positive(params: dict[str, Any], name: str, default: float) -> float:
    value = params.get(name, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise _invalid(f"{name} must be a positive number")
    return float(value)


def _batch_size(params: dict[str, Any]) -> int:
    size = params.get("batch_size", DEFAULT_BATCH)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise _invalid("batch_size must be a positive integer")
    return size


def _string(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str) or not value:
        raise _invalid(f"{name} is required")
    return value


def _texts(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{name} must be a list of strings")
    return list(value)


class _ModelClient:
    """POSTs JSON to one model endpoint with the step's client, headers and timeout."""

    def __init__(self, *, resources: NodeResources, ctx: StepContext, params: dict[str, Any]):
        headers = params.get("headers") or {}
        if not isinstance(headers, dict):
            raise _invalid("headers must be an object")
        self._headers = {str(k): str(v) for k, v in headers.items()}
        self._timeout = _positive(params, "timeout", DEFAULT_TIMEOUT)
        self._breakers = resources.breakers
        try:
            self._client = resources.http_client(extra_allow=ctx.http_allow)
        except ValueError as exc:
            raise StepError(
                f"the workspace's HTTP allow-list is invalid: {exc}", code="invalid_http_allow"
            ) from exc

    async def post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        """The JSON object the endpoint answers; HTTP failures become ``StepError``."""
        try:
            response = await self._breakers.request(
                self._client, "POST", url, json=body, headers=self._headers, timeout=self._timeout
            )
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise StepError(f"invalid url {url!r}: {exc}", code="invalid_url") from exc
        except httpx.HTTPError as exc:
            raise StepError(
                f"POST {url} failed: {type(exc).__name__}: {exc}",
                code="network_error",
                retryable=True,
            ) from exc
        status = response.status_code
        if not 200 <= status < 300:
            raise StepError(
                f"POST {url} answered {status}: {response.text[:_EXCERPT_CHARS]}",
                code=f"http_{status}",
                retryable=status >= 500 or status == 429,
            )
        try:
            answer = response.json()
        except ValueError as exc:
            raise _bad_answer(f"POST {url} did not answer JSON") from exc
        if not isinstance(answer, dict):
            raise _bad_answer(f"POST {url} answered {type(answer).__name__}, not an object")
        return answer


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


async def _predict_batch(
    client: _ModelClient, params: dict[str, Any], url: str, batch: list[Any]
) -> list[Any]:
    protocol = params.get("protocol", "kserve")
    if protocol == "kserve":
        answer = await client.post(url, {"instances": batch})
        predictions = answer.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != len(batch):
            raise _bad_answer(f"expected {len(batch)} predictions from {url}")
        return predictions
    if protocol == "openai":
        options = params.get("options") or {}
        if not isinstance(options, dict):
            raise _invalid("options must be an object")
        body: dict[str, Any] = {**options, "prompt": batch}
        if params.get("model") is not None:
            body["model"] = params["model"]
        answer = await client.post(url, body)
        choices = answer.get("choices")
        if not isinstance(choices, list) or len(choices) != len(batch):
            raise _bad_answer(f"expected {len(batch)} choices from {url}")
        # Choices may come in any order; ``index`` says which prompt each answers.
        ordered = sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0)
        return [c.get("text") if isinstance(c, dict) else None for c in ordered]
    raise _invalid(f"protocol must be kserve or openai, not {protocol!r}")


def predict_handler(resources: NodeResources) -> Handler:
    """Build the ``ml.predict`` handler, bound to the runtime's shared resources."""

    async def predict(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        """Send ``instances`` in batches; output ``{predictions, batches}`` in input order."""
        url = _string(params, "url")
        instances = params.get("instances")
        if not isinstance(instances, list):
            raise _invalid("instances must be a list")
        if params.get("protocol") == "openai":
            _texts(instances, "instances")
        client = _ModelClient(resources=resources, ctx=ctx, params=params)
        batches = _batches(instances, _batch_size(params))
        predictions: list[Any] = []
        for batch in batches:
            predictions += await _predict_batch(client, params, url, batch)
        return {"predictions": predictions, "batches": len(batches)}

    return predict


PROVIDERS = ("openai", "local")


def _provider(params: dict[str, Any]) -> str:
    provider = params.get("provider", "openai")
    if provider not in PROVIDERS:
        raise _invalid(f"provider must be openai or local, not {provider!r}")
    return str(provider)


async def _vectors(
    resources: NodeResources, ctx: StepContext, params: dict[str, Any], texts: list[str]
) -> tuple[list[list[float]], str | None]:
    """The embeddings of ``texts`` (in order) and the model's name, from the step's provider."""
    if _provider(params) == "local":
        return await _embed_locally(params, texts)
    client = _ModelClient(resources=resources, ctx=ctx, params=params)
    return await _embed(client, params, texts)


async def _embed_locally(params: dict[str, Any], texts: list[str]) -> tuple[list[list[float]], str]:
    name = local_model_name(params.get("model"))
    wanted = params.get("dimensions")
    size = LOCAL_MODELS[name].dimensions
    if wanted is not None and wanted != size:
        # A local model's size is fixed; truncating its vectors would quietly hurt ranking.
        raise _invalid(f"dimensions: the local model {name} has {size} dimensions, not {wanted}")
    vectors = await embed_locally(texts, model=name, batch_size=_batch_size(params))
    return vectors, name


async def _embed(
    client: _ModelClient, params: dict[str, Any], texts: list[str]
) -> tuple[list[list[float]], str | None]:
    url = _string(params, "url").rstrip("/") + "/embeddings"
    vectors: list[list[float]] = []
    model: str | None = None
    for batch in _batches(texts, _batch_size(params)):
        body: dict[str, Any] = {"input": batch}
        if params.get("model") is not None:
            body["model"] = params["model"]
        if params.get("dimensions") is not None:
            body["dimensions"] = params["dimensions"]
        answer = await client.post(url, body)
        data = answer.get("data")
        if not isinstance(data, list) or len(data) != len(batch):
            raise _bad_answer(f"expected {len(batch)} embeddings from {url}")
        ordered = sorted(data, key=lambda d: d.get("index", 0) if isinstance(d, dict) else 0)
        for item in ordered:
            vector = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(vector, list) or not all(
                isinstance(x, int | float) and not isinstance(x, bool) for x in vector
            ):
                raise _bad_answer(f"{url} answered an embedding that is not a list of numbers")
            vectors.append([float(x) for x in vector])
        model = answer.get("model") if isinstance(answer.get("model"), str) else model
    return vectors, model


def embed_handler(resources: NodeResources) -> Handler:
    """Build the ``ml.embed`` handler, bound to the runtime's shared resources."""

    async def embed(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        """Embed ``input`` (a text or a list); output ``{embeddings, model, dimensions}``."""
        value = params.get("input")
        texts = [value] if isinstance(value, str) else _texts(value, "input")
        vectors, model = await _vectors(resources, ctx, params, texts)
        return {
            "embeddings": vectors,
            "model": model,
            "dimensions": len(vectors[0]) if vectors else 0,
        }

    return embed


def cosine(a: list[float], b: list[float]) -> float:
    """The cosine similarity of two vectors of the same length (0.0 when one is all zeros)."""
    if len(a) != len(b):
        raise _bad_answer(f"embeddings of different lengths ({len(a)} and {len(b)})")
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def similarity_handler(resources: NodeResources) -> Handler:
    """Build the ``ml.similarity`` handler, bound to the runtime's shared resources."""

    async def similarity(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        """Rank ``documents`` by cosine similarity to ``query``; ``{scores, ranking}``."""
        query = params.get("query")
        if not isinstance(query, str):
            raise _invalid("query must be a string")
        documents = _texts(params.get("documents"), "documents")
        top_k = params.get("top_k", len(documents))
        if not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1:
            raise _invalid("top_k must be a positive integer")
        vectors, _model = await _vectors(resources, ctx, params, [query, *documents])
        scores = [round(cosine(vectors[0], vector), 6) for vector in vectors[1:]]
        order = sorted(range(len(documents)), key=lambda i: (-scores[i], i))[:top_k]
        ranking = [{"index": i, "score": scores[i], "document": documents[i]} for i in order]
        return {"scores": scores, "ranking": ranking}

    return similarity
