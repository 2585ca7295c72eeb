"""Run, step, attempt and agent states, and the one table of allowed transitions.

Every state change in the platform is checked here: the engine asks ``run_transition`` or
``step_transition`` before it writes, and bulk updates are limited to ``step_sources(target)``
so that no SQL statement can move a row along an edge this table does not have.
"""

from __future__ import annotations

from enum import StrEnum

from quantum_orchestrator.domain.errors import InvalidTransitionError


class RunState(StrEnum):
    """The life of a run."""

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """True once nothing more will happen to the run (unless it is retried)."""
        return self in RUN_TERMINAL


class StepState(StrEnum):
    """The life of a step (one node inside a run)."""

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def terminal(self) -> bool:
        """True for succeeded, failed, cancelled and skipped."""
        return self in STEP_TERMINAL


class AttemptState(StrEnum):
    """The outcome of one try of a step."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    LOST = "lost"


class AgentState(StrEnum):
    """An agent's lifecycle: online → draining → offline, or lost when heartbeats stop."""

    ONLINE = "online"
    DRAINING = "draining"
    OFFLINE = "offline"
    LOST = "lost"


RUN_TERMINAL = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED})
STEP_TERMINAL = frozenset(
    {StepState.SUCCEEDED, StepState.FAILED, StepState.CANCELLED, StepState.SKIPPED}
)

_R = RunState
_RUN_EDGES: dict[RunState, frozenset[RunState]] = {
    _R.QUEUED: frozenset({_R.RUNNING, _R.WAITING, _R.SUCCEEDED, _R.FAILED, _R.CANCELLED}),
    _R.RUNNING: frozenset({_R.WAITING, _R.SUCCEEDED, _R.FAILED, _R.CANCELLED}),
    _R.WAITING: frozenset({_R.RUNNING, _R.SUCCEEDED, _R.FAILED, _R.CANCELLED}),
    # Retrying a finished run from its failed steps.
    _R.FAILED: frozenset({_R.RUNNING}),
    _R.CANCELLED: frozenset({_R.RUNNING}),
    _R.SUCCEEDED: frozenset(),
}

_S = StepState
_STEP_EDGES: dict[StepState, frozenset[StepState]] = {
    _S.PENDING: frozenset(
        {_S.QUEUED, _S.RUNNING, _S.WAITING, _S.SUCCEEDED, _S.FAILED, _S.SKIPPED, _S.CANCELLED}
    ),
    _S.QUEUED: frozenset({_S.RUNNING, _S.FAILED, _S.CANCELLED}),
    # running → queued: a retry after backoff, or a lease lost and handed back.
    _S.RUNNING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.QUEUED, _S.CANCELLED}),
    _S.WAITING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.QUEUED, _S.CANCELLED}),
    # A retried run resets its failed, cancelled and skipped steps.
    _S.FAILED: frozenset({_S.PENDING}),
    _S.CANCELLED: frozenset({_S.PENDING}),
    _S.SKIPPED: frozenset({_S.PENDING}),
    _S.SUCCEEDED: frozenset(),
}


def run_transition(current: str, target: RunState) -> RunState:
    """Accept ``current → target`` for a run, or raise ``InvalidTransitionError``."""
    source = RunState(current)
    if target not in _RUN_EDGES[source]:
        raise InvalidTransitionError(f"a {source} run cannot become {target}")
    return target


def step_transition(current: str, target: StepState) -> StepState:
    """Accept ``current → target`` for a step, or raise ``InvalidTransitionError``."""
    source = StepState(current)
    if target not in _STEP_EDGES[source]:
        raise InvalidTransitionError(f"a {source} step cannot become {target}")
    return target


def step_sources(target: StepState) -> tuple[str, ...]:
    """Every state a step may leave to become ``target`` (for guarded bulk updates)."""
    return tuple(sorted(s.value for s, targets in _STEP_EDGES.items() if target in targets))


def run_sources(target: RunState) -> tuple[str, ...]:
    """Every state a run may leave to become ``target``."""
    return tuple(sorted(s.value for s, targets in _RUN_EDGES.items() if target in targets))
