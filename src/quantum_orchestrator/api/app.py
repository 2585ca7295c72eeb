"""``create_app(settings)``: the whole platform as one ASGI app.

Its lifespan opens the database, applies migrations, starts the engine's timer loop and (unless
disabled) the built-in agent pool; on shutdown it drains the agents and closes everything.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from quantum_orchestrator.__about__ import __version__
from quantum_orchestrator.api import (
    agent_protocol,
    agents,
    approvals,
    audit,
    auth,
    health,
    hooks,
    keys,
    node_types,
    overview,
    runs,
    secrets,
    triggers,
    usage,
    workflows,
    workspaces,
    ws,
)
from quantum_orchestrator.api.dashboard import install_dashboard
from quantum_orchestrator.api.deps import DEFAULT_WORKSPACE_ID
from quantum_orchestrator.api.embedded import EmbeddedAgents
from quantum_orchestrator.api.middleware import RequestContext
from quantum_orchestrator.api.problems import install_problem_handlers
from quantum_orchestrator.api.ratelimit import RateLimiter
from quantum_orchestrator.domain.node_packs import load_node_packs
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.observability.metrics import Metrics
from quantum_orchestrator.security.secrets import load_secret_box
from quantum_orchestrator.settings import Settings
from quantum_orchestrator.store.database import Database, DatabaseOptions
from quantum_orchestrator.store.migrate import upgrade

_logger = logging.getLogger("quantum_orchestrator.api")


def _load_node_packs(engine: Engine) -> None:
    """Add the node types of the installed node packs to the catalog; broken packs are logged."""
    loaded = load_node_packs()
    for problem in loaded.problems:
        _logger.error("%s", problem)
    for pack in loaded.packs:
        _logger.info("node pack %s %s loaded", pack.name, pack.version)
    engine.catalog.add_node_types(loaded.node_types())


def create_app(settings: Settings) -> FastAPI:
    """Build the API for ``settings``; nothing is opened until the app starts."""
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(
            options=DatabaseOptions(
                url=settings.database_url(),
                pool_size=settings.database.pool_size,
                echo=settings.database.echo,
            )
        )
        embedded: EmbeddedAgents | None = None
        engine: Engine | None = None
        try:
            await upgrade(db)
            engine = Engine(
                db=db,
                settings=settings.engine,
                secret_box=load_secret_box(settings),
                auth=settings.auth,
            )
            engine.step_observers.append(metrics.step_finished)
            _load_node_packs(engine)
            app.state.engine = engine
            admin_password = settings.admin_password
            app.state.bootstrap = await engine.accounts.bootstrap(
                email=settings.admin_email,
                password=admin_password.get_secret_value() if admin_password else None,
            )
            await engine.start()
            if settings.agents.enabled:
                embedded = EmbeddedAgents(
                    engine=engine, settings=settings.agents, workspace_id=DEFAULT_WORKSPACE_ID
                )
                await embedded.start()
            yield
        finally:
            if embedded is not None:
                await embedded.shutdown()
            if engine is not None:
                await engine.shutdown()
            await db.dispose()

    app = FastAPI(
        title="Quantum Orchestrator",
        version=__version__,
        description="Build, deploy and run durable agent workflows.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.rate_limiter = (
        RateLimiter(rate=settings.api.rate_limit, burst=settings.api.rate_limit_burst)
        if settings.api.rate_limit > 0
        else None
    )
    app.state.bootstrap = None
    attempts = settings.auth.login_attempts_per_minute
    app.state.login_limiter = RateLimiter(rate=attempts / 60.0, burst=attempts)
    install_problem_handlers(app)
    for module in (
        auth,
        workspaces,
        keys,
        workflows,
        runs,
        approvals,
        agents,
        agent_protocol,
        node_types,
        secrets,
        triggers,
        hooks,
        audit,
        usage,
        overview,
        ws,
        health,
    ):
        app.include_router(module.router)
    # Last: the dashboard answers only what no API route matched.
    install_dashboard(app, directory=settings.api.dashboard_dir)
    if settings.api.cors_origins:
        # Off unless configured: only the listed origins, never a wildcard with credentials.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Idempotency-Key",
                "X-Request-ID",
                "X-CSRF-Token",
                "X-QO-Workspace",
            ],
            allow_credentials=True,
            expose_headers=["X-Request-ID"],
            max_age=600,
        )
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.api.max_body_bytes,
        timeout=settings.api.request_timeout,
        metrics=metrics,
    )
    return app
