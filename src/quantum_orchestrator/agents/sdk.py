"""The public SDK: declare capabilities as decorated functions and serve them.

::

    agent = Agent(pool="ml", concurrency=4)

    @agent.capability("ml.score", description="Score a text.")
    async def score(params: dict, ctx: StepContext) -> dict:
        return {"score": 0.5}

    agent.serve(server="http://localhost:8787")
"""

from __future__ import annotations

import asyncio
import inspect
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

from quantum_orchestrator.agents.handler import Handler, SyncHandler, as_async_handler
from quantum_orchestrator.agents.runtime import AgentRuntime
from quantum_orchestrator.agents.serve import DEFAULT_CONCURRENCY, DEFAULT_POOL, serve_agents
from quantum_orchestrator.domain.agent_protocol import CapabilityInfo

# The server's rule for node types (``category.name``, dotted parts, no empty part).
CAPABILITY_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_CATEGORY = re.compile(r"^[a-z][a-z0-9_]*$")

F = TypeVar("F", bound=Callable[..., Any])


class Agent:
    """A set of capabilities served together in one pool.

    ``name`` defaults to ``host-pid`` when served; ``concurrency`` is how many steps run at once.
    """

    def __init__(
        self,
        pool: str = DEFAULT_POOL,
        *,
        name: str | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if not pool or not pool.strip():
            raise ValueError("pool must be a non-empty string")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.pool = pool
        self.name = name
        self.concurrency = concurrency
        self._capabilities: dict[str, CapabilityInfo] = {}
        self._handlers: dict[str, Handler] = {}
        self._runtime: AgentRuntime | None = None

    @property
    def capabilities(self) -> list[CapabilityInfo]:
        """The declared capabilities, in declaration order."""
        return list(self._capabilities.values())

    @property
    def handlers(self) -> dict[str, Handler]:
        """The handlers by capability name (sync functions already wrapped to run in a thread)."""
        return dict(self._handlers)

    def capability(
        self,
        name: str,
        *,
        category: str | None = None,
        description: str | None = None,
        params_schema: dict[str, Any] | None = None,
    ) -> Callable[[F], F]:
        """Declare the decorated function as the handler of node type ``name``.

        The function takes ``(params, ctx)``; it may be async, or a plain function (run in a
        worker thread). ``category`` defaults to the part of ``name`` before the first dot and
        ``description`` to the first line of the docstring. The function is returned unchanged.
        """
        if not isinstance(name, str) or not CAPABILITY_NAME.match(name):
            raise ValueError(
                f"invalid capability name {name!r}: use 'category.name' in lower case, "
                "e.g. 'ml.score' (letters, digits, '_' and '.')"
            )
        if name in self._capabilities:
            raise ValueError(f"capability {name!r} is already declared on this agent")
        category = category if category is not None else name.split(".", 1)[0]
        if not _CATEGORY.match(category):
            raise ValueError(f"invalid category {category!r}: lower case letters, digits and '_'")
        if params_schema is not None and not isinstance(params_schema, dict):
            raise ValueError("params_schema must be a JSON Schema object (a dict)")

        def register(func: F) -> F:
            if not callable(func):
                raise TypeError(f"capability {name!r} must decorate a function")
            if name in self._capabilities:
                raise ValueError(f"capability {name!r} is already declared on this agent")
            info = CapabilityInfo(name=name, category=category)
            text = description if description is not None else inspect.getdoc(func)
            if text:
                info["description"] = text.strip().splitlines()[0] if description is None else text
            info["params_schema"] = (
                params_schema if params_schema is not None else {"type": "object"}
            )
            self._capabilities[name] = info
            self._handlers[name] = as_async_handler(func)
            return func

        return register

    async def run(self, *, server: str, token: str | None = None) -> None:
        """Serve this agent against ``server`` until :meth:`shutdown` or SIGTERM/SIGINT.

        ``token`` is an agent token of this agent's pool; default ``$QO_AGENT_TOKEN``.
        """
        if self._runtime is not None:
            raise RuntimeError("this agent is already running")
        if token is None:
            token = os.environ.get("QO_AGENT_TOKEN") or None
        await serve_agents([self], server=server, token=token, on_runtime=self._attach)

    def _attach(self, runtime: AgentRuntime | None) -> None:
        self._runtime = runtime

    async def shutdown(self, grace: float | None = None) -> None:
        """Drain and stop a running :meth:`run`; does nothing when the agent is not running."""
        if self._runtime is not None:
            await self._runtime.shutdown(grace)

    def serve(self, *, server: str, token: str | None = None) -> None:
        """Blocking form of :meth:`run`, for scripts: ``agent.serve(server=...)``."""
        asyncio.run(self.run(server=server, token=token))


__all__ = ["CAPABILITY_NAME", "Agent", "Handler", "SyncHandler"]
