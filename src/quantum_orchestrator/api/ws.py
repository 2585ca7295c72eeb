"""``/api/v1/ws``: a workspace's live events over a WebSocket, for the dashboard.

Protocol (server → client, JSON text frames; the client sends nothing the server needs):

* ``{"type": "hello", "workspace_id", "role", "keepalive_seconds"}`` once, when subscribed;
* ``{"type": "event", "event": {id, type, workspace_id, run_id, step_id, node_id, agent_id,
  state, ts, data}}`` for every event of the workspace: runs and steps (``id`` is the event's
  timeline id) and agents (``agent.*``, not persisted, ``id`` null);
* ``{"type": "events", "events": [event, ...]}`` instead when several events were waiting
  (a transaction that changed many steps): the same events, in order, in one frame;
* ``{"type": "resync"}`` when events were dropped because the client fell behind: it must
  refetch what it shows;
* ``{"type": "ping", "ts"}`` every ``keepalive_seconds``, whatever else was sent.

Authentication is the HTTP routes' own: the ``qo_session`` cookie (what a browser sends) or an
``Authorization: Bearer`` header, never a token in the URL (URLs end up in logs). Browsers send
cookies on cross-site WebSocket handshakes and the CSRF header cannot be added to them, so the
``Origin`` header must name this server's own host (the ``Host`` header) or be one of
``api.cors_origins``; any other origin is refused before the handshake completes (HTTP 403).
The workspace is ``?workspace=`` (id or slug), else the caller's first one; reading it needs
the runs-read permission. Failures after the handshake close the socket with ``4401`` (not
authenticated, or the session expired: checked again at every ping), ``4403`` (not allowed),
``4404`` (no such workspace) or ``4429`` (too many failed attempts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from quantum_orchestrator.api.deps import authenticate_connection, check_permission
from quantum_orchestrator.domain.auth import (
    AuthenticationError,
    Permission,
    PermissionDeniedError,
    Principal,
)
from quantum_orchestrator.domain.errors import NotFoundError, QOError, RateLimitedError
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.events.bus import Event, Subscription
from quantum_orchestrator.settings import Settings
from quantum_orchestrator.store.types import utcnow

router = APIRouter(tags=["events"])

# Seconds between pings, and between checks that the caller may still listen.
KEEPALIVE_SECONDS = 15.0
# Most events sent in one ``events`` frame: a burst (hundreds of steps finishing in a few
# transactions) costs a few frames instead of one send, and one wake-up, per event.
MAX_BATCH = 500
POLICY_VIOLATION = 1008
_CLOSE_CODES: tuple[tuple[type[QOError], int], ...] = (
    (AuthenticationError, 4401),
    (PermissionDeniedError, 4403),
    (NotFoundError, 4404),
    (RateLimitedError, 4429),
)


def _close_code(error: QOError) -> int:
    for kind, code in _CLOSE_CODES:
        if isinstance(error, kind):
            return code
    return 1011


def origin_allowed(websocket: WebSocket, settings: Settings) -> bool:
    """Whether the handshake comes from this server's pages (or a configured origin).

    The origin's host and port must be the ``Host`` the browser connected to; its scheme is not
    compared, since behind a proxy that terminates TLS the page is ``https`` while the server
    sees plain ``ws``. Clients that are not browsers send no ``Origin``, and another site
    cannot make a browser omit it.
    """
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in settings.api.cors_origins:
        return True
    host = websocket.headers.get("host", "").lower()
    parts = urlsplit(origin)
    return bool(host) and parts.scheme in ("http", "https") and parts.netloc.lower() == host


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _event_out(event: Event) -> dict[str, Any]:
    return {
        "id": event.get("id"),
        "type": event["type"],
        "workspace_id": event.get("workspace_id"),
        "run_id": event.get("run_id"),
        "step_id": event.get("step_id"),
        "node_id": event.get("node_id"),
        "agent_id": event.get("agent_id"),
        "state": event.get("state"),
        "ts": _iso(event.get("ts")),
        "data": event.get("data"),
    }


def event_message(event: Event) -> dict[str, Any]:
    """The ``event`` message of a bus event (a run timeline row or an agent event)."""
    return {"type": "event", "event": _event_out(event)}


def events_message(events: list[Event]) -> dict[str, Any]:
    """One message for ``events`` (in order): ``event`` for one, else ``events``."""
    if len(events) == 1:
        return event_message(events[0])
    return {"type": "events", "events": [_event_out(event) for event in events]}


async def _authorize(websocket: WebSocket, workspace: str | None) -> Principal:
    principal = await authenticate_connection(websocket, workspace=workspace, safe=True)
    return check_permission(principal, Permission.RUNS_READ)


async def _send(websocket: WebSocket, message: dict[str, Any]) -> None:
    await websocket.send_text(json.dumps(message, default=str))


@router.websocket("/api/v1/ws")
async def workspace_events(
    websocket: WebSocket,
    workspace: Annotated[
        str | None, Query(max_length=100, description="Workspace id or slug.")
    ] = None,
) -> None:
    """The workspace's events as they happen (see the module's protocol)."""
    settings: Settings = websocket.app.state.settings
    if not origin_allowed(websocket, settings):
        # Before accepting: the browser gets a refused handshake, the page nothing to read.
        await websocket.close(code=POLICY_VIOLATION, reason="origin not allowed")
        return
    try:
        principal = await _authorize(websocket, workspace)
    except QOError as exc:
        await websocket.accept()
        await websocket.close(code=_close_code(exc), reason=exc.message[:120])
        return
    await websocket.accept()
    engine: Engine = websocket.app.state.engine
    try:
        await _serve(websocket, engine, principal, workspace)
    except WebSocketDisconnect:
        return
    except QOError as exc:
        await _close(websocket, _close_code(exc), exc.message[:120])


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    if websocket.application_state != WebSocketState.DISCONNECTED:
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):
            await websocket.close(code=code, reason=reason)


async def _until_disconnected(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _serve(
    websocket: WebSocket, engine: Engine, principal: Principal, workspace: str | None
) -> None:
    loop = asyncio.get_running_loop()
    async with engine.bus.subscribe(workspace_id=principal.workspace_id) as subscription:
        await _send(
            websocket,
            {
                "type": "hello",
                "workspace_id": principal.workspace_id,
                "role": principal.role.value if principal.role else None,
                "keepalive_seconds": KEEPALIVE_SECONDS,
            },
        )
        receiver = asyncio.create_task(_until_disconnected(websocket))
        try:
            next_ping = loop.time() + KEEPALIVE_SECONDS
            while True:
                getter = asyncio.ensure_future(subscription.queue.get())
                await asyncio.wait(
                    {getter, receiver},
                    timeout=max(0.0, next_ping - loop.time()),
                    return_when=asyncio.FIRST_COMPLETED,
                )
                event = _take(getter)
                if receiver.done():
                    return
                if subscription.overflowed:
                    await _resync(websocket, subscription)
                elif event is not None:
                    await _send(websocket, events_message(_drain(subscription, event)))
                if loop.time() >= next_ping:
                    # Whoever opened the socket must still be allowed to listen: a session
                    # that expired, was revoked or lost its membership ends it.
                    await _authorize(websocket, workspace)
                    await _send(websocket, {"type": "ping", "ts": utcnow().isoformat()})
                    next_ping = loop.time() + KEEPALIVE_SECONDS
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver


def _take(getter: asyncio.Future[Event]) -> Event | None:
    """The event ``getter`` got, else None (cancelled: nothing was taken from the queue)."""
    if getter.done():
        return getter.result()
    getter.cancel()
    return None


def _drain(subscription: Subscription, first: Event) -> list[Event]:
    """``first`` and the events already waiting behind it, up to ``MAX_BATCH``."""
    batch = [first]
    queue = subscription.queue
    while len(batch) < MAX_BATCH and not queue.empty():
        batch.append(queue.get_nowait())
    return batch


async def _resync(websocket: WebSocket, subscription: Subscription) -> None:
    # What is still queued predates the gap: the client refetches everything anyway.
    subscription.overflowed = False
    while not subscription.queue.empty():
        subscription.queue.get_nowait()
    await _send(websocket, {"type": "resync"})
