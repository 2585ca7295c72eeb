"""The built-in core node handlers and the built-in catalogue of capabilities."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from quantum_orchestrator.agents import NodeResources, StepContext
from quantum_orchestrator.agents.nodes import builtin_capabilities, builtin_handlers
from quantum_orchestrator.agents.nodes.core import (
    branch,
    deep_merge,
    is_truthy,
    merge,
    noop,
    transform,
)
from quantum_orchestrator.domain.errors import StepError
from quantum_orchestrator.domain.node_types import BUILTIN_NODE_TYPES


def make_ctx() -> StepContext:
    return StepContext(
        run_id="r",
        step_id="s",
        node_id="n",
        node_type="core.test",
        attempt=1,
        idempotency_key="r:n",
        timeout=5,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
    )


async def test_noop_returns_params_or_none() -> None:
    assert await noop({}, make_ctx()) is None
    assert await noop({"a": 1}, make_ctx()) == {"a": 1}


async def test_transform_returns_value() -> None:
    assert await transform({"value": [1, {"b": None}]}, make_ctx()) == [1, {"b": None}]


@pytest.mark.parametrize(
    ("params", "selected"),
    [
        ({"cases": [{"label": "a", "condition": False}, {"label": "b", "condition": 1}]}, ["b"]),
        ({"cases": [{"label": "a", "condition": True}, {"label": "b", "condition": True}]}, ["a"]),
        (
            {
                "mode": "all",
                "cases": [{"label": "a", "condition": "yes"}, {"label": "b", "condition": [1]}],
            },
            ["a", "b"],
        ),
        ({"cases": [{"label": "a", "condition": "false"}], "default": "other"}, ["other"]),
        ({"cases": [{"label": "a", "condition": None}, {"label": "b", "condition": {}}]}, []),
        ({"cases": [{"label": "a", "condition": " 0 "}, {"label": "b", "condition": "False"}]}, []),
    ],
)
async def test_branch_selects_labels(params: dict[str, Any], selected: list[str]) -> None:
    assert await branch(params, make_ctx()) == {"selected": selected}


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"cases": [{"condition": True}]},
        {"cases": [{"label": "a", "condition": 1}], "mode": "some"},
    ],
)
async def test_branch_rejects_bad_params(params: dict[str, Any]) -> None:
    with pytest.raises(StepError) as info:
        await branch(params, make_ctx())
    assert info.value.code == "invalid_params"
    assert not info.value.retryable


def test_truthiness() -> None:
    assert all(is_truthy(v) for v in ("ok", 1, {"a": 1}, [0], "False!"))
    assert not any(is_truthy(v) for v in ("", "no", "NULL", 0, 0.0, [], {}, None, False))


async def test_merge_modes() -> None:
    upstream = {"b": {"x": 1, "n": {"p": 1, "q": 1}}, "a": {"y": 2, "n": {"q": 2}}, "c": None}
    assert await merge({"upstream": upstream}, make_ctx()) == upstream
    assert await merge({"mode": "list", "upstream": upstream}, make_ctx()) == [
        upstream["b"],
        upstream["a"],
        None,
    ]
    assert await merge({"mode": "deep", "upstream": upstream}, make_ctx()) == {
        "x": 1,
        "y": 2,
        "n": {"p": 1, "q": 2},
    }
    assert await merge({}, make_ctx()) == {}
    with pytest.raises(StepError):
        await merge({"mode": "zip", "upstream": upstream}, make_ctx())


def test_deep_merge_does_not_mutate() -> None:
    base = {"a": {"b": 1}}
    merged = deep_merge(base, {"a": {"c": 2}, "d": [1]})
    assert merged == {"a": {"b": 1, "c": 2}, "d": [1]}
    assert base == {"a": {"b": 1}}


def test_builtin_capabilities_match_the_agent_node_types() -> None:
    capabilities = {c["name"]: c for c in builtin_capabilities()}
    expected = {t.name for t in BUILTIN_NODE_TYPES if t.executor == "agent"}
    assert set(capabilities) == expected
    assert "core.delay" not in capabilities
    assert capabilities["core.branch"]["params_schema"]["required"] == ["cases"]
    assert capabilities["core.noop"]["description"]
    assert set(builtin_handlers(resources=NodeResources())) == expected


async def test_resources_create_the_client_lazily_and_close_it() -> None:
    resources = NodeResources()
    client = resources.http_client()
    assert resources.http_client() is client
    await resources.aclose()
    assert client.is_closed
    with pytest.raises(RuntimeError):
        resources.http_client()
    await resources.aclose()
