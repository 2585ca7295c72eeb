"""A validated spec compiled for execution: nodes with their edges, rules and policies resolved.

Versions are immutable, so a plan is built once per version and reused for every run of it.
The decisions the engine takes when an upstream step finishes are pure functions here.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from quantum_orchestrator.domain.node_types import NodeType
from quantum_orchestrator.domain.spec import RetryPolicy, WorkflowSpec
from quantum_orchestrator.domain.templates import has_template, referenced_nodes

# The built-in attempt limit (docs/workflow-spec.md, "Retries"); the engine's setting
# ``default_max_attempts`` has the same default and is what specs are resolved with.
DEFAULT_MAX_ATTEMPTS = 3
_RETRY_FIELDS = ("max_attempts", "initial_interval", "backoff", "max_interval")


@dataclass(frozen=True, slots=True, kw_only=True)
class Retry:
    """A resolved retry policy (every field set)."""

    max_attempts: int
    initial_interval: float = 1.0
    backoff: float = 2.0
    max_interval: float = 60.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before the attempt after ``attempt``: full jitter over the cap."""
        try:
            growth = self.initial_interval * self.backoff ** max(attempt - 1, 0)
        except OverflowError:  # a float power past 1e308: the cap is max_interval anyway
            growth = math.inf if self.initial_interval > 0 else 0.0
        cap = min(self.max_interval, growth)
        return (rng or _RNG).uniform(0, cap)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored on a step."""
        return {
            "max_attempts": self.max_attempts,
            "initial_interval": self.initial_interval,
            "backoff": self.backoff,
            "max_interval": self.max_interval,
        }

    @classmethod
    def resolve(cls, *policies: RetryPolicy | None, default_max_attempts: int) -> Retry:
        """Merge policies, the first one that sets a field winning."""
        values: dict[str, Any] = {"max_attempts": default_max_attempts}
        for policy in reversed([p for p in policies if p is not None]):
            values.update(policy.model_dump(exclude_none=True))
        return cls(**values)

    @classmethod
    def from_dict(cls, data: Any, *, default_max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> Retry:
        """The inverse of ``to_dict``; never fails (see ``parse_stored``)."""
        return cls.parse_stored(data, default_max_attempts=default_max_attempts)[0]

    @classmethod
    def parse_stored(
        cls, data: Any, *, default_max_attempts: int = DEFAULT_MAX_ATTEMPTS
    ) -> tuple[Retry, tuple[str, ...]]:
        """Read a policy stored on a step, tolerantly: the policy and what was wrong with it.

        A stored policy is normally what ``to_dict`` wrote after the spec was validated, but a
        row written around that validation (a seed script, a hand-made fix) may hold anything.
        Reading it must not fail: it happens while a step's attempt ends, inside a transaction
        shared with other steps, so one bad row would roll back (and so block) all of them.
        Each missing or invalid field takes its documented default instead, field by field as
        policies are resolved; the problems say which, for the caller to report.
        """
        if not isinstance(data, Mapping):
            return cls(max_attempts=default_max_attempts), (
                f"the retry policy is {type(data).__name__}, not an object; "
                "the default policy applies",
            )
        values: dict[str, Any] = {"max_attempts": default_max_attempts}
        problems: list[str] = []
        for key in _RETRY_FIELDS:
            if data.get(key) is None:
                problems.append(f"{key} is missing; the default applies")
                continue
            try:
                # Strict: a string, a boolean or 3.0 attempts is a broken row, not a value.
                checked = RetryPolicy.model_validate({key: data[key]}, strict=True)
            except ValidationError as exc:
                reason = exc.errors()[0]["msg"]
                shown = repr(data[key])
                shown = shown if len(shown) <= 80 else shown[:77] + "..."
                problems.append(f"{key} = {shown} is invalid ({reason}); the default applies")
                continue
            values[key] = getattr(checked, key)
        problems.extend(
            f"{key} is not a retry setting; ignored" for key in data if key not in _RETRY_FIELDS
        )
        return cls(**values), tuple(problems)


_RNG = random.SystemRandom()


def retry_delay(backoff: float, retry_after: Any = None) -> float:
    """The wait before the next attempt: the policy's ``backoff``, or longer if the failing
    service asked for more with ``Retry-After`` (``retry_after`` seconds; anything not a
    finite number >= 0 is ignored)."""
    if isinstance(retry_after, bool) or not isinstance(retry_after, int | float):
        return backoff
    if not math.isfinite(retry_after) or retry_after < 0:
        return backoff
    return max(backoff, float(retry_after))


class Readiness(StrEnum):
    """What a node's trigger rule says, given how its upstream steps ended."""

    WAIT = "wait"
    RUN = "run"
    SKIP = "skip"


