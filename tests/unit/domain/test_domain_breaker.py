"""The circuit breaker's state machine, with the time passed in."""

from __future__ import annotations

import pytest

from quantum_orchestrator.domain.breaker import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    Permit,
)


def fail(breaker: CircuitBreaker, now: float, times: int = 1) -> None:
    for _ in range(times):
        permit = breaker.allow(now)
        assert permit is not None
        breaker.record_failure(permit, now)


def test_defaults() -> None:
    policy = BreakerPolicy()
    assert policy.failure_threshold == 5
    assert policy.cooldown == 30.0


@pytest.mark.parametrize(("threshold", "cooldown"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_invalid_policy(threshold: int, cooldown: float) -> None:
    with pytest.raises(ValueError, match="must be"):
        BreakerPolicy(failure_threshold=threshold, cooldown=cooldown)


def test_opens_after_consecutive_failures() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=3, cooldown=10))
    fail(breaker, 0.0, times=2)
    assert breaker.state(0.0) is BreakerState.CLOSED
    fail(breaker, 1.0)
    assert breaker.state(1.0) is BreakerState.OPEN
    assert breaker.failures == 3
    assert breaker.closes_at == 11.0
    assert breaker.allow(5.0) is None


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=3, cooldown=10))
    fail(breaker, 0.0, times=2)
    permit = breaker.allow(0.0)
    assert permit is not None
    breaker.record_success(permit)
    assert breaker.failures == 0
    fail(breaker, 0.0, times=2)
    assert breaker.state(0.0) is BreakerState.CLOSED


def test_half_open_lets_one_trial_through_and_success_closes() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=1, cooldown=10))
    fail(breaker, 0.0)
    assert breaker.state(9.9) is BreakerState.OPEN
    assert breaker.state(10.0) is BreakerState.HALF_OPEN
    trial = breaker.allow(10.0)
    assert trial == Permit(trial=True)
    # Only one trial at a time.
    assert breaker.allow(10.5) is None
    breaker.record_success(trial)
    assert breaker.state(10.5) is BreakerState.CLOSED
    assert breaker.failures == 0
    assert breaker.allow(10.5) == Permit(trial=False)


def test_a_failed_trial_reopens_for_another_cooldown() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, cooldown=10))
    fail(breaker, 0.0, times=2)
    trial = breaker.allow(12.0)
    assert trial is not None
    assert trial.trial
    breaker.record_failure(trial, 12.0)
    assert breaker.state(12.0) is BreakerState.OPEN
    assert breaker.closes_at == 22.0
    assert breaker.allow(21.0) is None
    assert breaker.allow(22.0) == Permit(trial=True)


def test_a_released_trial_frees_the_slot() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=1, cooldown=1))
    fail(breaker, 0.0)
    trial = breaker.allow(1.0)
    assert trial is not None
    breaker.release(trial)
    assert breaker.state(1.0) is BreakerState.HALF_OPEN
    assert breaker.allow(1.0) == Permit(trial=True)


def test_stale_outcomes_do_not_decide_an_open_breaker() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=1, cooldown=10))
    early = breaker.allow(0.0)
    assert early is not None
    fail(breaker, 0.0)
    # A call let through before the breaker opened ends after it did.
    breaker.record_success(early)
    assert breaker.state(1.0) is BreakerState.OPEN
    breaker.record_failure(early, 5.0)
    assert breaker.closes_at == 10.0
    breaker.release(early)
    assert breaker.allow(10.0) == Permit(trial=True)


def test_idle() -> None:
    breaker = CircuitBreaker(BreakerPolicy(failure_threshold=2, cooldown=1))
    assert breaker.idle(0.0)
    fail(breaker, 0.0)
    assert not breaker.idle(0.0)
