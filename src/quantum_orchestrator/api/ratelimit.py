"""Rate limiting per principal: a token bucket, in memory (one server process).

Each principal (user, API key, agent token) has a bucket of ``burst`` tokens refilled at
``rate`` per second; a request takes one. Requests without valid credentials spend from their
address's bucket. An empty bucket answers 429 with ``Retry-After``. Authenticated answers carry
``RateLimit-Limit``, ``RateLimit-Remaining`` and ``RateLimit-Reset``. Failed logins use a
second, much slower limiter of the same kind (``check`` then ``spend`` on failure).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from quantum_orchestrator.domain.errors import RateLimitedError

# Buckets of callers gone quiet are full again; forgetting them bounds the memory used.
_PRUNE_ABOVE = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Quota:
    """What is left for a principal after a request."""

    limit: int
    remaining: int
    reset: float

    def headers(self) -> dict[str, str]:
        """The ``RateLimit-*`` headers."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(math.ceil(self.reset)),
        }


class RateLimiter:
    """Token buckets by key."""

    def __init__(self, *, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}

    def _refilled(self, key: str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > _PRUNE_ABOVE:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
        return bucket

    def check(self, key: str, now: float | None = None, *, what: str = "requests") -> None:
        """Raise ``RateLimitedError`` if ``key``'s bucket is empty; spend nothing."""
        now = time.monotonic() if now is None else now
        bucket = self._refilled(key, now)
        if bucket.tokens < 1:
            wait = (1 - bucket.tokens) / self.rate
            raise RateLimitedError(
                f"too many {what}: at most {self.rate:g} per second (burst {self.burst}); "
                f"try again in {wait:.2f} s",
                retry_after=wait,
                limit=self.burst,
            )

    def take(self, key: str, now: float | None = None) -> Quota:
        """Spend one token of ``key``'s bucket, or raise ``RateLimitedError``."""
        now = time.monotonic() if now is None else now
        self.check(key, now)
        bucket = self._buckets[key]
        bucket.tokens -= 1
        return Quota(
            limit=self.burst,
            remaining=int(bucket.tokens),
            reset=(self.burst - bucket.tokens) / self.rate,
        )

    def spend(self, key: str, now: float | None = None) -> None:
        """Spend one token of ``key``'s bucket even if that empties it (a failed login)."""
        now = time.monotonic() if now is None else now
        bucket = self._refilled(key, now)
        bucket.tokens = max(bucket.tokens - 1, 0.0)

    def _prune(self, now: float) -> None:
        full_after = self.burst / self.rate
        for key in [k for k, b in self._buckets.items() if now - b.updated > full_after]:
            del self._buckets[key]