def decide(rule: str, *, total: int, succeeded: int, failed: int, skipped: int) -> Readiness:
    """Apply a trigger rule to the counts of upstream outcomes.

    ``skipped`` counts skipped or cancelled upstream steps and connections not taken (a false
    ``when`` or an unselected branch).
    """
    done = succeeded + failed + skipped
    if total == 0:
        return Readiness.RUN
    if rule == "all_done":
        return Readiness.RUN if done >= total else Readiness.WAIT
    if rule == "one_success":
        if succeeded:
            return Readiness.RUN
        return Readiness.SKIP if done >= total else Readiness.WAIT
    if rule == "none_failed":
        if failed:
            return Readiness.SKIP
        if done >= total:
            return Readiness.RUN if succeeded else Readiness.SKIP
        return Readiness.WAIT
    # all_success
    if failed or skipped:
        return Readiness.SKIP
    return Readiness.RUN if succeeded >= total else Readiness.WAIT


@dataclass(frozen=True, slots=True)
class Edge:
    """A connection; ``when`` is a template condition or a branch label."""

    source: str
    target: str
    when: str | None

    @property
    def is_label(self) -> bool:
        """True when ``when`` names a case of a ``core.branch`` node."""
        return self.when is not None and not has_template(self.when)


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanNode:
    """One node, ready to be turned into steps."""

    id: str
    type: str
    node_type: NodeType | None
    params: dict[str, Any]
    trigger_rule: str
    retry: Retry
    timeout: float
    pool: str | None
    upstream: tuple[str, ...]
    downstream: tuple[Edge, ...]
    refs: frozenset[str]

    @property
    def executor(self) -> str:
        """``engine`` for timers and orchestration, ``agent`` for everything else."""
        return self.node_type.executor if self.node_type else "agent"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """A whole spec compiled for execution."""

    spec: WorkflowSpec
    nodes: dict[str, PlanNode]
    order: tuple[str, ...]

    @property
    def roots(self) -> list[PlanNode]:
        """Nodes without upstream connections: they start when the run starts."""
        return [self.nodes[node_id] for node_id in self.order if not self.nodes[node_id].upstream]

    @classmethod
    def compile(
        cls,
        spec: WorkflowSpec,
        *,
        catalog: Mapping[str, NodeType],
        default_timeout: float,
        default_max_attempts: int,
    ) -> Plan:
        """Resolve defaults, rules and edges of a validated spec."""
        upstream: dict[str, list[str]] = {node.id: [] for node in spec.nodes}
        downstream: dict[str, list[Edge]] = {node.id: [] for node in spec.nodes}
        for connection in spec.connections:
            upstream[connection.target].append(connection.source)
            downstream[connection.source].append(
                Edge(connection.source, connection.target, connection.when)
            )
        nodes: dict[str, PlanNode] = {}
        for node in spec.nodes:
            node_type = catalog.get(node.type)
            nodes[node.id] = PlanNode(
                id=node.id,
                type=node.type,
                node_type=node_type,
                params=dict(node.params),
                trigger_rule=node.trigger_rule
                or (node_type.default_trigger_rule if node_type else "all_success"),
                retry=Retry.resolve(
                    node.retry, spec.defaults.retry, default_max_attempts=default_max_attempts
                ),
                timeout=node.timeout or spec.defaults.timeout or default_timeout,
                pool=node.pool,
                upstream=tuple(upstream[node.id]),
                downstream=tuple(downstream[node.id]),
                refs=frozenset(referenced_nodes(node.params)),
            )
        return cls(spec=spec, nodes=nodes, order=tuple(node.id for node in spec.nodes))
