"""Plans: trigger-rule decisions, retry policies with full jitter, and compiling a spec."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest

from quantum_orchestrator.domain.node_types import builtin_catalog
from quantum_orchestrator.domain.plan import Edge, Plan, Readiness, Retry, decide
from quantum_orchestrator.domain.spec import TRIGGER_RULES, RetryPolicy
from quantum_orchestrator.domain.validation import validate_spec

RUN, WAIT, SKIP = Readiness.RUN, Readiness.WAIT, Readiness.SKIP


def counts(limit: int = 6) -> Iterator[tuple[int, int, int, int]]:
    """Every (total, succeeded, failed, skipped) with done <= total <= limit."""
    for total in range(limit + 1):
        for succeeded, failed, skipped in itertools.product(range(total + 1), repeat=3):
            if succeeded + failed + skipped <= total:
                yield total, succeeded, failed, skipped


def oracle(rule: str, total: int, succeeded: int, failed: int, skipped: int) -> Readiness:
    """The rules as the documentation states them, written independently of decide()."""
    done = succeeded + failed + skipped == total
    if total == 0:
        return RUN
    if rule == "all_success":
        if failed > 0 or skipped > 0:
            return SKIP
        return RUN if done else WAIT
    if rule == "all_done":
        return RUN if done else WAIT
    if rule == "one_success":
        if succeeded > 0:
            return RUN
        return SKIP if done else WAIT
    assert rule == "none_failed"
    if failed > 0:
        return SKIP
    if not done:
        return WAIT
    return RUN if succeeded > 0 else SKIP


@pytest.mark.parametrize("rule", TRIGGER_RULES)
def test_decide_matches_the_rules_exhaustively(rule: str) -> None:
    checked = 0
    for total, succeeded, failed, skipped in counts():
        got = decide(rule, total=total, succeeded=succeeded, failed=failed, skipped=skipped)
        assert got == oracle(rule, total, succeeded, failed, skipped), (
            rule,
            total,
            succeeded,
            failed,
            skipped,
        )
        checked += 1
    assert checked > 200


@pytest.mark.parametrize("rule", TRIGGER_RULES)
def test_decide_never_waits_once_everything_is_done(rule: str) -> None:
    for total, succeeded, failed, skipped in counts():
        if succeeded + failed + skipped == total:
            assert decide(
                rule, total=total, succeeded=succeeded, failed=failed, skipped=skipped
            ) in (
                RUN,
                SKIP,
            )


@pytest.mark.parametrize("rule", TRIGGER_RULES)
def test_an_early_decision_is_final(rule: str) -> None:
    # Whatever the remaining upstream steps do, a RUN or SKIP taken early never changes.
    for total, succeeded, failed, skipped in counts(5):
        first = decide(rule, total=total, succeeded=succeeded, failed=failed, skipped=skipped)
        if first is WAIT:
            continue
        remaining = total - succeeded - failed - skipped
        for more_s, more_f in itertools.product(range(remaining + 1), repeat=2):
            if more_s + more_f > remaining:
                continue
            more_k = remaining - more_s - more_f
            final = decide(
                rule,
                total=total,
                succeeded=succeeded + more_s,
                failed=failed + more_f,
                skipped=skipped + more_k,
            )
            assert final is first, (rule, total, succeeded, failed, skipped, final)


@pytest.mark.parametrize(
    ("rule", "kwargs", "expected"),
    [
        ("all_success", {"total": 2, "succeeded": 2, "failed": 0, "skipped": 0}, RUN),
        ("all_success", {"total": 2, "succeeded": 1, "failed": 0, "skipped": 0}, WAIT),
        ("all_success", {"total": 2, "succeeded": 0, "failed": 0, "skipped": 1}, SKIP),
        ("all_done", {"total": 2, "succeeded": 0, "failed": 1, "skipped": 1}, RUN),
        ("one_success", {"total": 3, "succeeded": 1, "failed": 0, "skipped": 0}, RUN),
        ("one_success", {"total": 2, "succeeded": 0, "failed": 1, "skipped": 1}, SKIP),
        ("none_failed", {"total": 2, "succeeded": 1, "failed": 0, "skipped": 1}, RUN),
        ("none_failed", {"total": 2, "succeeded": 0, "failed": 0, "skipped": 2}, SKIP),
        ("none_failed", {"total": 3, "succeeded": 0, "failed": 1, "skipped": 0}, SKIP),
        ("none_failed", {"total": 0, "succeeded": 0, "failed": 0, "skipped": 0}, RUN),
    ],
)
def test_decide_examples(rule: str, kwargs: dict[str, int], expected: Readiness) -> None:
    assert decide(rule, **kwargs) is expected


# -- retry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "retry",
    [
        Retry(max_attempts=5),
        Retry(max_attempts=5, initial_interval=0.5, backoff=3, max_interval=20),
        Retry(max_attempts=5, initial_interval=0, backoff=10, max_interval=100),
        Retry(max_attempts=5, initial_interval=10, backoff=1, max_interval=5),
        Retry(max_attempts=100, initial_interval=86400, backoff=10, max_interval=86400),
    ],
)
def test_full_jitter_bounds(retry: Retry) -> None:
    rng = random.Random(1234)
    for attempt in range(1, 101):
        cap = min(retry.max_interval, retry.initial_interval * retry.backoff ** (attempt - 1))
        delays = [retry.delay(attempt, rng) for _ in range(50)]
        assert all(0 <= d <= cap for d in delays), (attempt, cap)
        if cap > 0:
            # Full jitter spreads over the whole range, not just near the cap.
            assert min(delays) < cap / 2 < max(delays)


def test_delay_is_reproducible_with_a_seeded_rng() -> None:
    retry = Retry(max_attempts=3, initial_interval=2, backoff=2, max_interval=60)
    first = [retry.delay(n, random.Random(7)) for n in range(1, 6)]
    again = [retry.delay(n, random.Random(7)) for n in range(1, 6)]
    assert first == again


def test_delay_without_rng_and_for_attempt_zero() -> None:
    retry = Retry(max_attempts=3, initial_interval=1, backoff=2, max_interval=60)
    assert 0 <= retry.delay(1) <= 1
    assert 0 <= retry.delay(0, random.Random(1)) <= 1


def test_delay_past_float_range_uses_the_max_interval() -> None:
    retry = Retry(max_attempts=3, initial_interval=1, backoff=10.0, max_interval=30)
    assert all(0 <= retry.delay(5000, random.Random(i)) <= 30 for i in range(20))
    zero = Retry(max_attempts=3, initial_interval=0, backoff=10.0, max_interval=30)
    assert zero.delay(5000, random.Random(0)) == 0


def test_resolve_precedence_node_then_spec_then_engine() -> None:
    node = RetryPolicy(max_attempts=7, backoff=3)
    spec = RetryPolicy(max_attempts=2, initial_interval=5, max_interval=9)
    assert Retry.resolve(node, spec, default_max_attempts=1) == Retry(
        max_attempts=7, initial_interval=5, backoff=3, max_interval=9
    )
    assert Retry.resolve(None, spec, default_max_attempts=1) == Retry(
        max_attempts=2, initial_interval=5, max_interval=9
    )
    assert Retry.resolve(node, None, default_max_attempts=4) == Retry(max_attempts=7, backoff=3)
    assert Retry.resolve(None, None, default_max_attempts=4) == Retry(max_attempts=4)
    assert Retry.resolve(RetryPolicy(backoff=2.5), default_max_attempts=3) == Retry(
        max_attempts=3, backoff=2.5
    )


def test_retry_dict_round_trip() -> None:
    retry = Retry(max_attempts=3, initial_interval=0.5, backoff=4, max_interval=8)
    assert retry.to_dict() == {
        "max_attempts": 3,
        "initial_interval": 0.5,
        "backoff": 4,
        "max_interval": 8,
    }
    assert Retry.from_dict(retry.to_dict()) == retry
    assert Retry.from_dict({"max_attempts": 2, "other": 1}) == Retry(max_attempts=2)


# -- compile --------------------------------------------------------------------------------

DOCUMENT: dict[str, Any] = {
    "name": "plan",
    "defaults": {"retry": {"max_attempts": 3, "backoff": 4}, "timeout": 45},
    "nodes": [
        {"id": "a", "type": "core.noop", "params": {"x": 1}},
        {
            "id": "b",
            "type": "core.branch",
            "params": {"cases": [{"label": "yes", "condition": "{{ nodes.a.output }}"}]},
        },
        {
            "id": "c",
            "type": "core.delay",
            "params": {"seconds": 1},
            "timeout": 5,
            "retry": {"max_attempts": 9},
            "pool": "gpu",
        },
        {"id": "d", "type": "core.noop", "trigger_rule": "all_done"},
        {"id": "m", "type": "core.merge"},
        {"id": "u", "type": "vendor.custom", "params": {"v": "{{ nodes.a.output }}"}},
    ],
    "connections": [
        {"from": "a", "to": "b"},
        {"from": "b", "to": "c", "when": "yes"},
        {"from": "b", "to": "d", "when": "{{ output.selected }}"},
        {"from": "c", "to": "m"},
        {"from": "d", "to": "m"},
        {"from": "a", "to": "u"},
    ],
}


def compiled(**overrides: Any) -> Plan:
    spec = validate_spec(DOCUMENT, allow_unknown_types=True)
    options: dict[str, Any] = {"default_timeout": 300.0, "default_max_attempts": 1}
    options.update(overrides)
    return Plan.compile(spec, catalog=builtin_catalog(), **options)


def test_compile_edges() -> None:
    plan = compiled()
    assert plan.order == ("a", "b", "c", "d", "m", "u")
    assert [node.id for node in plan.roots] == ["a"]
    assert plan.nodes["m"].upstream == ("c", "d")
    assert plan.nodes["a"].downstream == (Edge("a", "b", None), Edge("a", "u", None))
    c_edge, d_edge = plan.nodes["b"].downstream
    assert (c_edge.target, c_edge.is_label) == ("c", True)
    assert (d_edge.target, d_edge.is_label) == ("d", False)
    assert not Edge("a", "b", None).is_label
    assert plan.nodes["m"].downstream == ()


def test_compile_trigger_rules() -> None:
    plan = compiled()
    assert plan.nodes["m"].trigger_rule == "none_failed"  # core.merge's default
    assert plan.nodes["d"].trigger_rule == "all_done"  # set on the node
    assert plan.nodes["a"].trigger_rule == "all_success"
    assert plan.nodes["u"].trigger_rule == "all_success"  # unknown type


def test_compile_policies() -> None:
    plan = compiled()
    assert plan.nodes["a"].timeout == 45  # spec default
    assert plan.nodes["c"].timeout == 5  # node
    assert plan.nodes["a"].retry == Retry(max_attempts=3, backoff=4)
    assert plan.nodes["c"].retry == Retry(max_attempts=9, backoff=4)
    assert plan.nodes["c"].pool == "gpu"
    assert plan.nodes["a"].pool is None


def test_compile_engine_defaults() -> None:
    document = {"name": "p", "nodes": [{"id": "a", "type": "core.noop"}]}
    plan = Plan.compile(
        validate_spec(document),
        catalog=builtin_catalog(),
        default_timeout=12.0,
        default_max_attempts=6,
    )
    assert plan.nodes["a"].timeout == 12.0
    assert plan.nodes["a"].retry == Retry(max_attempts=6)


def test_compile_types_refs_and_executor() -> None:
    plan = compiled()
    assert plan.nodes["c"].executor == "engine"
    assert plan.nodes["a"].executor == "agent"
    assert plan.nodes["u"].node_type is None
    assert plan.nodes["u"].executor == "agent"
    assert plan.nodes["u"].refs == frozenset({"a"})
    assert plan.nodes["b"].refs == frozenset({"a"})
    assert plan.nodes["a"].refs == frozenset()
    assert plan.nodes["a"].params == {"x": 1}
    assert plan.nodes["a"].params is not plan.spec.nodes[0].params
