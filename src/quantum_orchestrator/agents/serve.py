"""Serving agents: merge their capabilities into one runtime and run it until drained."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from quantum_orchestrator.__about__ import __version__
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.http_transport import HttpTransport
from quantum_orchestrator.agents.nodes import builtin_capabilities, builtin_handlers
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.agents.runtime import AgentRuntime, RuntimeOptions
from quantum_orchestrator.agents.transport import AgentTransport
from quantum_orchestrator.domain.agent_protocol import CapabilityInfo
from quantum_orchestrator.domain.breaker import BreakerPolicy
from quantum_orchestrator.domain.node_packs import load_node_packs

if TYPE_CHECKING:
    from quantum_orchestrator.agents.sdk import Agent

logger = logging.getLogger("quantum_orchestrator.agents")

DEFAULT_POOL = "default"
DEFAULT_CONCURRENCY = 4


def default_agent_name() -> str:
    """``host-pid``: unique enough among the agents of one pool."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _pack_capabilities() -> tuple[list[CapabilityInfo], dict[str, Handler]]:
    """The node types of the installed node packs; broken packs are logged and left out."""
    loaded = load_node_packs()
    for problem in loaded.problems:
        logger.error("%s", problem)
    capabilities = [
        CapabilityInfo(
            name=node_type.name,
            category=node_type.category,
            description=node_type.description,
            params_schema=node_type.params_schema,
        )
        for node_type in loaded.node_types()
    ]
    return capabilities, dict(loaded.handlers())


def build_runtime(
    agents: Sequence[Agent],
    *,
    transport: AgentTransport,
    pool: str | None = None,
    concurrency: int | None = None,
    name: str | None = None,
    include_builtin: bool = False,
    options: RuntimeOptions | None = None,
    http_allow: Sequence[str] = (),
) -> AgentRuntime:
    """One runtime serving every capability of ``agents`` (plus the built-ins if asked).

    ``pool`` defaults to the agents' common pool; ``concurrency`` to the sum of theirs (each
    agent declared what it can run at once); ``name`` to the single agent's name, else
    ``host-pid``. With no agents the built-in capabilities are served, with those of the
    installed node packs (``quantum_orchestrator.node_types`` entry points). ``options.concurrency``
    is replaced by the resolved concurrency.
    """
    include_builtin = include_builtin or not agents
    pools = {agent.pool for agent in agents}
    if pool is None:
        if len(pools) > 1:
            raise ValueError(
                f"the agents are in different pools ({', '.join(sorted(pools))}); give pool="
            )
        pool = pools.pop() if pools else DEFAULT_POOL
    if concurrency is None:
        concurrency = sum(agent.concurrency for agent in agents) or DEFAULT_CONCURRENCY
    if name is None:
        names = {agent.name for agent in agents if agent.name}
        name = names.pop() if len(agents) == 1 and names else default_agent_name()

    capabilities: list[CapabilityInfo] = []
    handlers: dict[str, Handler] = {}
    resources: NodeResources | None = None
    sources: list[tuple[list[CapabilityInfo], dict[str, Handler]]] = [
        (agent.capabilities, agent.handlers) for agent in agents
    ]
    if include_builtin:
        tuning = options or RuntimeOptions()
        resources = NodeResources(
            http_allow=http_allow,
            breaker_policy=BreakerPolicy(
                failure_threshold=tuning.breaker_failures, cooldown=tuning.breaker_cooldown
            ),
        )
        sources.append((builtin_capabilities(), builtin_handlers(resources=resources)))
        sources.append(_pack_capabilities())
    for agent_capabilities, agent_handlers in sources:
        for capability in agent_capabilities:
            if capability["name"] in handlers:
                raise ValueError(f"capability {capability['name']!r} is offered twice")
            capabilities.append(capability)
            handlers[capability["name"]] = agent_handlers[capability["name"]]
    if not capabilities:
        raise ValueError("the agents declare no capabilities")

    base = options or RuntimeOptions()
    return AgentRuntime(
        transport=transport,
        name=name,
        pool=pool,
        capabilities=capabilities,
        handlers=handlers,
        options=RuntimeOptions(**{**base.__dict__, "concurrency": concurrency}),
        resources=resources,
        version=__version__,
    )


async def run_until_signalled(runtime: AgentRuntime) -> None:
    """Run ``runtime``; SIGTERM or SIGINT starts a drain, a second one cancels running steps."""
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        if runtime.stopping:
            logger.warning("second %s: cancelling running steps now", signum.name)
            runtime.request_shutdown(grace=0)
        else:
            logger.info("%s received: draining", signum.name)
            runtime.request_shutdown()

    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, on_signal, signum)
        except (NotImplementedError, RuntimeError, ValueError):
            # Not the main thread, or a platform without loop signal handlers: the embedding
            # application owns shutdown then.
            continue
        installed.append(signum)
    try:
        await runtime.run()
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def serve_agents(
    agents: list[Agent],
    *,
    server: str,
    pool: str | None = None,
    concurrency: int | None = None,
    name: str | None = None,
    token: str | None = None,
    include_builtin: bool = False,
    options: RuntimeOptions | None = None,
    on_runtime: Callable[[AgentRuntime | None], None] | None = None,
    http_allow: Sequence[str] = (),
) -> None:
    """Serve ``agents`` against ``server`` over HTTP until SIGTERM/SIGINT and the drain end.

    See :func:`build_runtime` for how pool, concurrency and name are chosen; with no agents the
    built-in capabilities are served. ``on_runtime`` is told the runtime once it exists and
    ``None`` once it stopped (the SDK uses it to offer ``Agent.shutdown``).
    """
    transport = HttpTransport(server, token=token)
    try:
        runtime = build_runtime(
            agents,
            transport=transport,
            pool=pool,
            concurrency=concurrency,
            name=name,
            include_builtin=include_builtin,
            options=options,
            http_allow=http_allow,
        )
        if on_runtime is not None:
            on_runtime(runtime)
        try:
            await run_until_signalled(runtime)
        finally:
            if on_runtime is not None:
                on_runtime(None)
    finally:
        await transport.aclose()
