"""``Retry-After``: read from an answer, carried by a failed result, honoured by the retry delay."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from quantum_orchestrator.agents.nodes.http import retry_after
from quantum_orchestrator.agents.runtime import error_info
from quantum_orchestrator.api.schemas import ErrorBody
from quantum_orchestrator.domain.agent_protocol import MAX_RETRY_AFTER
from quantum_orchestrator.domain.errors import RateLimitedError, StepError
from quantum_orchestrator.domain.plan import Retry, retry_delay


@pytest.mark.parametrize(
    ("backoff", "hint", "expected"),
    [
        (0.5, None, 0.5),
        (0.5, 2, 2.0),
        (0.5, 2.5, 2.5),
        (3.0, 2.0, 3.0),  # the backoff is already longer
        (0.5, 0, 0.5),
        (0.5, -1, 0.5),  # nonsense is ignored
        (0.5, math.inf, 0.5),
        (0.5, math.nan, 0.5),
        (0.5, True, 0.5),
        (0.5, "2", 0.5),
    ],
)
def test_the_delay_is_the_longer_of_backoff_and_retry_after(
    backoff: float, hint: Any, expected: float
) -> None:
    assert retry_delay(backoff, hint) == expected


def test_retry_after_wins_over_a_short_jittered_backoff() -> None:
    retry = Retry(max_attempts=3, initial_interval=0.05)
    rng = random.Random(7)
    for attempt in range(1, 4):
        assert retry_delay(retry.delay(attempt, rng), 2.0) == 2.0


def answer(value: str | None) -> httpx.Response:
    headers = {"Retry-After": value} if value is not None else {}
    return httpx.Response(429, headers=headers)


def test_retry_after_header_in_seconds_or_as_a_date() -> None:
    assert retry_after(answer("2")) == 2.0
    assert retry_after(answer("1.5")) == 1.5
    assert retry_after(answer("-3")) == 0.0
    assert retry_after(answer(None)) is None
    assert retry_after(answer("soon")) is None
    assert retry_after(answer("inf")) is None
    assert retry_after(answer("nan")) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    seconds = retry_after(answer(later))
    assert seconds is not None
    assert 25 <= seconds <= 31
    past = format_datetime(datetime.now(UTC) - timedelta(seconds=30), usegmt=True)
    assert retry_after(answer(past)) == 0.0


def test_error_info_copies_retry_after_within_bounds() -> None:
    plain = error_info(StepError("busy", code="http_429", retryable=True))
    assert "retry_after" not in plain
    hinted = error_info(StepError("busy", code="http_429", retryable=True, retry_after=2.0))
    assert hinted == {"code": "http_429", "message": "busy", "retryable": True, "retry_after": 2.0}
    huge = error_info(StepError("busy", retryable=True, retry_after=10 * MAX_RETRY_AFTER))
    assert huge["retry_after"] == MAX_RETRY_AFTER
    assert "retry_after" not in error_info(StepError("x", retry_after=math.inf))
    assert "retry_after" not in error_info(RuntimeError("boom"))
    # The rate-limit error of the API keeps its required float.
    assert RateLimitedError("slow down", retry_after=3.0, limit=1).retry_after == 3.0
    assert StepError("x").retry_after is None


def test_the_results_body_bounds_retry_after() -> None:
    body = ErrorBody(code="http_429", message="busy", retryable=True, retry_after=2)
    assert body.retry_after == 2.0
    assert ErrorBody(code="c", message="m").retry_after is None
    for bad in (-1, MAX_RETRY_AFTER + 1, math.inf, math.nan):
        with pytest.raises(ValidationError):
            ErrorBody(code="c", message="m", retry_after=bad)
