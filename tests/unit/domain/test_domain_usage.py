"""Pure usage math: reading usage from outputs, prices, cost and budget status."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from quantum_orchestrator.domain.usage import (
    BudgetExceededError,
    BudgetStatus,
    ModelPrice,
    Usage,
    cost_of,
    month_start,
    price_for,
    usage_of,
)

PRICES = {
    "gpt-4o": ModelPrice(prompt_per_1k=2.5, completion_per_1k=10.0),
    "gpt-4o*": ModelPrice(prompt_per_1k=1.0, completion_per_1k=1.0),
    "gpt-*": ModelPrice(prompt_per_1k=0.1, completion_per_1k=0.1),
    "*": ModelPrice(prompt_per_1k=0.01, completion_per_1k=0.02),
}


def test_usage_is_read_from_an_output() -> None:
    output = {"usage": {"prompt_tokens": 12, "completion_tokens": 3, "model": "m"}}
    assert usage_of(output) == Usage(model="m", prompt_tokens=12, completion_tokens=3)
    assert usage_of({"model": "top", "usage": {"prompt_tokens": 1}}) == Usage(
        model="top", prompt_tokens=1, completion_tokens=0
    )
    assert usage_of(None) is None
    assert usage_of({"content": "no usage"}) is None
    assert usage_of({"usage": "lots"}) is None


@pytest.mark.parametrize("bad", [-5, "12", 1.5, True, None])
def test_insane_counts_from_an_agent_count_zero(bad: object) -> None:
    found = usage_of({"usage": {"prompt_tokens": bad, "completion_tokens": 2, "model": "m"}})
    assert found is not None
    assert (found.prompt_tokens, found.total_tokens) == (0, 2)


def test_exact_entries_beat_longer_prefixes_and_the_wildcard() -> None:
    assert price_for("gpt-4o", PRICES).prompt_per_1k == 2.5
    assert price_for("gpt-4o-mini", PRICES).prompt_per_1k == 1.0
    assert price_for("gpt-3.5", PRICES).prompt_per_1k == 0.1
    assert price_for("llama3", PRICES).prompt_per_1k == 0.01
    assert price_for("llama3", {}) == ModelPrice()


def test_cost_is_per_thousand_tokens() -> None:
    usage = Usage(model="gpt-4o", prompt_tokens=1500, completion_tokens=500)
    assert cost_of(usage, PRICES) == pytest.approx(1.5 * 2.5 + 0.5 * 10.0)
    assert cost_of(Usage(model="free", prompt_tokens=10**6, completion_tokens=1), {}) == 0.0
    assert cost_of(Usage(model="x", prompt_tokens=1, completion_tokens=0), PRICES) == 0.00001


def test_budgets_are_per_calendar_month_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert month_start(datetime(2026, 3, 1, 0, 30, tzinfo=paris)) == datetime(
        2026, 2, 1, tzinfo=UTC
    )
    assert month_start(datetime(2026, 3, 17, 9, tzinfo=UTC)) == datetime(2026, 3, 1, tzinfo=UTC)


def test_budget_status() -> None:
    free = BudgetStatus(tokens=10**9, cost=1e6, token_limit=None, cost_limit=None, alert_ratio=0.8)
    assert (free.alert, free.exceeded) == (False, False)
    tokens = BudgetStatus(tokens=80, cost=0, token_limit=100, cost_limit=None, alert_ratio=0.8)
    assert (tokens.alert, tokens.exceeded) == (True, False)
    cost = BudgetStatus(tokens=0, cost=5.0, token_limit=100, cost_limit=5.0, alert_ratio=0.8)
    assert (cost.alert, cost.exceeded) == (True, True)
    assert "cost 5 reached the limit of 5" in cost.message()
    zero = BudgetStatus(tokens=0, cost=0, token_limit=0, cost_limit=None, alert_ratio=0.8)
    assert zero.exceeded
    assert cost.to_dict()["exceeded"] is True


def test_the_budget_error_is_final() -> None:
    error = BudgetExceededError("over")
    assert (error.code, error.retryable) == ("budget_exceeded", False)
