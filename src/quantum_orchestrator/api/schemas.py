"""Request bodies (strict: unknown fields are refused) and the JSON form of answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from quantum_orchestrator.domain.agent_protocol import MAX_RETRY_AFTER
from quantum_orchestrator.domain.secrets import NAME_PATTERN, as_templates
from quantum_orchestrator.domain.step_logs import MAX_LINES_PER_ATTEMPT, MAX_MESSAGE_CHARS, LogLevel

Row = dict[str, Any]
MAX_INT32 = 2_147_483_647


class Strict(BaseModel):
    """A request body: unknown fields are an error."""

    model_config = ConfigDict(extra="forbid")


class SpecBody(Strict):
    """``{"spec": {...}}``."""

    spec: dict[str, Any] = Field(description="The workflow spec (see docs/workflow-spec.md).")


class RunBody(Strict):
    """Start a run."""

    inputs: dict[str, Any] = Field(default_factory=dict)
    # Bounded like every stored integer: the databases hold 32/64-bit numbers, not any int.
    version: int | None = Field(
        None, ge=1, le=MAX_INT32, description="A version number; default the latest."
    )


class CapabilityBody(Strict):
    """A capability an agent offers."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=200)
    category: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)
    description: str = Field("", max_length=10_000)
    params_schema: dict[str, Any] | None = None


class RegistrationBody(Strict):
    """``POST /api/v1/agent/register``."""

    name: str = Field(min_length=1, max_length=200)
    pool: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
    capabilities: list[CapabilityBody] = Field(min_length=1, max_length=1000)
    concurrency: int = Field(ge=1, le=10_000)
    version: str = Field(max_length=50)
    host: str = Field(max_length=255)
    pid: int = Field(ge=0, le=MAX_INT32)


class HeartbeatBody(Strict):
    """``POST /api/v1/agent/{id}/heartbeat``."""

    running: list[str] = Field(default_factory=list, max_length=10_000)


class ClaimBody(Strict):
    """``POST /api/v1/agent/{id}/claim``."""

    max: int = Field(1, ge=1, le=1000)
    wait: float = Field(0, ge=0, le=25, description="Long-poll seconds (at most 25).")


class ErrorBody(Strict):
    """An attempt's error."""

    code: str = Field(max_length=100)
    message: str = Field(max_length=100_000)
    retryable: bool = False
    # Seconds the failing service asked to wait (its Retry-After): the least wait before a retry.
    retry_after: float | None = Field(default=None, ge=0, le=MAX_RETRY_AFTER, allow_inf_nan=False)


class LogLineBody(Strict):
    """One line a handler logged during an attempt."""

    at: AwareDatetime
    level: LogLevel
    # Agents clip lines to MAX_MESSAGE_CHARS; the slack lets a line's note of what was cut pass.
    message: str = Field(max_length=MAX_MESSAGE_CHARS + 100)


class ResultBody(Strict):
    """One finished attempt."""

    step_id: str = Field(max_length=64)
    attempt: int = Field(ge=1, le=MAX_INT32)
    status: Literal["succeeded", "failed"]
    output: Any = None
    error: ErrorBody | None = None
    # At most the limit, and the agent's line saying how many it dropped.
    logs: list[LogLineBody] | None = Field(default=None, max_length=MAX_LINES_PER_ATTEMPT + 1)


class ResultsBody(Strict):
    """``POST /api/v1/agent/{id}/results``."""

    results: list[ResultBody] = Field(max_length=1000)


class LogsBody(Strict):
    """``POST /api/v1/agent/{id}/logs``: lines an attempt the agent holds logged so far."""

    step_id: str = Field(max_length=64)
    attempt: int = Field(ge=1, le=MAX_INT32)
    lines: list[LogLineBody] = Field(min_length=1, max_length=MAX_LINES_PER_ATTEMPT + 1)


class ProgressBody(Strict):
    """``POST /api/v1/agent/{id}/progress``: partial output of an attempt the agent holds."""

    step_id: str = Field(max_length=64)
    attempt: int = Field(ge=1, le=MAX_INT32)
    data: dict[str, Any]


def log_line_out(row: dict[str, Any]) -> dict[str, Any]:
    """A step log line as the API answers it."""
    return {
        "id": row["id"],
        "attempt": row["attempt"],
        "at": _iso(row["at"]),
        "level": row["level"],
        "message": row["message"],
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _duration_ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() * 1000, 3)


