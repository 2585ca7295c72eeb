"""``qo up``: serve the app with uvicorn until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
from collections.abc import Callable

import uvicorn

from quantum_orchestrator.api.app import create_app
from quantum_orchestrator.observability.logging import configure_logging
from quantum_orchestrator.settings import Settings

logger = logging.getLogger("quantum_orchestrator.server")


class _Server(uvicorn.Server):
    """uvicorn, telling us when it listens."""

    def __init__(self, config: uvicorn.Config, on_ready: Callable[[str], None] | None) -> None:
        super().__init__(config)
        self._on_ready = on_ready

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)  # type: ignore[arg-type]
        if self.started:
            port = self.config.port
            for server in self.servers:
                for sock in server.sockets:
                    port = sock.getsockname()[1]
                    break
            url = f"http://{self.config.host}:{port}"
            logger.info("Quantum Orchestrator is up at %s", url)
            if self._on_ready is not None:
                self._on_ready(url)


async def serve(settings: Settings, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Run API, engine and built-in agents in this process until a signal stops them."""
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
    )
    await _Server(config, on_ready).serve()
