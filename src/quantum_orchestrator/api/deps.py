"""Dependencies shared by the routers: the engine, the settings and the current principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request, Response

from quantum_orchestrator.api.ratelimit import RateLimiter
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.settings import Settings

DEFAULT_WORKSPACE_ID = "00000000000000000000000000000001"


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who is calling, and in which workspace.

    Until accounts exist every caller is the anonymous principal of the default workspace; every
    route already depends on this, so authentication plugs in here.
    """

    kind: Literal["anonymous", "user", "api_key", "agent"]
    workspace_id: str
    subject: str


def get_engine(request: Request) -> Engine:
    """The engine of this app."""
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    """The settings this app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def current_principal(request: Request, response: Response) -> Principal:
    """The caller of this request, who must be within its rate limit."""
    principal = Principal(kind="anonymous", workspace_id=DEFAULT_WORKSPACE_ID, subject="anonymous")
    request.state.principal = principal
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is not None:
        # Until callers authenticate, an anonymous caller is known by its address.
        client = request.client.host if request.client else "unknown"
        key = f"{principal.kind}:{principal.subject}@{client}"
        response.headers.update(limiter.take(key).headers())
    return principal


EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
