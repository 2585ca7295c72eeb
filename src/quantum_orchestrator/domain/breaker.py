"""A circuit breaker's state machine: closed → open → half-open → closed (or open again).

Pure logic: the caller passes the time (monotonic seconds) in. ``N`` consecutive failures open
the breaker for a cool-down; while it is open, calls are refused without being tried. When the
cool-down is over, one trial call goes through (half-open): its success closes the breaker, its
failure opens it for another cool-down. A call that ends without a verdict (cancelled, or an
error that says nothing about the target) gives its trial slot back.

Outcomes of calls let through while the breaker was closed but reported after it opened are
stale and ignored: only the trial call decides a half-open breaker.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DEFAULT_FAILURE_THRESHOLD = 5
DEFAULT_COOLDOWN = 30.0


class BreakerState(StrEnum):
    """Where a breaker stands."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """When a breaker opens (consecutive failures) and for how long (seconds)."""

    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    cooldown: float = DEFAULT_COOLDOWN

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if self.cooldown <= 0:
            raise ValueError("cooldown must be positive")


@dataclass(frozen=True, slots=True)
class Permit:
    """Leave to make one call; ``trial`` is true for the one call of a half-open breaker."""

    trial: bool = False


class CircuitBreaker:
    """The state of one target's breaker."""

    def __init__(self, policy: BreakerPolicy | None = None) -> None:
        self.policy = policy or BreakerPolicy()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._trial_out = False

    @property
    def failures(self) -> int:
        """Consecutive failures counted (the count that opened the breaker, while open)."""
        return self._failures

    def state(self, now: float) -> BreakerState:
        """The state at ``now``: an open breaker whose cool-down is over is half-open."""
        if self._state is BreakerState.OPEN and now >= self.closes_at:
            return BreakerState.HALF_OPEN
        return self._state

    @property
    def closes_at(self) -> float:
        """When the cool-down of an open breaker ends (meaningful while open)."""
        return self._opened_at + self.policy.cooldown

    def allow(self, now: float) -> Permit | None:
        """A permit for one call, or ``None`` when the call must fail fast."""
        state = self.state(now)
        if state is BreakerState.CLOSED:
            return Permit()
        if state is BreakerState.OPEN or self._trial_out:
            return None
        self._state = BreakerState.HALF_OPEN
        self._trial_out = True
        return Permit(trial=True)

    def record_success(self, permit: Permit) -> None:
        """The call reached a healthy target."""
        if permit.trial:
            self._trial_out = False
            self._state = BreakerState.CLOSED
            self._failures = 0
        elif self._state is BreakerState.CLOSED:
            self._failures = 0

    def record_failure(self, permit: Permit, now: float) -> None:
        """The call failed in a way that counts against the target."""
        if permit.trial:
            self._trial_out = False
            self._open(now)
        elif self._state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.policy.failure_threshold:
                self._open(now)

    def release(self, permit: Permit) -> None:
        """The call ended without a verdict on the target: a trial slot is given back."""
        if permit.trial:
            self._trial_out = False

    def _open(self, now: float) -> None:
        self._state = BreakerState.OPEN
        self._opened_at = now
        self._failures = max(self._failures, 1)

    def idle(self, now: float) -> bool:
        """True when the breaker holds nothing worth keeping (closed, no failures counted)."""
        return self.state(now) is BreakerState.CLOSED and self._failures == 0
