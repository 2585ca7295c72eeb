"""The shape of a capability handler, and how plain functions are made to fit it."""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, cast

from quantum_orchestrator.agents.context import StepContext

Handler = Callable[[dict[str, Any], StepContext], Awaitable[Any]]
"""An async function of ``(params, ctx)`` whose return value is the step's output."""

SyncHandler = Callable[[dict[str, Any], StepContext], Any]
"""A plain function of ``(params, ctx)``; it is run in a worker thread."""


def as_async_handler(func: Handler | SyncHandler) -> Handler:
    """Return ``func`` itself when it is async, else a wrapper running it in a worker thread.

    Blocking work in a handler would stall every other step of the agent (and its heartbeats),
    hence the thread. A thread cannot be interrupted: a sync handler that may run long should
    poll ``ctx.is_cancelled``.
    """
    if inspect.iscoroutinefunction(func):
        return cast(Handler, func)

    @functools.wraps(func)
    async def in_thread(params: dict[str, Any], ctx: StepContext) -> Any:
        result = await asyncio.to_thread(func, params, ctx)
        # A sync function may still hand back an awaitable (e.g. a lambda wrapping a coroutine).
        if inspect.isawaitable(result):
            return await result
        return result

    return in_thread
