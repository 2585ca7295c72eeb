"""Dependencies shared by the routers: the engine, the settings and the caller.

Every route but the probes and login declares exactly one ``Authorize(...)`` dependency: it
authenticates the caller (bearer token or session cookie with its CSRF token), resolves the
workspace, applies the caller's rate limit and checks the route's one permission.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from starlette.requests import HTTPConnection

from quantum_orchestrator.api.ratelimit import RateLimiter
from quantum_orchestrator.domain.auth import (
    AuthenticationError,
    CsrfError,
    Permission,
    PermissionDeniedError,
    Principal,
)
from quantum_orchestrator.engine.engine import Engine
from quantum_orchestrator.security.tokens import csrf_token, same_token
from quantum_orchestrator.settings import Settings

DEFAULT_WORKSPACE_ID = "00000000000000000000000000000001"
SESSION_COOKIE = "qo_session"
CSRF_COOKIE = "qo_csrf"
CSRF_HEADER = "X-CSRF-Token"
WORKSPACE_HEADER = "X-QO-Workspace"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_engine(request: Request) -> Engine:
    """The engine of this app."""
    engine: Engine = request.app.state.engine
    return engine


def get_settings(request: Request) -> Settings:
    """The settings this app was built with."""
    settings: Settings = request.app.state.settings
    return settings


def client_address(request: HTTPConnection) -> str:
    """The caller's address as the server sees it."""
    return request.client.host if request.client else "unknown"


def _check_csrf(request: HTTPConnection, session_token: str) -> None:
    # Double submit: the page echoes the qo_csrf cookie in a header; another site can make
    # the browser send the cookies but cannot read them to forge the header.
    header = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    expected = csrf_token(session_token)
    if not header or not same_token(header, cookie) or not same_token(header, expected):
        raise CsrfError(
            f"a request made with the session cookie must send the {CSRF_HEADER} header "
            f"equal to the {CSRF_COOKIE} cookie"
        )


async def _credentials(
    request: HTTPConnection, engine: Engine, workspace: str | None, *, safe: bool
) -> Principal:
    authorization = request.headers.get("Authorization")
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationError("send the token as `Authorization: Bearer <token>`")
        principal = await engine.accounts.authenticate(token.strip(), workspace=workspace)
    else:
        session = request.cookies.get(SESSION_COOKIE)
        if not session:
            raise AuthenticationError(
                "authentication required: log in, or send `Authorization: Bearer <token>`"
            )
        if not safe:
            _check_csrf(request, session)
        principal = await engine.accounts.authenticate(
            session, workspace=workspace, via_cookie=True
        )
        if principal.kind != "user":
            raise AuthenticationError("the session cookie is not valid")
    return principal


async def authenticate_connection(
    connection: HTTPConnection, *, workspace: str | None, safe: bool
) -> Principal:
    """The caller of an HTTP request or WebSocket handshake, acting in ``workspace``.

    ``safe`` connections (reads, and WebSocket handshakes, whose Origin is checked instead)
    may use the session cookie without the CSRF header. Failures spend the caller's address's
    rate limit budget; the caller's own budget is the caller's to spend (see ``authenticate``).
    """
    engine: Engine = connection.app.state.engine
    limiter: RateLimiter | None = connection.app.state.rate_limiter
    try:
        return await _credentials(connection, engine, workspace, safe=safe)
    except AuthenticationError:
        if limiter is not None:
            # Callers without valid credentials are known only by their address: their
            # failures share its budget (429 once spent), so token guessing is throttled
            # while valid callers from the same address are not.
            address_key = f"address:{client_address(connection)}"
            limiter.check(address_key, what="requests without valid credentials")
            limiter.spend(address_key)
        raise


def check_permission(principal: Principal, permission: Permission | None) -> Principal:
    """``principal`` if it holds ``permission`` (None: any signed-in user), else 403."""
    if permission is None:
        if principal.kind != "user":
            raise PermissionDeniedError("only a signed-in user may do this, not a key")
        return principal
    if not principal.can(permission):
        if not principal.workspace_id:
            raise PermissionDeniedError(
                "you are not a member of any workspace: create one or ask to be invited"
            )
        raise PermissionDeniedError(
            f"your {'role ' + principal.role.value if principal.role else principal.kind} "
            f"may not do this (it needs {permission.value})"
        )
    return principal


async def authenticate(request: Request, response: Response) -> Principal:
    """The caller of this request, within its rate limit; 401 without valid credentials."""
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    # Routes under /workspaces/{workspace_id} act on that workspace; others on the header's.
    workspace = (
        request.path_params.get("workspace_id") or request.headers.get(WORKSPACE_HEADER) or None
    )
    principal = await authenticate_connection(
        request, workspace=workspace, safe=request.method in _SAFE_METHODS
    )
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is not None:
        response.headers.update(limiter.take(principal.rate_key).headers())
    request.state.principal = principal
    return principal


class Authorize:
    """The dependency of a route: an authenticated caller who holds ``permission``.

    ``permission=None`` asks only for a signed-in user (creating and listing one's workspaces,
    logging out), whatever the workspace.
    """

    def __init__(self, permission: Permission | None) -> None:
        self.permission = permission

    async def __call__(self, request: Request, response: Response) -> Principal:
        """Authenticate, then check the permission."""
        return check_permission(await authenticate(request, response), self.permission)


# One alias per permission: a route's signature names exactly what it needs.
WorkflowsRead = Annotated[Principal, Depends(Authorize(Permission.WORKFLOWS_READ))]
WorkflowsWrite = Annotated[Principal, Depends(Authorize(Permission.WORKFLOWS_WRITE))]
RunsRead = Annotated[Principal, Depends(Authorize(Permission.RUNS_READ))]
RunsWrite = Annotated[Principal, Depends(Authorize(Permission.RUNS_WRITE))]
AgentsRead = Annotated[Principal, Depends(Authorize(Permission.AGENTS_READ))]
AgentsManage = Annotated[Principal, Depends(Authorize(Permission.AGENTS_MANAGE))]
SecretsRead = Annotated[Principal, Depends(Authorize(Permission.SECRETS_READ))]
SecretsWrite = Annotated[Principal, Depends(Authorize(Permission.SECRETS_WRITE))]
MembersRead = Annotated[Principal, Depends(Authorize(Permission.MEMBERS_READ))]
MembersWrite = Annotated[Principal, Depends(Authorize(Permission.MEMBERS_WRITE))]
KeysRead = Annotated[Principal, Depends(Authorize(Permission.KEYS_READ))]
KeysWrite = Annotated[Principal, Depends(Authorize(Permission.KEYS_WRITE))]
AuditRead = Annotated[Principal, Depends(Authorize(Permission.AUDIT_READ))]
WorkspaceRead = Annotated[Principal, Depends(Authorize(Permission.WORKSPACE_READ))]
WorkspaceWrite = Annotated[Principal, Depends(Authorize(Permission.WORKSPACE_WRITE))]
MetricsRead = Annotated[Principal, Depends(Authorize(Permission.METRICS_READ))]
AgentProtocol = Annotated[Principal, Depends(Authorize(Permission.AGENT_PROTOCOL))]
SignedIn = Annotated[Principal, Depends(Authorize(None))]

EngineDep = Annotated[Engine, Depends(get_engine)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