def workflow_out(row: Row) -> Row:
    """A workflow as the API shows it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "description": row["description"],
        "spec": row["spec"],
        "latest_version": row["latest_version"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
    }


def workflow_summary(row: Row) -> Row:
    """A workflow in a listing (without its spec)."""
    data = workflow_out(row)
    data.pop("spec")
    data["nodes"] = len(row["spec"].get("nodes", []))
    return data


def version_out(row: Row) -> Row:
    """A deployed version."""
    return {
        "id": row["id"],
        "workflow_id": row["workflow_id"],
        "workflow_name": row.get("workflow_name"),
        "number": row["number"],
        "spec": row["spec"],
        "created_at": _iso(row["created_at"]),
    }


def run_out(row: Row) -> Row:
    """A run (with its steps when they were read)."""
    data = {
        "id": row["id"],
        "workflow_id": row["workflow_id"],
        "workflow_name": row["workflow_name"],
        "version": row["version"],
        "state": row["state"],
        "inputs": row["inputs"],
        "outputs": row["outputs"],
        "error": row["error"],
        "trigger": row["trigger"],
        "idempotency_key": row["idempotency_key"],
        "created_at": _iso(row["created_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "duration_ms": _duration_ms(row["created_at"], row["finished_at"]),
    }
    if "steps" in row:
        data["steps"] = [step_out(step) for step in row["steps"]]
    return data


def step_out(row: Row) -> Row:
    """A step with its attempts."""
    return {
        "id": row["id"],
        "node_id": row["node_id"],
        "node_type": row["node_type"],
        "parent_id": row["parent_id"],
        "map_index": row["map_index"],
        "state": row["state"],
        # Secrets are bound late: params hold markers, shown as the template they came from.
        "params": as_templates(row["params"]),
        "output": row["output"],
        "error": row["error"],
        "attempt_count": row["attempts"],
        "attempts": [
            {
                "number": attempt["number"],
                "state": attempt["state"],
                "agent_id": attempt["agent_id"],
                "started_at": _iso(attempt["started_at"]),
                "finished_at": _iso(attempt["finished_at"]),
                "duration_ms": _duration_ms(attempt["started_at"], attempt["finished_at"]),
                "error": attempt["error"],
            }
            for attempt in row.get("attempt_rows", [])
        ],
        "queued_at": _iso(row["queued_at"]),
        "started_at": _iso(row["started_at"]),
        "finished_at": _iso(row["finished_at"]),
        "duration_ms": _duration_ms(row["started_at"], row["finished_at"]),
    }


def agent_out(row: Row) -> Row:
    """An agent as the control board shows it."""
    return {
        "id": row["id"],
        "name": row["name"],
        "pool": row["pool"],
        "capabilities": row["capabilities"],
        "concurrency": row["concurrency"],
        "running": int(row.get("running") or 0),
        "steps_done": row["steps_done"],
        "version": row["version"],
        "host": row["host"],
        "pid": row["pid"],
        "state": row["state"],
        "builtin": bool(row["builtin"]),
        "registered_at": _iso(row["registered_at"]),
        "last_heartbeat_at": _iso(row["last_heartbeat_at"]),
    }


def event_out(row: Row) -> Row:
    """A timeline event."""
    return {
        "id": row["id"],
        "run_id": row["run_id"],
        "step_id": row["step_id"],
        "node_id": row["node_id"],
        "type": row["type"],
        "state": row["state"],
        "ts": _iso(row["ts"]),
        "data": row["data"],
    }


class SecretBody(Strict):
    """``POST /api/v1/secrets``."""

    name: str = Field(pattern=NAME_PATTERN, description="Upper case letters, digits and `_`.")
    value: str = Field(min_length=1, max_length=65_536)


class SecretValueBody(Strict):
    """``PUT /api/v1/secrets/{name}``."""

    value: str = Field(min_length=1, max_length=65_536)


def secret_out(row: Row) -> Row:
    """A secret's name and timestamps (never its value)."""
    return {
        "name": row["name"],
        "created_at": _iso(row["created_at"]),
        "updated_at": _iso(row["updated_at"]),
        "last_used_at": _iso(row["last_used_at"]),
    }
