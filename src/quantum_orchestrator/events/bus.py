"""An in-process event bus.

Events are persisted in the run's timeline by the transaction that made them; the bus only
carries them to live listeners after the commit. A listener that falls behind is not allowed to
slow the engine down: its queue is bounded, and on overflow it is told to resynchronise from the
database (which holds every event).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

Event = dict[str, Any]


@dataclass(eq=False)
class Subscription:
    """A listener's queue; ``overflowed`` is set when events were dropped."""

    run_id: str | None
    workspace_id: str | None
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(maxsize=10_000))
    overflowed: bool = False

    async def get(self, timeout: float) -> Event | None:
        """The next event, or None after ``timeout`` seconds without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class LocalEventBus:
    """Fan-out inside one process, by run and by workspace."""

    def __init__(self) -> None:
        self._by_run: dict[str, set[Subscription]] = {}
        self._by_workspace: dict[str, set[Subscription]] = {}

    def publish(self, events: Iterable[Event]) -> None:
        """Hand committed events to every interested listener without waiting."""
        for event in events:
            targets: set[Subscription] = set()
            run_id = event.get("run_id")
            if run_id:
                targets |= self._by_run.get(run_id, set())
            workspace_id = event.get("workspace_id")
            if workspace_id:
                targets |= self._by_workspace.get(workspace_id, set())
            for subscription in targets:
                try:
                    subscription.queue.put_nowait(event)
                except asyncio.QueueFull:
                    subscription.overflowed = True

    @asynccontextmanager
    async def subscribe(
        self, *, run_id: str | None = None, workspace_id: str | None = None
    ) -> AsyncIterator[Subscription]:
        """Listen to one run's events, or to a whole workspace's."""
        subscription = Subscription(run_id=run_id, workspace_id=workspace_id)
        registry, key = (
            (self._by_run, run_id) if run_id else (self._by_workspace, workspace_id or "")
        )
        registry.setdefault(key, set()).add(subscription)
        try:
            yield subscription
        finally:
            listeners = registry.get(key, set())
            listeners.discard(subscription)
            if not listeners:
                registry.pop(key, None)
