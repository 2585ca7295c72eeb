"""``qo up``: serve the app with uvicorn until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import uvicorn

from quantum_orchestrator.api.app import create_app
from quantum_orchestrator.domain.auth import check_password, normalize_email
from quantum_orchestrator.domain.errors import InvalidInputError, QOError
from quantum_orchestrator.engine.accounts import Bootstrap
from quantum_orchestrator.observability.logging import configure_logging
from quantum_orchestrator.settings import Settings

logger = logging.getLogger("quantum_orchestrator.server")


class ServerStartError(QOError):
    """The server cannot start (the address is taken, the host does not resolve...)."""

    code = "server_start_failed"


class _Server(uvicorn.Server):
    """uvicorn, telling us when it listens and letting long-polls go when it stops."""

    def __init__(
        self,
        config: uvicorn.Config,
        on_ready: Callable[[str], None] | None,
        on_stopping: Callable[[], None],
    ) -> None:
        super().__init__(config)
        self._on_ready = on_ready
        self._on_stopping = on_stopping

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        # uvicorn waits for open requests before the app's shutdown; agents' long-polling
        # claims would hold it for their whole wait, so they are answered first.
        self._on_stopping()
        await super().shutdown(sockets=sockets)

    async def startup(self, sockets: list[object] | None = None) -> None:  # type: ignore[override]
        await super().startup(sockets=sockets)  # type: ignore[arg-type]
        if self.started:
            port = self.config.port
            for server in self.servers:
                for sock in server.sockets:
                    port = sock.getsockname()[1]
                    break
            scheme = "https" if self.config.is_ssl else "http"
            url = f"{scheme}://{self.config.host}:{port}"
            logger.info("Quantum Orchestrator is up at %s", url)
            if self._on_ready is not None:
                self._on_ready(url)


def check_start_settings(settings: Settings) -> None:
    """Refuse to start with a first admin the policy rejects, or half a TLS setup."""
    try:
        email = normalize_email(settings.admin_email)
        if settings.admin_password is not None:
            check_password(settings.admin_password.get_secret_value(), email=email)
    except InvalidInputError as exc:
        raise ServerStartError(f"QO_ADMIN_EMAIL/QO_ADMIN_PASSWORD refused: {exc.message}") from None
    if (settings.tls_certfile is None) != (settings.tls_keyfile is None):
        raise ServerStartError("set both QO_TLS_CERTFILE and QO_TLS_KEYFILE, or neither")
    for path in (settings.tls_certfile, settings.tls_keyfile):
        if path is not None and not path.is_file():
            raise ServerStartError(f"the TLS file {path} does not exist")


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or ``ServerStartError`` saying what to change."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ServerStartError(f"cannot listen on {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = " (another server runs there: stop it, or choose --port)" if exc.errno == 98 else ""
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc.strerror}{hint}") from None
    return sock


async def serve(
    settings: Settings, *, on_ready: Callable[[str, Bootstrap | None], None] | None = None
) -> None:
    """Run API, engine and built-in agents in this process until a signal stops them.

    ``on_ready`` is told the URL and, on a first start, the admin account that was made.

    The address is bound first, so a taken port fails at once, before the database is touched.
    """
    configure_logging(level=settings.log_level, fmt=settings.log_format)
    check_start_settings(settings)
    sock = bind(settings.host, settings.port)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    app = create_app(settings)

    def stopping() -> None:
        engine = getattr(app.state, "engine", None)
        if engine is not None:
            engine.agents.stop_waiting()

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        proxy_headers=False,
        ssl_certfile=settings.tls_certfile,
        ssl_keyfile=settings.tls_keyfile,
    )
    try:

        def ready(url: str) -> None:
            if on_ready is not None:
                on_ready(url, app.state.bootstrap)

        await _Server(config, ready, stopping).serve(sockets=[sock])
    finally:
        sock.close()
