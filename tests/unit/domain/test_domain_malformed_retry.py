"""A retry policy stored on a step is read tolerantly: a malformed one never raises.

Steps' policies are written after the spec's validation, but a row written around it (a seed
script once did) may hold anything; the engine reads the policy while it ends an attempt, inside
a transaction shared with other steps, so reading must not fail.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from quantum_orchestrator.domain.plan import DEFAULT_MAX_ATTEMPTS, Retry

DEFAULTS = Retry(max_attempts=DEFAULT_MAX_ATTEMPTS)


def test_a_stored_policy_reads_back_without_problems() -> None:
    stored = Retry(max_attempts=7, initial_interval=0.5, backoff=3, max_interval=20).to_dict()
    retry, problems = Retry.parse_stored(stored)
    assert retry == Retry(max_attempts=7, initial_interval=0.5, backoff=3, max_interval=20)
    assert problems == ()
    assert Retry.from_dict(stored) == retry


@pytest.mark.parametrize(
    ("stored", "expected", "named"),
    [
        # Missing keys: the defaults fill them, the valid ones are kept.
        ({"backoff": 3}, Retry(max_attempts=3, backoff=3), ["max_attempts", "initial_interval"]),
        ({}, DEFAULTS, ["max_attempts", "backoff"]),
        # Wrong types: a string, a boolean, a float count of attempts, null.
        (
            {
                "max_attempts": "three",
                "initial_interval": "1",
                "backoff": True,
                "max_interval": None,
            },
            DEFAULTS,
            ["max_attempts = 'three'", "initial_interval = '1'", "backoff = True", "max_interval"],
        ),
        (
            {"max_attempts": 2.0, "initial_interval": 0, "backoff": 1, "max_interval": 0},
            Retry(max_attempts=3, initial_interval=0, backoff=1, max_interval=0),
            ["max_attempts = 2.0"],
        ),
        # Out of the allowed ranges, or not a number at all.
        (
            {
                "max_attempts": 0,
                "initial_interval": -1,
                "backoff": float("nan"),
                "max_interval": float("inf"),
            },
            DEFAULTS,
            ["max_attempts = 0", "initial_interval = -1", "backoff = nan", "max_interval = inf"],
        ),
        ({"max_attempts": [1], "backoff": {"x": 1}}, DEFAULTS, ["max_attempts = [1]", "backoff"]),
        # A key that is no setting is ignored (and named).
        ({**Retry(max_attempts=4).to_dict(), "jitter": "full"}, Retry(max_attempts=4), ["jitter"]),
        # Not an object at all.
        (None, DEFAULTS, ["NoneType, not an object"]),
        ("3", DEFAULTS, ["str, not an object"]),
        ([3, 1.0, 2.0, 60.0], DEFAULTS, ["list, not an object"]),
        (5, DEFAULTS, ["int, not an object"]),
    ],
)
def test_a_malformed_policy_falls_back_field_by_field(
    stored: Any, expected: Retry, named: list[str]
) -> None:
    retry, problems = Retry.parse_stored(stored)
    assert retry == expected
    text = "; ".join(problems)
    for fragment in named:
        assert fragment in text, (fragment, problems)
    assert Retry.from_dict(stored) == expected
    # What comes back is usable: the arithmetic of the backoff works on it.
    assert 0 <= retry.delay(2, random.Random(1)) <= retry.max_interval
    assert isinstance(retry.max_attempts, int)


def test_the_configured_default_fills_a_missing_attempt_limit() -> None:
    retry, problems = Retry.parse_stored({"backoff": "x"}, default_max_attempts=9)
    assert retry == Retry(max_attempts=9)
    assert len(problems) == 4
    assert Retry.from_dict(["junk"], default_max_attempts=9) == Retry(max_attempts=9)


def test_a_huge_value_is_shortened_in_the_problem() -> None:
    _, problems = Retry.parse_stored({**DEFAULTS.to_dict(), "backoff": "x" * 10_000})
    (problem,) = problems
    assert problem.startswith("backoff = 'xxx")
    assert len(problem) < 200
