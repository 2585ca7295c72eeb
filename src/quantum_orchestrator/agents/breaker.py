"""Circuit breakers for the outbound HTTP calls of the built-in nodes, one per target.

A target is ``scheme://host:port``. Connection errors, timeouts, 5xx and 429 answers count as
failures; any other answer (a 404 included: the target is up) as a success. After
``failure_threshold`` consecutive failures the target's breaker opens: for ``cooldown`` seconds
every call to it fails fast with the retryable ``circuit_open`` error, then one trial call goes
through, and its outcome closes or reopens the breaker. The state machine is
``domain/breaker.py``; this module applies it to ``httpx`` calls.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from quantum_orchestrator.domain.breaker import BreakerPolicy, BreakerState, CircuitBreaker
from quantum_orchestrator.domain.errors import StepError

# Breakers of targets that are healthy again are forgotten once there are this many.
_MAX_TARGETS = 4096
_DEFAULT_PORTS = {"http": 80, "https": 443}


class CircuitOpenError(StepError):
    """A call refused without being tried: the target's breaker is open."""

    code = "circuit_open"
    retryable = True


def target_of(url: str | httpx.URL) -> str | None:
    """``scheme://host:port`` of an HTTP(S) URL, or ``None`` when it is not one."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return None
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parsed.host:
        return None
    host = parsed.host.lower()
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{parsed.port or _DEFAULT_PORTS[scheme]}"


def counts_as_failure(outcome: httpx.Response | BaseException) -> bool | None:
    """True for a failure of the target, False for a success, None for no verdict."""
    if isinstance(outcome, httpx.Response):
        return outcome.status_code >= 500 or outcome.status_code == 429
    if isinstance(outcome, httpx.UnsupportedProtocol):
        return None
    if isinstance(outcome, httpx.TransportError):
        # Connection errors, timeouts, broken protocol exchanges.
        return True
    return None


class CircuitBreakers:
    """The breakers of one agent runtime, created per target on first use."""

    def __init__(
        self,
        policy: BreakerPolicy | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or BreakerPolicy()
        self._clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def state(self, target: str) -> BreakerState:
        """The state of ``target``'s breaker (closed when it has none)."""
        breaker = self._breakers.get(target)
        return breaker.state(self._clock()) if breaker is not None else BreakerState.CLOSED

    def _breaker(self, target: str) -> CircuitBreaker:
        breaker = self._breakers.get(target)
        if breaker is None:
            if len(self._breakers) >= _MAX_TARGETS:
                now = self._clock()
                for name in [n for n, b in self._breakers.items() if b.idle(now)]:
                    del self._breakers[name]
            breaker = self._breakers[target] = CircuitBreaker(self.policy)
        return breaker

    def _open_error(self, target: str, breaker: CircuitBreaker) -> CircuitOpenError:
        remaining = max(0.0, breaker.closes_at - self._clock())
        closes = datetime.now(UTC) + timedelta(seconds=remaining)
        return CircuitOpenError(
            f"circuit open for {target} after {breaker.failures} consecutive failures "
            f"(connection errors, timeouts, 5xx or 429): calls fail fast until "
            f"{closes.strftime('%Y-%m-%dT%H:%M:%SZ')} (in {remaining:.1f}s), then one trial "
            "call is let through"
        )

    async def call(
        self, url: str | httpx.URL, send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        """Run ``send`` (one request to ``url``) under the target's breaker.

        Raises ``CircuitOpenError`` without calling ``send`` while the breaker is open; the
        outcome of ``send`` (answer or exception) is recorded and passed on unchanged.
        """
        target = target_of(url)
        if target is None:
            return await send()
        breaker = self._breaker(target)
        permit = breaker.allow(self._clock())
        if permit is None:
            raise self._open_error(target, breaker)
        try:
            response = await send()
        except BaseException as exc:
            if counts_as_failure(exc):
                breaker.record_failure(permit, self._clock())
            else:
                breaker.release(permit)
            raise
        if counts_as_failure(response):
            breaker.record_failure(permit, self._clock())
        else:
            breaker.record_success(permit)
        return response

    async def request(
        self, client: httpx.AsyncClient, method: str, url: str, **kwargs: Any
    ) -> httpx.Response:
        """``client.request(method, url, **kwargs)`` under the target's breaker."""
        return await self.call(url, lambda: client.request(method, url, **kwargs))
