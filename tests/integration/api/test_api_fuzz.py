"""Property-style fuzzing: random JSON bodies to every POST/PUT route never make a 5xx."""

from __future__ import annotations

import asyncio
import json
import random
import string
from typing import Any

import httpx
from tests.integration.api.helpers import API, create_and_deploy, transform_spec

SEED = 20240601
MIB = 1_048_576
_ALPHABET = string.printable + "éß中😀\u0000\u200b\ud7ff"
_KEYS = (
    "spec",
    "inputs",
    "version",
    "name",
    "nodes",
    "connections",
    "id",
    "type",
    "params",
    "from",
    "to",
    "when",
    "retry",
    "timeout",
    "outputs",
    "defaults",
    "url",
    "results",
    "step_id",
    "attempt",
    "status",
    "output",
    "error",
    "running",
    "max",
    "wait",
    "pool",
    "capabilities",
    "concurrency",
    "host",
    "pid",
    "category",
    "trigger_rule",
    "position",
)
_TYPES = (
    "core.noop",
    "core.delay",
    "core.map",
    "core.branch",
    "specialized.http_request",
    "specialized.transform",
    "x.y",
    "",
)


def _text(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(_ALPHABET) for _ in range(size))


def _scalar(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            False,
            0,
            -1,
            rng.randint(-(2**70), 2**70),
            rng.random() * 10 ** rng.randint(-5, 300),
            _text(rng, rng.randint(0, 20)),
            rng.choice(_KEYS),
            rng.choice(_TYPES),
            "{{ inputs.x }}",
            "{{ nodes.a.output | tojson }}",
            "{% for x in range(99999999) %}{% endfor %}",
            "2024-01-01T00:00:00Z",
        ]
    )


def _value(rng: random.Random, depth: int) -> Any:
    kind = rng.random()
    if depth <= 0 or kind < 0.4:
        return _scalar(rng)
    if kind < 0.7:
        return {
            rng.choice(_KEYS) if rng.random() < 0.7 else _text(rng, 5): _value(rng, depth - 1)
            for _ in range(rng.randint(0, 5))
        }
    return [_value(rng, depth - 1) for _ in range(rng.randint(0, 5))]


def _node(rng: random.Random, i: int) -> Any:
    node: dict[str, Any] = {
        "id": rng.choice([f"n{i}", _text(rng, 3), i]),
        "type": rng.choice(_TYPES),
    }
    for key in ("params", "retry", "timeout", "trigger_rule", "position", "name", "pool"):
        if rng.random() < 0.3:
            node[key] = _value(rng, 2)
    return node


def _spec(rng: random.Random) -> Any:
    """Something near a spec: the right keys with wrong or random values."""
    count = rng.randint(0, 6)
    spec: dict[str, Any] = {
        "name": rng.choice(["fuzz", _text(rng, 8), 5, None, "a" * 200]),
        "nodes": [_node(rng, i) for i in range(count)],
    }
    if rng.random() < 0.7:
        spec["connections"] = [
            {
                "from": rng.choice([f"n{rng.randint(0, count)}", _scalar(rng)]),
                "to": rng.choice([f"n{rng.randint(0, count)}", _scalar(rng)]),
                **({"when": _scalar(rng)} if rng.random() < 0.3 else {}),
            }
            for _ in range(rng.randint(0, 4))
        ]
    for key in ("inputs", "outputs", "defaults", "description"):
        if rng.random() < 0.3:
            spec[key] = _value(rng, 3)
    return spec


def _body(rng: random.Random) -> Any:
    roll = rng.random()
    if roll < 0.35:
        return {"spec": _spec(rng)}
    if roll < 0.5:
        return {"inputs": _value(rng, 3), "version": _scalar(rng)}
    if roll < 0.65:
        return _value(rng, 5)
    if roll < 0.75:
        nested: Any = _scalar(rng)
        for _ in range(rng.randint(50, 400)):
            nested = [nested] if rng.random() < 0.5 else {"spec": nested}
        return nested
    if roll < 0.85:
        return {
            "results": [_value(rng, 2) for _ in range(rng.randint(0, 5))],
            "running": _value(rng, 1),
            "max": _scalar(rng),
            "wait": rng.choice([0, -1, 0.01]),
        }
    return {rng.choice(_KEYS): _value(rng, 4) for _ in range(rng.randint(1, 6))}


