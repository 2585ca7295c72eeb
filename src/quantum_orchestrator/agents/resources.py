"""Things the built-in handlers share for the life of one agent runtime."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx

from quantum_orchestrator.agents.netguard import AddressPolicy, GuardedTransport

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
    )


class NodeResources:
    """Lazily created, shared resources: today one ``httpx.AsyncClient`` for every HTTP step.

    One client per runtime keeps connection pools warm across steps. Nothing is created until a
    handler asks for it, and :meth:`aclose` (called by the runtime on shutdown) releases it.
    """

    def __init__(
        self,
        *,
        http_client_factory: Callable[[], httpx.AsyncClient] | None = None,
        http_allow: Sequence[str] = (),
    ) -> None:
        policy = AddressPolicy(allow=http_allow)
        self._factory = http_client_factory or (lambda: guarded_http_client(policy))
        self._http: httpx.AsyncClient | None = None
        self._closed = False

    def http_client(self) -> httpx.AsyncClient:
        """The shared HTTP client, created on first use."""
        if self._closed:
            raise RuntimeError("NodeResources is closed")
        if self._http is None:
            self._http = self._factory()
        return self._http

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` ran."""
        return self._closed

    async def aclose(self) -> None:
        """Close what was created; calling it twice is harmless."""
        self._closed = True
        client, self._http = self._http, None
        if client is not None:
            await client.aclose()
