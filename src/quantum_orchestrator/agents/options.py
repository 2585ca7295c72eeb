"""The tuning of an agent runtime, and the backoff it uses between failed server calls."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class RuntimeOptions:
    """Tuning of one agent runtime; the defaults suit a typical agent process."""

    concurrency: int = 4
    """How many attempts run at once (the free slots decide how many tasks are claimed)."""
    claim_wait: float = 10.0
    """How long one claim long-polls the server for work, in seconds."""
    result_batch_size: int = 64
    """At most this many results per report call."""
    result_flush_delay: float = 0.005
    """How long a result waits for others to share its report call, in seconds."""
    drain_grace: float = 30.0
    """How long a shutdown lets running attempts finish before cancelling them, in seconds."""
    log_flush_interval: float = 1.0
    """How often the lines running attempts logged are sent, in seconds (the rest go with the
    result)."""
    final_flush_timeout: float = 10.0
    """How long a shutdown keeps trying to report the last results, in seconds."""
    max_output_bytes: int = 1024 * 1024
    """The largest output (as JSON) a step may produce."""
    backoff_initial: float = 0.5
    """First delay before retrying a failed server call, in seconds."""
    backoff_max: float = 30.0
    """Longest delay between retries of a failed server call, in seconds."""
    breaker_failures: int = 5
    """Consecutive failures (connection errors, timeouts, 5xx, 429) of one outbound target
    that open its circuit breaker (built-in HTTP nodes)."""
    breaker_cooldown: float = 30.0
    """How long an open circuit breaker fails calls fast before a trial call, in seconds."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.result_batch_size < 1:
            raise ValueError("result_batch_size must be at least 1")
        if self.max_output_bytes < 1:
            raise ValueError("max_output_bytes must be at least 1")
        if self.log_flush_interval <= 0:
            raise ValueError("log_flush_interval must be positive")
        for name in ("claim_wait", "result_flush_delay", "drain_grace", "final_flush_timeout"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.breaker_failures < 1:
            raise ValueError("breaker_failures must be at least 1")
        if self.breaker_cooldown <= 0:
            raise ValueError("breaker_cooldown must be positive")
        if not 0 < self.backoff_initial <= self.backoff_max:
            raise ValueError("need 0 < backoff_initial <= backoff_max")


class Backoff:
    """Exponential backoff with jitter (half to all of the ceiling), so agents spread retries."""

    def __init__(self, options: RuntimeOptions) -> None:
        self._initial = options.backoff_initial
        self._max = options.backoff_max
        self._failures = 0

    def next_delay(self) -> float:
        """The delay before the next try; each call doubles the ceiling up to the maximum."""
        ceiling = min(self._max, self._initial * 2**self._failures)
        self._failures = min(self._failures + 1, 32)
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography

    def reset(self) -> None:
        """Start over after a success."""
        self._failures = 0
