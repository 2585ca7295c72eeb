"""What a capability handler receives besides its params."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

ProgressSink = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(kw_only=True)
class StepContext:
    """The identity of the attempt being run, a logger, and a cancellation signal.

    ``idempotency_key`` (``run_id:node_id``) is the same for every attempt of a step: delivery is
    at least once, so handlers with side effects should pass it on to the systems they call.
    ``http_allow`` lists the internal networks (CIDRs) the step's workspace lets its HTTP
    requests reach, on top of the agent's own allow-list (SSRF protection).
    ``await ctx.progress({...})`` sends partial output (a ``step.progress`` event of the run,
    such as streamed text); it never fails the step.
    """

    run_id: str
    step_id: str
    node_id: str
    node_type: str
    attempt: int
    idempotency_key: str
    timeout: float
    logger: logging.LoggerAdapter[logging.Logger]
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    http_allow: tuple[str, ...] = ()
    progress_sink: ProgressSink | None = None

    @property
    def is_cancelled(self) -> bool:
        """True once the run was cancelled or the lease lost; long handlers should stop then."""
        return self.cancelled.is_set()

    async def progress(self, data: dict[str, Any]) -> None:
        """Report partial output; a failure to deliver it is logged and dropped."""
        if self.progress_sink is None:
            return
        try:
            await self.progress_sink(data)
        except Exception as exc:  # noqa: BLE001 - progress is best effort, never a step failure
            self.logger.debug("progress dropped: %s: %s", type(exc).__name__, exc)
