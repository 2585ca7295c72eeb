"""``generative.agent``: the pure parts of the tool-using agent loop.

The engine drives the loop (``engine/agent_loop.py``); here are the rules it follows: which
tools a step may offer and how they are described to the model, how the model's tool calls are
read and checked, what the conversation looks like, and the limits.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.domain.node_types import NodeType

AGENT = "generative.agent"
TURN_NODE_TYPE = "generative.llm_chat"
DEFAULT_MAX_ITERATIONS = 10
MAX_RESULT_CHARS = 20_000
# Params of the agent step passed to every model turn as they are.
TURN_PARAMS = ("base_url", "api_key", "model", "temperature", "timeout")


def tool_name(node_type: str) -> str:
    """The function name the model sees: OpenAI names allow no dots."""
    return node_type.replace(".", "__")


def render_tools(names: Any, catalog: Mapping[str, NodeType]) -> list[dict[str, Any]]:
    """The OpenAI ``tools`` list for the allowed node types; only types an agent runs."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise QOError("params.tools: must be a list of node type names", code="invalid_params")
    tools: list[dict[str, Any]] = []
    for name in dict.fromkeys(names):
        node_type = catalog.get(name)
        if node_type is None:
            raise QOError(f"params.tools: unknown node type {name!r}", code="invalid_params")
        if node_type.executor != "agent":
            raise QOError(
                f"params.tools: {name} is carried out by the engine and cannot be a tool",
                code="invalid_params",
            )
        tools.append(
            {
                "type": "function",
                "function": {
                    "name": tool_name(name),
                    "description": node_type.description,
                    "parameters": node_type.params_schema,
                },
            }
        )
    return tools


def first_messages(params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The conversation the first turn sees: the system message, then the prompt."""
    prompt = params.get("prompt")
    if not isinstance(prompt, str) or not prompt:
        raise QOError("params.prompt: the agent needs a prompt", code="invalid_params")
    messages: list[dict[str, Any]] = []
    if params.get("system"):
        messages.append({"role": "system", "content": str(params["system"])})
    messages.append({"role": "user", "content": prompt})
    return messages


@dataclass(frozen=True, kw_only=True)
class ToolCall:
    """One call the model asked for: the node type and arguments, or why it cannot run."""

    id: str
    name: str
    node_type: str | None
    arguments: Any
    problem: str | None


def read_tool_calls(raw: Any, allowed: Mapping[str, NodeType], *, turn: int) -> list[ToolCall]:
    """The model's tool calls, each checked against the allowed types and their schemas."""
    if not isinstance(raw, list):
        return []
    by_tool = {tool_name(name): node_type for name, node_type in allowed.items()}
    calls: list[ToolCall] = []
    for position, item in enumerate(raw):
        function = item.get("function") if isinstance(item, dict) else None
        function = function if isinstance(function, dict) else {}
        call_id = str((item or {}).get("id") or f"call_{turn}_{position}")
        name = str(function.get("name") or "")
        node_type = by_tool.get(name)
        problem: str | None = None
        arguments: Any = None
        if node_type is None:
            problem = f"the tool {name!r} is not allowed; use one of: {', '.join(sorted(by_tool))}"
        else:
            text = function.get("arguments")
            try:
                arguments = json.loads(text) if isinstance(text, str) else (text or {})
            except ValueError as exc:
                problem = f"the arguments are not valid JSON: {exc}"
            if problem is None:
                problem = _schema_problem(arguments, node_type.params_schema)
        calls.append(
            ToolCall(
                id=call_id,
                name=name,
                node_type=node_type.name if node_type else None,
                arguments=arguments,
                problem=problem,
            )
        )
    return calls


def _schema_problem(value: Any, schema: dict[str, Any]) -> str | None:
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return f"invalid arguments at {where}: {error.message}"


def tool_message(call_id: str, result: Any) -> dict[str, Any]:
    """The ``tool`` message answering one call (its output, or ``{"error": ...}``)."""
    text = json.dumps(result, ensure_ascii=False, default=str)
    if len(text) > MAX_RESULT_CHARS:
        text = text[:MAX_RESULT_CHARS] + "… (truncated)"
    return {"role": "tool", "tool_call_id": call_id, "content": text}


@dataclass(frozen=True, kw_only=True)
class Limits:
    """When the loop stops: model turns, total tokens, cost and wall time."""

    max_iterations: int = DEFAULT_MAX_ITERATIONS
    max_tokens: int | None = None
    max_cost: float | None = None
    max_seconds: float | None = None

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Limits:
        """The limits of a step's params (the schema has checked their types)."""
        return cls(
            max_iterations=int(params.get("max_iterations") or DEFAULT_MAX_ITERATIONS),
            max_tokens=params.get("max_tokens"),
            max_cost=params.get("max_cost"),
            max_seconds=params.get("max_seconds"),
        )

    def exceeded(self, *, tokens: int, cost: float, seconds: float) -> QOError | None:
        """The error of the first limit passed, if any (not retryable)."""
        if self.max_tokens is not None and tokens > self.max_tokens:
            return QOError(
                f"the agent used {tokens} tokens, more than max_tokens {self.max_tokens}",
                code="agent_token_limit",
            )
        if self.max_cost is not None and cost > self.max_cost:
            return QOError(
                f"the agent cost {cost:g}, more than max_cost {self.max_cost:g}",
                code="agent_cost_limit",
            )
        if self.max_seconds is not None and seconds > self.max_seconds:
            return QOError(
                f"the agent ran {seconds:.1f}s, more than max_seconds {self.max_seconds:g}",
                code="agent_time_limit",
            )
        return None

    def iteration_error(self, iterations: int) -> QOError | None:
        """The error when another model turn would pass ``max_iterations``."""
        if iterations < self.max_iterations:
            return None
        return QOError(
            f"the agent reached max_iterations ({self.max_iterations}) without answering",
            code="agent_iteration_limit",
        )
