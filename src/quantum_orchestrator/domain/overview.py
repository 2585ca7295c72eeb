"""The dashboard overview's rules: agent categories, percentiles, rates and the hourly chart.

Pure logic over figures the store has already counted; nothing here reads a database.

An agent's **category** comes from the node types it serves: each capability ``category.name``
belongs to its prefix when that is one of the four agent kinds (``core``, ``specialized``,
``ml``, ``generative``) and to ``custom`` otherwise (a user namespace). An agent whose
capabilities all fall in one category has that category; one serving several (such as the
built-in agents, which serve every built-in type) is ``mixed``. The overview counts an online
agent once under each category it serves, so ``by_category`` answers "how many agents can run
``ml`` steps now" rather than partitioning the agents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from quantum_orchestrator.domain.node_types import CATEGORIES
from quantum_orchestrator.domain.states import AgentState, RunState

CUSTOM_CATEGORY = "custom"
MIXED_CATEGORY = "mixed"
# Every key ``agents.by_category`` always has, in the order the dashboard shows them.
AGENT_CATEGORIES: tuple[str, ...] = (*CATEGORIES, CUSTOM_CATEGORY)
AGENT_STATES: tuple[str, ...] = tuple(state.value for state in AgentState)
RUN_STATES: tuple[str, ...] = tuple(state.value for state in RunState)
RUN_FINISHED_STATES: tuple[str, ...] = (
    RunState.SUCCEEDED.value,
    RunState.FAILED.value,
    RunState.CANCELLED.value,
)
MIN_WINDOW_HOURS = 1
MAX_WINDOW_HOURS = 168
DEFAULT_WINDOW_HOURS = 24
PERCENTILES = (50, 95)


def capability_category(name: str) -> str:
    """The category of one node type name (``ml.classify`` → ``ml``; ``acme.x`` → custom)."""
    prefix = name.split(".", 1)[0]
    return prefix if prefix in CATEGORIES else CUSTOM_CATEGORY


def agent_categories(capabilities: Iterable[str]) -> list[str]:
    """The categories an agent serves, in the dashboard's order."""
    served = {capability_category(name) for name in capabilities}
    return [category for category in AGENT_CATEGORIES if category in served]


def agent_category(capabilities: Iterable[str]) -> str | None:
    """One word for an agent: its only category, ``mixed``, or None without capabilities."""
    served = agent_categories(capabilities)
    if not served:
        return None
    return served[0] if len(served) == 1 else MIXED_CATEGORY


def nearest_rank(count: int, percentile: int) -> int:
    """The 1-based rank of the ``percentile``-th value among ``count`` sorted values.

    Nearest-rank definition (``ceil(p/100 * n)``, at least 1): the answer is always a value
    that was measured, never an interpolation, so the store can fetch it by rank.
    """
    if count <= 0:
        raise ValueError("no values")
    return max(1, (percentile * count + 99) // 100)


def success_rate(by_state: Mapping[str, int]) -> float | None:
    """Succeeded runs over finished runs (succeeded, failed, cancelled); None if none finished."""
    finished = sum(by_state.get(state, 0) for state in RUN_FINISHED_STATES)
    if finished == 0:
        return None
    return round(by_state.get(RunState.SUCCEEDED.value, 0) / finished, 4)


def hour_floor(moment: datetime) -> datetime:
    """The start of the UTC hour that holds ``moment``."""
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """The time span of an overview: ``since`` → ``now``, and the chart's hourly buckets.

    The chart has ``hours`` buckets aligned on UTC hours, the last one being the current
    (partial) hour, so it starts at ``chart_since`` (up to an hour before ``since``).
    """

    now: datetime
    hours: int

    @property
    def since(self) -> datetime:
        """Start of the window: every figure but the chart counts from here."""
        return self.now - timedelta(hours=self.hours)

    @property
    def chart_since(self) -> datetime:
        """Start of the first chart bucket."""
        return hour_floor(self.now) - timedelta(hours=self.hours - 1)

    def bucket_starts(self) -> list[datetime]:
        """The start of every chart bucket, oldest first."""
        first = self.chart_since
        return [first + timedelta(hours=index) for index in range(self.hours)]


def chart(
    window: Window,
    runs: Iterable[tuple[int, str, int]],
    steps: Iterable[tuple[int, int]],
) -> list[dict[str, object]]:
    """The hourly buckets with zeros where nothing happened.

    ``runs`` are ``(bucket index, run state, count)`` and ``steps`` ``(bucket index, count)``,
    indexes counted from ``window.chart_since``; indexes outside the chart are ignored.
    """
    starts = window.bucket_starts()
    run_counts: list[dict[str, int]] = [dict.fromkeys(RUN_STATES, 0) for _ in starts]
    step_counts = [0 for _ in starts]
    for index, state, count in runs:
        if 0 <= index < len(starts):
            run_counts[index][state] = run_counts[index].get(state, 0) + count
    for index, count in steps:
        if 0 <= index < len(starts):
            step_counts[index] += count
    return [
        {
            "start": start.isoformat(),
            "runs": run_counts[index],
            "runs_total": sum(run_counts[index].values()),
            "steps_finished": step_counts[index],
        }
        for index, start in enumerate(starts)
    ]


def count_agents(
    agents: Sequence[tuple[str, Sequence[str]]],
) -> tuple[dict[str, int], dict[str, int]]:
    """``(by_state, online_by_category)`` of ``(state, capabilities)`` pairs, every key
    present (zero when nothing matches)."""
    by_state = dict.fromkeys(AGENT_STATES, 0)
    by_category = dict.fromkeys(AGENT_CATEGORIES, 0)
    for state, capabilities in agents:
        by_state[state] = by_state.get(state, 0) + 1
        if state == AgentState.ONLINE.value:
            for category in agent_categories(capabilities):
                by_category[category] += 1
    return by_state, by_category
