"""SSRF protection for outbound HTTP: private, loopback and link-local targets are refused.

The check happens where the connection is made: host names are resolved there, every address is
checked, and the connection goes to the checked address. A name that resolves to an allowed
address when validated and to an internal one when connected (DNS rebinding) cannot slip
through, and neither can a redirect to an internal address, since every hop connects here.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Sequence
from typing import Any

import anyio
import httpcore
import httpx

from quantum_orchestrator.domain.errors import StepError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedAddressError(StepError):
    """The target is an internal address that the allow-list does not permit."""

    code = "ssrf_blocked"
    retryable = False


class AddressPolicy:
    """Which addresses outbound requests may reach: public ones, plus an allow-list."""

    def __init__(self, *, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in allow
        )

    def permits(self, address: IPAddress) -> bool:
        """True for a public address or one inside an allowed network."""
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        if any(address in network for network in self.allow):
            return True
        return address.is_global and not address.is_multicast

    def check(self, host: str, address: IPAddress) -> None:
        """Raise ``BlockedAddressError`` unless ``address`` may be reached."""
        if not self.permits(address):
            shown = host if host == str(address) else f"{host} ({address})"
            raise BlockedAddressError(
                f"refusing to connect to {shown}: private, loopback and link-local addresses are "
                "blocked; allow the network in QO_AGENTS__HTTP_ALLOW if this is intended"
            )


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and checking every address it connects to."""

    def __init__(self, *, policy: AddressPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve ``host``, refuse internal addresses, connect to the checked address."""
        addresses = await _resolve(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            self._policy.check(host, address)
        # Connect by address, to the one just checked: the name is not resolved again.
        return await self._inner.connect_tcp(
            str(addresses[0]), port, timeout, local_address, socket_options
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        """Unix sockets are local by nature: refused."""
        raise BlockedAddressError(f"refusing to connect to the unix socket {path}")

    async def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's retries use it)."""
        await self._inner.sleep(seconds)


async def _resolve(host: str, port: int) -> Sequence[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    found: list[IPAddress] = []
    for _family, _kind, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport whose connections go through ``GuardedBackend``."""

    def __init__(self, *, policy: AddressPolicy, limits: httpx.Limits) -> None:
        super().__init__(limits=limits, trust_env=False)
        # httpx does not take a network backend, so its pool is rebuilt with one; everything
        # else is as httpx would build it (direct connections: no proxy from the environment).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(policy=policy),
        )