def _routes(agent_id: str) -> list[tuple[str, str]]:
    return [
        ("POST", f"{API}/workflows"),
        ("POST", f"{API}/workflows/validate"),
        ("PUT", f"{API}/workflows/fuzzed"),
        ("POST", f"{API}/workflows/fuzzed/deploy"),
        ("POST", f"{API}/workflows/fuzzed/runs"),
        ("POST", f"{API}/agent/register"),
        ("POST", f"{API}/agent/{agent_id}/heartbeat"),
        ("POST", f"{API}/agent/{agent_id}/claim"),
        ("POST", f"{API}/agent/{agent_id}/results"),
        ("POST", f"{API}/runs/01a2000000000000000000000000abcd/cancel"),
        ("POST", f"{API}/runs/01a2000000000000000000000000abcd/retry"),
        ("POST", f"{API}/agents/{agent_id}/drain"),
    ]


async def _agent(http: httpx.AsyncClient) -> str:
    response = await http.post(
        f"{API}/agent/register",
        json={
            "name": "fuzz",
            "pool": "fuzz",
            "concurrency": 1,
            "version": "1",
            "host": "h",
            "pid": 1,
            "capabilities": [{"name": "fuzz.thing", "category": "fuzz"}],
        },
    )
    agent_id: str = response.json()["agent_id"]
    return agent_id


async def test_random_json_bodies_never_make_a_5xx(http: httpx.AsyncClient) -> None:
    rng = random.Random(SEED)
    await create_and_deploy(http, transform_spec("fuzzed"))
    routes = _routes(await _agent(http))
    failures: list[str] = []
    semaphore = asyncio.Semaphore(8)

    async def one(method: str, path: str, body: Any) -> None:
        content = json.dumps(body).encode()
        async with semaphore:
            response = await http.request(
                method, path, content=content, headers={"Content-Type": "application/json"}
            )
        if response.status_code >= 500:
            failures.append(f"{method} {path} {content[:300]!r} -> {response.text[:300]}")
        elif response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json"

    jobs = [one(method, path, _body(rng)) for _ in range(25) for method, path in routes]
    await asyncio.gather(*jobs)
    assert not failures, "\n".join(failures[:10])
    assert (await http.get("/readyz")).status_code == 200


async def test_raw_byte_soup_never_makes_a_5xx(http: httpx.AsyncClient) -> None:
    rng = random.Random(SEED + 1)
    routes = _routes("nobody")
    failures: list[str] = []
    for _ in range(6):
        for method, path in routes:
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(0, 300)))
            response = await http.request(
                method, path, content=raw, headers={"Content-Type": "application/json"}
            )
            if response.status_code >= 500:
                failures.append(f"{method} {path} {raw[:100]!r} -> {response.text[:300]}")
    assert not failures, "\n".join(failures[:10])


async def test_huge_strings_up_to_the_limit_never_make_a_5xx(http: httpx.AsyncClient) -> None:
    rng = random.Random(SEED + 2)
    routes = _routes(await _agent(http))
    for method, path in routes:
        size = rng.choice([MIB - 200, MIB // 2, 300_000])
        filler = "z" * size
        for body in (
            {"spec": {"name": "big", "description": filler, "nodes": []}},
            {
                "spec": {
                    "name": filler[:1000],
                    "nodes": [{"id": "a", "type": "core.noop", "params": {"blob": filler[:-1000]}}],
                }
            },
            {"inputs": {"who": filler}},
            {"results": [{"step_id": filler, "attempt": 1, "status": "failed"}]},
            {"running": [filler]},
            {filler[:10_000]: 1},
        ):
            content = json.dumps(body).encode()
            if len(content) > MIB:
                continue
            response = await http.request(
                method, path, content=content, headers={"Content-Type": "application/json"}
            )
            assert response.status_code < 500, (method, path, response.text[:300])
    assert (await http.get("/readyz")).status_code == 200
