"""The agent protocol's messages, shared by the server (engine) and the agent runtime.

The protocol is plain HTTP + JSON under ``/api/v1/agent/...``; in-process agents speak the same
messages without HTTP. These typed dictionaries are the JSON bodies.
"""

from __future__ import annotations

from typing import Any, Literal, NotRequired

from typing_extensions import TypedDict

from quantum_orchestrator.domain.step_logs import LogLine


class CapabilityInfo(TypedDict):
    """A node type an agent offers."""

    name: str
    category: str
    description: NotRequired[str]
    params_schema: NotRequired[dict[str, Any]]


class Registration(TypedDict):
    """``POST /api/v1/agent/register``: an agent introduces itself."""

    name: str
    pool: str
    capabilities: list[CapabilityInfo]
    concurrency: int
    version: str
    host: str
    pid: int


class RegistrationAnswer(TypedDict):
    """The server's answer to a registration: the agent's id and the timings to keep."""

    agent_id: str
    heartbeat_interval: float
    lease_seconds: float
    max_output_bytes: NotRequired[int]


class HeartbeatAnswer(TypedDict):
    """The answer to a heartbeat: the agent's state and the steps it must stop."""

    state: str
    cancel: list[str]


class Task(TypedDict):
    """One claimed attempt of a step, handed to an agent.

    ``http_allow``: the internal networks (CIDRs) the step's workspace lets HTTP requests reach
    (SSRF allow-list), on top of the agent's own. ``redact``: the secret values bound into
    ``params``, which the agent must keep out of its logs and error messages. Both may be
    absent (an older server): empty then.
    """

    step_id: str
    run_id: str
    node_id: str
    node_type: str
    attempt: int
    params: Any
    timeout: float
    idempotency_key: str
    lease_expires_at: str
    http_allow: NotRequired[list[str]]
    redact: NotRequired[list[str]]


# The longest ``retry_after`` a failed result may ask for (seconds); longer hints are cut to it.
MAX_RETRY_AFTER = 86_400.0


class ErrorInfo(TypedDict):
    """An error as it travels: code, message and whether trying again may help.

    ``retry_after`` (seconds) is the least wait the failing service asked for (its
    ``Retry-After``); the engine waits at least that long before the next attempt.
    """

    code: str
    message: str
    retryable: bool
    retry_after: NotRequired[float]


class Result(TypedDict):
    """The outcome of one attempt, reported by the agent that ran it."""

    step_id: str
    attempt: int
    status: Literal["succeeded", "failed"]
    output: NotRequired[Any]
    error: NotRequired[ErrorInfo]
    # What the handler logged at INFO and above, oldest first.
    logs: NotRequired[list[LogLine]]


class ResultsAnswer(TypedDict):
    """Which results were applied and which were refused (stale lease, cancelled run...)."""

    accepted: list[str]
    rejected: list[str]
