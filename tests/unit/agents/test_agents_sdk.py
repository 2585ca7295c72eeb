"""The Agent decorator API and how agents are merged into one runtime."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from quantum_orchestrator.agents import Agent, StepContext, build_runtime
from quantum_orchestrator.agents.runtime import AgentRuntime
from quantum_orchestrator.domain.agent_protocol import (
    HeartbeatAnswer,
    Registration,
    RegistrationAnswer,
    Result,
    ResultsAnswer,
    Task,
)


class IdleTransport:
    """A server with no work: enough to build runtimes."""

    async def register(self, registration: Registration) -> RegistrationAnswer:
        return RegistrationAnswer(agent_id="a1", heartbeat_interval=1, lease_seconds=30)

    async def heartbeat(self, agent_id: str, running: list[str]) -> HeartbeatAnswer:
        return HeartbeatAnswer(state="online", cancel=[])

    async def claim(self, agent_id: str, max_tasks: int, wait: float) -> list[Task]:
        await asyncio.sleep(wait)
        return []

    async def report(self, agent_id: str, results: list[Result]) -> ResultsAnswer:
        return ResultsAnswer(accepted=[], rejected=[])

    async def progress(
        self, agent_id: str, step_id: str, attempt: int, data: dict[str, Any]
    ) -> None:
        return None

    async def logs(self, agent_id: str, step_id: str, attempt: int, lines: list[Any]) -> None:
        return None

    async def deregister(self, agent_id: str) -> None:
        return None

    async def aclose(self) -> None:
        return None


def make_ctx() -> StepContext:
    return StepContext(
        run_id="r",
        step_id="s",
        node_id="n",
        node_type="ml.score",
        attempt=1,
        idempotency_key="r:n",
        timeout=5,
        logger=logging.LoggerAdapter(logging.getLogger("test"), {}),
    )


def test_capability_records_metadata() -> None:
    agent = Agent("ml", name="scorer", concurrency=3)
    schema = {"type": "object", "required": ["text"]}

    @agent.capability("ml.score", description="Score a text.", params_schema=schema)
    async def score(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
        return {"score": 1}

    @agent.capability("ml.embed.v2", category="generative")
    def embed(params: dict[str, Any], ctx: StepContext) -> list[float]:
        """Embed a text.

        More words.
        """
        return [0.0]

    assert agent.capabilities == [
        {
            "name": "ml.score",
            "category": "ml",
            "description": "Score a text.",
            "params_schema": schema,
        },
        {
            "name": "ml.embed.v2",
            "category": "generative",
            "description": "Embed a text.",
            "params_schema": {"type": "object"},
        },
    ]
    assert agent.handlers["ml.score"] is score
    assert embed({}, make_ctx()) == [0.0]
    assert (agent.pool, agent.name, agent.concurrency) == ("ml", "scorer", 3)


@pytest.mark.parametrize(
    "name",
    [
        "score",
        "ML.score",
        "ml.",
        "1ml.score",
        "ml-x.score",
        "ml.Score",
        "",
        "ml.9x",
        "ml.score.",
        "ml..x",
    ],
)
def test_invalid_capability_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="invalid capability name"):
        Agent("ml").capability(name)


def test_duplicate_capability_is_rejected() -> None:
    agent = Agent("ml")

    @agent.capability("ml.score")
    async def first(params: dict[str, Any], ctx: StepContext) -> None:
        return None

    with pytest.raises(ValueError, match="already declared"):
        agent.capability("ml.score")


def test_constructor_validation() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Agent("ml", concurrency=0)
    with pytest.raises(ValueError, match="pool"):
        Agent(" ")
    with pytest.raises(ValueError, match="category"):
        Agent("ml").capability("ml.score", category="Bad-Category")


async def test_sync_handler_is_wrapped_to_run_in_a_thread() -> None:
    agent = Agent("ml")

    @agent.capability("ml.where")
    def where(params: dict[str, Any], ctx: StepContext) -> str:
        return threading.current_thread().name

    thread_name = await agent.handlers["ml.where"]({}, make_ctx())
    assert thread_name != threading.current_thread().name


def test_build_runtime_merges_agents() -> None:
    first, second = Agent("ml", concurrency=2), Agent("ml", concurrency=3)
    first.capability("ml.a")(lambda params, ctx: None)
    second.capability("ml.b")(lambda params, ctx: None)
    runtime = build_runtime([first, second], transport=IdleTransport())
    registration = runtime.registration
    assert [c["name"] for c in registration["capabilities"]] == ["ml.a", "ml.b"]
    assert registration["concurrency"] == 5
    assert registration["pool"] == "ml"
    assert registration["name"].endswith(f"-{registration['pid']}")

    overridden = build_runtime(
        [first, second],
        transport=IdleTransport(),
        pool="gpu",
        concurrency=9,
        name="box",
        include_builtin=True,
    )
    names = [c["name"] for c in overridden.registration["capabilities"]]
    assert {"specialized.http_request", "ml.a"} <= set(names)
    assert (overridden.registration["pool"], overridden.registration["concurrency"]) == ("gpu", 9)
    assert overridden.registration["name"] == "box"


def test_build_runtime_without_agents_serves_builtins() -> None:
    runtime = build_runtime([], transport=IdleTransport())
    names = {c["name"] for c in runtime.registration["capabilities"]}
    assert names == {
        "core.noop",
        "core.branch",
        "core.merge",
        "specialized.transform",
        "specialized.http_request",
        "specialized.notify",
        "specialized.extract",
        "ml.predict",
        "ml.embed",
        "ml.similarity",
        "generative.llm_chat",
    }
    assert runtime.registration["pool"] == "default"


def test_build_runtime_rejects_conflicts() -> None:
    first, second = Agent("ml"), Agent("cpu")
    first.capability("ml.a")(lambda params, ctx: None)
    second.capability("ml.a")(lambda params, ctx: None)
    with pytest.raises(ValueError, match="different pools"):
        build_runtime([first, second], transport=IdleTransport())
    with pytest.raises(ValueError, match="offered twice"):
        build_runtime([first, second], transport=IdleTransport(), pool="p")
    with pytest.raises(ValueError, match="no capabilities"):
        build_runtime([Agent("ml")], transport=IdleTransport())


async def test_single_agent_name_is_used() -> None:
    agent = Agent("ml", name="named")
    agent.capability("ml.a")(lambda params, ctx: None)
    runtime = build_runtime([agent], transport=IdleTransport())
    assert isinstance(runtime, AgentRuntime)
    assert runtime.registration["name"] == "named"
    await agent.shutdown()
