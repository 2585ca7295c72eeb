"""SSRF protection for outbound HTTP: private, loopback and link-local targets are refused.

The check happens where the connection is made: host names are resolved there, every address is
checked, and the connection goes to the checked address. A name that resolves to an allowed
address when validated and to an internal one when connected (DNS rebinding) cannot slip
through, and neither can a redirect to an internal address, since every hop connects here.

The allow-list is the agent's own (``QO_AGENTS__HTTP_ALLOW``) plus, for each step, the one of the
step's workspace, which the server sends with the task. One policy belongs to one connection pool
(see ``agents/resources.py``): a connection opened under a wider allow-list is never reused by a
step of a workspace that does not have it.
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


# IPv6 prefixes whose addresses carry an IPv4 address in their last 32 bits and reach it:
# NAT64 (RFC 6052 and RFC 8215) and the deprecated IPv4-compatible form.
_NAT64 = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("64:ff9b:1::/48"),
    ipaddress.IPv6Network("::/96"),
)

ALLOW_HINT = (
    "allow the network in QO_AGENTS__HTTP_ALLOW, or in the workspace's HTTP allow-list "
    "(PUT /api/v1/workspaces/{id}/http-allow, owners only), if this is intended"
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address stands for (6to4, Teredo, NAT64, compatible)."""
    found: list[ipaddress.IPv4Address] = []
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    if any(address in prefix for prefix in _NAT64):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def parse_networks(entries: Iterable[str]) -> tuple[IPNetwork, ...]:
    """CIDR strings as networks (host bits allowed); ``ValueError`` names a bad entry."""
    networks: list[IPNetwork] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(str(entry).strip(), strict=False))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP network such as 10.0.0.0/8") from None
    return tuple(networks)


class AddressPolicy:
    """Which addresses outbound requests may reach: public ones, plus an allow-list."""

    def __init__(self, *, allow: Iterable[str] = ()) -> None:
        self.allow: tuple[IPNetwork, ...] = parse_networks(allow)

    def permits(self, address: IPAddress) -> bool:
        """True for a public address or one inside an allowed network.

        An IPv6 address that embeds an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by
        what it leads to as well: ``::ffff:127.0.0.1`` is loopback, and ``2002:7f00:1::``
        must not pass as "global" either.
        """
        mapped = getattr(address, "ipv4_mapped", None)
        if mapped is not None:
            address = mapped
        if any(address in network for network in self.allow):
            return True
        if not address.is_global or address.is_multicast:
            return False
        if isinstance(address, ipaddress.IPv6Address):
            return all(self.permits(inner) for inner in _embedded_ipv4(address))
        return True

    def check(self, host: str, address: IPAddress) -> None:
        """Raise ``BlockedAddressError`` unless ``address`` may be reached."""
        if not self.permits(address):
            shown = host if host == str(address) else f"{host} ({address})"
            raise BlockedAddressError(
                f"refusing to connect to {shown}: private, loopback and link-local addresses are "
                f"blocked; {ALLOW_HINT}"
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
