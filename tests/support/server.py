"""A real server (``create_app``) on a free port of 127.0.0.1, inside the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI
from tests.support.auth import AdminAuth

from quantum_orchestrator.api.app import create_app
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.settings import Settings


@dataclass
class LiveApp:
    """A running app: its URL, the app object, its engine and the first admin's token."""

    url: str
    app: FastAPI
    settings: Settings
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        """Headers that authenticate as the first admin (owner of the default workspace)."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def auth(self) -> AdminAuth:
        """Client authentication: the admin, and agent tokens for the agent protocol."""
        return AdminAuth(self.token)

    @property
    def engine(self) -> Engine:
        """The engine inside the app."""
        engine: Engine = self.app.state.engine
        return engine


@asynccontextmanager
async def live_app(settings: Settings) -> AsyncIterator[LiveApp]:
    """Serve ``create_app(settings)`` with uvicorn until the block ends."""
    app = create_app(settings)
    # IPPROTO_TCP, not 0: asyncio turns Nagle's algorithm off only for TCP-protocol sockets,
    # and with it on every answer waits for the client's delayed ACK (~40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        # The stock asyncio loop: uvloop would become the process-wide default and hide
        # the lines it runs from coverage.
        loop="asyncio",
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=1,
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
    )
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("the server stopped while starting")
        if loop.time() > deadline:
            raise RuntimeError("the server did not start")
        await asyncio.sleep(0.01)
    scheme = "https" if settings.tls_certfile else "http"
    live = LiveApp(url=f"{scheme}://127.0.0.1:{port}", app=app, settings=settings)
    if settings.admin_password is not None:
        login = await live.engine.accounts.login(
            email=settings.admin_email,
            password=settings.admin_password.get_secret_value(),
            source_ip="127.0.0.1",
            user_agent="tests",
        )
        live.token = login.token
    try:
        yield live
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)
        sock.close()
