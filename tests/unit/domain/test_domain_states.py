"""The one transitions table: every allowed edge is accepted, everything else refused."""

from __future__ import annotations

import pytest

from quantum_orchestrator.domain.errors import InvalidTransitionError
from quantum_orchestrator.domain.states import (
    RUN_TERMINAL,
    STEP_TERMINAL,
    AgentState,
    AttemptState,
    RunState,
    StepState,
    run_sources,
    run_transition,
    step_sources,
    step_transition,
)

R, S = RunState, StepState

RUN_ALLOWED = {
    (R.QUEUED, R.RUNNING),
    (R.QUEUED, R.WAITING),
    (R.QUEUED, R.SUCCEEDED),
    (R.QUEUED, R.FAILED),
    (R.QUEUED, R.CANCELLED),
    (R.RUNNING, R.WAITING),
    (R.RUNNING, R.SUCCEEDED),
    (R.RUNNING, R.FAILED),
    (R.RUNNING, R.CANCELLED),
    (R.WAITING, R.RUNNING),
    (R.WAITING, R.SUCCEEDED),
    (R.WAITING, R.FAILED),
    (R.WAITING, R.CANCELLED),
    (R.FAILED, R.RUNNING),
    (R.CANCELLED, R.RUNNING),
}

STEP_ALLOWED = {
    *((S.PENDING, t) for t in S if t is not S.PENDING),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.FAILED),
    (S.QUEUED, S.CANCELLED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.QUEUED),
    (S.RUNNING, S.CANCELLED),
    (S.WAITING, S.SUCCEEDED),
    (S.WAITING, S.FAILED),
    (S.WAITING, S.QUEUED),
    (S.WAITING, S.CANCELLED),
    (S.FAILED, S.PENDING),
    (S.CANCELLED, S.PENDING),
    (S.SKIPPED, S.PENDING),
}


@pytest.mark.parametrize(("source", "target"), sorted(RUN_ALLOWED))
def test_allowed_run_edges(source: RunState, target: RunState) -> None:
    assert run_transition(source.value, target) is target


@pytest.mark.parametrize(
    ("source", "target"), sorted((a, b) for a in R for b in R if (a, b) not in RUN_ALLOWED)
)
def test_forbidden_run_edges(source: RunState, target: RunState) -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        run_transition(source.value, target)
    assert caught.value.code == "invalid_transition"
    assert caught.value.message == f"a {source} run cannot become {target}"


@pytest.mark.parametrize(("source", "target"), sorted(STEP_ALLOWED))
def test_allowed_step_edges(source: StepState, target: StepState) -> None:
    assert step_transition(source.value, target) is target


@pytest.mark.parametrize(
    ("source", "target"), sorted((a, b) for a in S for b in S if (a, b) not in STEP_ALLOWED)
)
def test_forbidden_step_edges(source: StepState, target: StepState) -> None:
    with pytest.raises(InvalidTransitionError, match=f"a {source} step cannot become {target}"):
        step_transition(source.value, target)


@pytest.mark.parametrize(
    ("source", "target"),
    [
        (S.SUCCEEDED, S.PENDING),
        (S.SUCCEEDED, S.FAILED),
        (S.SKIPPED, S.RUNNING),
        (S.QUEUED, S.SUCCEEDED),
        (S.RUNNING, S.RUNNING),
        (S.FAILED, S.QUEUED),
    ],
)
def test_notable_forbidden_step_edges(source: StepState, target: StepState) -> None:
    with pytest.raises(InvalidTransitionError):
        step_transition(source, target)


def test_invalid_transition_is_a_conflict_and_not_retryable() -> None:
    with pytest.raises(InvalidTransitionError) as caught:
        run_transition("succeeded", R.RUNNING)
    assert caught.value.retryable is False
    assert caught.value.to_dict() == {
        "code": "invalid_transition",
        "message": "a succeeded run cannot become running",
        "retryable": False,
    }


def test_unknown_current_state_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="bogus"):
        step_transition("bogus", S.QUEUED)
    with pytest.raises(ValueError, match="bogus"):
        run_transition("bogus", R.RUNNING)


@pytest.mark.parametrize("target", list(S))
def test_step_sources_match_the_table(target: StepState) -> None:
    expected = tuple(sorted(a.value for a, b in STEP_ALLOWED if b is target))
    assert step_sources(target) == expected


def test_step_sources_examples() -> None:
    assert step_sources(S.QUEUED) == ("pending", "running", "waiting")
    assert step_sources(S.PENDING) == ("cancelled", "failed", "skipped")
    assert step_sources(S.SKIPPED) == ("pending",)
    assert step_sources(S.SUCCEEDED) == ("pending", "running", "waiting")


@pytest.mark.parametrize("target", list(R))
def test_run_sources_match_the_table(target: RunState) -> None:
    assert run_sources(target) == tuple(sorted(a.value for a, b in RUN_ALLOWED if b is target))


def test_terminal_states() -> None:
    assert {s for s in R if s.terminal} == RUN_TERMINAL == {R.SUCCEEDED, R.FAILED, R.CANCELLED}
    assert {s for s in S if s.terminal} == STEP_TERMINAL
    assert {S.SUCCEEDED, S.FAILED, S.CANCELLED, S.SKIPPED} == STEP_TERMINAL
    # Nothing leaves succeeded; the other terminal states only go back (a retried run).
    for target in R:
        with pytest.raises(InvalidTransitionError):
            run_transition("succeeded", target)
    for target in S:
        with pytest.raises(InvalidTransitionError):
            step_transition("succeeded", target)
    for state in STEP_TERMINAL - {S.SUCCEEDED}:
        assert step_transition(state.value, S.PENDING) is S.PENDING


def test_other_state_enums() -> None:
    assert [s.value for s in AttemptState] == [
        "running",
        "succeeded",
        "failed",
        "cancelled",
        "lost",
    ]
    assert [s.value for s in AgentState] == ["online", "draining", "offline", "lost"]
    assert RunState("queued") == "queued"
