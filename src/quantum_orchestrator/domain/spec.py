"""The workflow spec: a graph of nodes and connections, with inputs, outputs and defaults.

The upstream format ``{name, nodes[{id, name, type, position}], connections[{from, to}]}`` is a
subset of this one and loads unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TriggerRule = Literal["all_success", "all_done", "one_success", "none_failed"]
TRIGGER_RULES: tuple[str, ...] = ("all_success", "all_done", "one_success", "none_failed")

ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_\-]{0,99}$"
TYPE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"


class RetryPolicy(BaseModel):
    """Exponential backoff with full jitter; unset fields fall back to defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int | None = Field(None, ge=1, le=100)
    initial_interval: float | None = Field(None, ge=0, le=86400)
    backoff: float | None = Field(None, ge=1, le=10)
    max_interval: float | None = Field(None, ge=0, le=86400)


class Position(BaseModel):
    """Where the builder draws a node; carried along, never interpreted by the engine."""

    model_config = ConfigDict(extra="allow")

    x: float = 0
    y: float = 0


class Node(BaseModel):
    """One node of the graph."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN)
    type: str = Field(pattern=TYPE_PATTERN, max_length=200)
    name: str | None = Field(None, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)
    retry: RetryPolicy | None = None
    timeout: float | None = Field(None, gt=0, le=86400)
    trigger_rule: TriggerRule | None = None
    pool: str | None = Field(None, pattern=NAME_PATTERN)
    position: Position | list[float] | None = None

    @field_validator("position", mode="before")
    @classmethod
    def _check_position(cls, value: Any) -> Any:
        # One clear message instead of one per member of the union.
        if value is None or isinstance(value, Position):
            return value
        if isinstance(value, list):
            if all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
                return value
            raise ValueError("a position is {x, y} or [x, y], with numbers")
        if isinstance(value, dict):
            try:
                return Position.model_validate(value)
            except ValidationError as exc:
                first = exc.errors(include_url=False)[0]
                field = ".".join(str(part) for part in first["loc"])
                raise ValueError(f"{field}: {first['msg']}") from None
        raise ValueError("a position is {x, y} or [x, y], with numbers")


class Connection(BaseModel):
    """An edge ``from`` → ``to``; ``when`` makes it conditional (a template or a branch label)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(alias="from", max_length=100)
    target: str = Field(alias="to", max_length=100)
    when: str | None = Field(None, max_length=10_000)


class Defaults(BaseModel):
    """Spec-wide defaults for nodes that do not say otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: RetryPolicy | None = None
    timeout: float | None = Field(None, gt=0, le=86400)


class WorkflowSpec(BaseModel):
    """A whole workflow: what is deployed, versioned and run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field("", max_length=10_000)
    inputs: dict[str, Any] = Field(default_factory=dict)
    nodes: list[Node] = Field(min_length=1, max_length=10_000)
    connections: list[Connection] = Field(default_factory=list, max_length=100_000)
    outputs: dict[str, Any] = Field(default_factory=dict)
    defaults: Defaults = Field(default_factory=Defaults)

    def to_document(self) -> dict[str, Any]:
        """The JSON document stored and returned by the API (connections keep ``from``/``to``)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)
