"""Things the built-in handlers share for the life of one agent runtime."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

from quantum_orchestrator.agents.breaker import CircuitBreakers
from quantum_orchestrator.agents.netguard import AddressPolicy, GuardedTransport, parse_networks
from quantum_orchestrator.domain.breaker import BreakerPolicy

_DEFAULT_USER_AGENT = "quantum-orchestrator-agent"


def guarded_http_client(policy: AddressPolicy) -> httpx.AsyncClient:
    """The HTTP client of the built-in nodes: redirects followed, internal addresses refused
    unless ``policy`` allows them."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    return httpx.AsyncClient(
        follow_redirects=True,
        headers={"User-Agent": _DEFAULT_USER_AGENT},
        limits=limits,
        transport=GuardedTransport(policy=policy, limits=limits),
        trust_env=False,
        # The client is shared by every step (and workspace) of the agent: a cookie one
        # step's server sets must never ride along on another step's request.
        cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
    )


class NodeResources:
    """Lazily created, shared resources: the ``httpx.AsyncClient`` of the HTTP steps and the
    circuit breakers (``breakers``, one per target) their calls go through.

    One client per runtime keeps connection pools warm across steps. A step whose workspace
    allows internal networks (``extra_allow``) gets a client of its own for that allow-list:
    the check happens when a connection is opened, so a pooled connection to an internal
    address must never serve a step that may not reach it. Nothing is created until a handler
    asks for it, and :meth:`aclose` (called by the runtime on shutdown) releases everything.
    """

    def __init__(
        self,
        *,
        http_client_factory: Callable[[], httpx.AsyncClient] | None = None,
        http_allow: Sequence[str] = (),
        breaker_policy: BreakerPolicy | None = None,
    ) -> None:
        self.breakers = CircuitBreakers(breaker_policy)
        self._allow = tuple(str(network) for network in parse_networks(http_allow))
        self._custom_factory = http_client_factory
        self._clients: dict[tuple[str, ...], httpx.AsyncClient] = {}
        self._closed = False

    def http_client(self, *, extra_allow: Sequence[str] = ()) -> httpx.AsyncClient:
        """The shared HTTP client for this allow-list, created on first use.

        ``extra_allow`` (CIDRs) widens the agent's own allow-list for one step; a malformed
        entry raises ``ValueError``. A custom ``http_client_factory`` serves every step.
        """
        if self._closed:
            raise RuntimeError("NodeResources is closed")
        extra = tuple(str(network) for network in parse_networks(extra_allow))
        key = (
            () if self._custom_factory is not None else tuple(sorted(set(extra) - set(self._allow)))
        )
        client = self._clients.get(key)
        if client is None:
            if self._custom_factory is not None:
                client = self._custom_factory()
            else:
                client = guarded_http_client(AddressPolicy(allow=(*self._allow, *key)))
            self._clients[key] = client
        return client

    def address_policy(self, *, extra_allow: Sequence[str] = ()) -> AddressPolicy:
        """The address policy of a step: the agent's allow-list plus ``extra_allow`` (CIDRs).

        For outbound connections that are not HTTP (SMTP): they are checked against the same
        rules as the HTTP client's. A malformed entry raises ``ValueError``.
        """
        return AddressPolicy(allow=(*self._allow, *extra_allow))

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` ran."""
        return self._closed

    async def aclose(self) -> None:
        """Close what was created; calling it twice is harmless."""
        self._closed = True
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
