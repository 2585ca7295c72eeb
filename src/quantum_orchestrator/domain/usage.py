"""LLM usage accounting: token counts, what they cost, and workspace budgets (pure logic)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from quantum_orchestrator.domain.errors import QOError

LLM_NODE_TYPES = frozenset({"generative.llm_chat"})
GROUP_BY = ("workspace", "workflow", "run", "agent", "model")
# Money is rounded to a millionth of the currency unit: enough for per-token prices.
_COST_DIGITS = 6


class BudgetExceededError(QOError):
    """The workspace spent its monthly LLM budget: new LLM steps fail until it is raised."""

    code = "budget_exceeded"
    retryable = False


@dataclass(frozen=True, kw_only=True)
class ModelPrice:
    """What a model costs, per 1000 prompt tokens and per 1000 completion tokens."""

    prompt_per_1k: float = 0.0
    completion_per_1k: float = 0.0


@dataclass(frozen=True, kw_only=True)
class Usage:
    """The tokens one step used, as its output reported them."""

    model: str
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


def _count(value: Any) -> int:
    # Counts come from an agent: anything that is not a sane non-negative integer counts 0.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 0
    return min(value, 10**12)


def usage_of(output: Any) -> Usage | None:
    """The ``usage`` an LLM step put in its output, or None when there is none."""
    if not isinstance(output, Mapping):
        return None
    raw = output.get("usage")
    if not isinstance(raw, Mapping):
        return None
    model = raw.get("model") or output.get("model") or ""
    return Usage(
        model=str(model)[:200],
        prompt_tokens=_count(raw.get("prompt_tokens")),
        completion_tokens=_count(raw.get("completion_tokens")),
    )


def price_for(model: str, prices: Mapping[str, ModelPrice]) -> ModelPrice:
    """The price of ``model``: an exact entry, else the longest prefix entry ending in ``*``
    (``gpt-4o*``), else the ``*`` entry, else free."""
    if model in prices:
        return prices[model]
    best: tuple[int, ModelPrice] | None = None
    for pattern, price in prices.items():
        matches = pattern.endswith("*") and model.startswith(pattern[:-1])
        if matches and (best is None or len(pattern) > best[0]):
            best = (len(pattern), price)
    return best[1] if best is not None else ModelPrice()


def cost_of(usage: Usage, prices: Mapping[str, ModelPrice]) -> float:
    """What ``usage`` costs under the price table."""
    price = price_for(usage.model, prices)
    cost = (
        usage.prompt_tokens * price.prompt_per_1k
        + usage.completion_tokens * price.completion_per_1k
    ) / 1000
    return round(cost, _COST_DIGITS)


def month_start(now: datetime) -> datetime:
    """The first instant of ``now``'s calendar month (UTC): budgets are per month."""
    now = now.astimezone(UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


@dataclass(frozen=True, kw_only=True)
class BudgetStatus:
    """A workspace's monthly spending against its limits (``None``: no limit)."""

    tokens: int
    cost: float
    token_limit: int | None
    cost_limit: float | None
    alert_ratio: float

    def _ratio(self) -> float:
        ratios = [0.0]
        if self.token_limit is not None:
            ratios.append(self.tokens / self.token_limit if self.token_limit else float("inf"))
        if self.cost_limit is not None:
            ratios.append(self.cost / self.cost_limit if self.cost_limit else float("inf"))
        return max(ratios)

    @property
    def exceeded(self) -> bool:
        """A limit is reached: the hard stop applies."""
        return self._ratio() >= 1.0

    @property
    def alert(self) -> bool:
        """Past the soft threshold (``alert_ratio`` of a limit)."""
        return self._ratio() >= self.alert_ratio

    def message(self) -> str:
        """Why new LLM steps are refused, for the step's error."""
        parts = []
        if self.token_limit is not None and self.tokens >= self.token_limit:
            parts.append(f"{self.tokens} tokens used of a limit of {self.token_limit}")
        if self.cost_limit is not None and self.cost >= self.cost_limit:
            parts.append(f"cost {self.cost:.6g} reached the limit of {self.cost_limit:.6g}")
        return (
            "the workspace's monthly LLM budget is exhausted ("
            + "; ".join(parts)
            + "): raise it with PUT /api/v1/usage/budget"
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``GET /api/v1/usage/budget``."""
        return {
            "token_limit": self.token_limit,
            "cost_limit": self.cost_limit,
            "alert_ratio": self.alert_ratio,
            "tokens": self.tokens,
            "cost": round(self.cost, _COST_DIGITS),
            "alert": self.alert,
            "exceeded": self.exceeded,
        }
