"""Prometheus metrics, in a registry of the app's own (several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

_DURATION_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)


class Metrics:
    """The platform's metrics; gauges of database state are refreshed when scraped."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_duration = Histogram(
            "qo_http_request_duration_seconds",
            "HTTP request duration by route template.",
            ["method", "route", "status"],
            registry=self.registry,
            buckets=_DURATION_BUCKETS,
        )
        self.runs = Gauge("qo_runs", "Runs by state.", ["state"], registry=self.registry)
        self.steps = Gauge("qo_steps", "Steps by state.", ["state"], registry=self.registry)
        self.queue_depth = Gauge(
            "qo_queue_depth", "Steps queued and claimable now.", registry=self.registry
        )
        self.agents = Gauge("qo_agents", "Agents by state.", ["state"], registry=self.registry)
        self.step_duration = Histogram(
            "qo_step_duration_seconds",
            "Duration of finished steps by node type and outcome.",
            ["node_type", "state"],
            registry=self.registry,
            buckets=_DURATION_BUCKETS,
        )
        self.steps_finished = Counter(
            "qo_steps_finished",
            "Steps finished by node type and outcome.",
            ["node_type", "state"],
            registry=self.registry,
        )

    def step_finished(self, node_type: str, state: str, seconds: float) -> None:
        """Observe one finished step (the engine calls this after commit)."""
        self.step_duration.labels(node_type, state).observe(max(seconds, 0.0))
        self.steps_finished.labels(node_type, state).inc()

    def set_state_counts(
        self,
        *,
        runs: dict[str, int],
        steps: dict[str, int],
        agents: dict[str, int],
        queue_depth: int,
    ) -> None:
        """Refresh the gauges from counts read in the database."""
        for gauge, counts in ((self.runs, runs), (self.steps, steps), (self.agents, agents)):
            gauge.clear()
            for state, count in counts.items():
                gauge.labels(state).set(count)
        self.queue_depth.set(queue_depth)

    def render(self) -> bytes:
        """The exposition text."""
        return generate_latest(self.registry)
