"""The catalog of node types: what each one is, its params' JSON Schema and who executes it.

Built-in types are defined here as data. The handlers that do the work live in ``agents/nodes``;
``core.delay`` and ``core.map`` are carried out by the engine itself (a durable timer and an
orchestration of child steps), everything else runs on an agent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Executor = Literal["engine", "agent"]
CATEGORIES = ("core", "specialized", "ml", "generative")


@dataclass(frozen=True, kw_only=True)
class NodeType:
    """One node type (capability) as the catalog, validation and the builder see it."""

    name: str
    category: str
    description: str
    params_schema: dict[str, Any] = field(default_factory=lambda: {"type": "object"})
    executor: Executor = "agent"
    # Params left unrendered when the step is queued (``core.map`` renders its inner node's
    # params once per item, with ``item`` and ``index`` in scope).
    raw_params: frozenset[str] = frozenset()
    default_trigger_rule: str = "all_success"
    # ``core.merge`` receives its upstream outputs as the ``upstream`` param.
    receives_upstream: bool = False
    builtin: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``GET /api/v1/node-types``."""
        return {
            "type": self.name,
            "category": self.category,
            "description": self.description,
            "params_schema": self.params_schema,
            "executor": self.executor,
            "default_trigger_rule": self.default_trigger_rule,
            "builtin": self.builtin,
        }


_RETRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_attempts": {"type": "integer", "minimum": 1, "maximum": 100},
        "initial_interval": {"type": "number", "minimum": 0, "maximum": 86400},
        "backoff": {"type": "number", "minimum": 1, "maximum": 10},
        "max_interval": {"type": "number", "minimum": 0, "maximum": 86400},
    },
}

BUILTIN_NODE_TYPES: tuple[NodeType, ...] = (
    NodeType(
        name="core.noop",
        category="core",
        description="Does nothing and succeeds; its output is its params (or null). Useful as a "
        "start, a join point or a placeholder.",
        params_schema={"type": "object"},
    ),
    NodeType(
        name="core.delay",
        category="core",
        description="Waits a number of seconds. The timer lives in the database, so a delay "
        "survives a restart of the server.",
        executor="engine",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["seconds"],
            "properties": {
                "seconds": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": 2_592_000,
                    "description": "How long to wait, at most 30 days.",
                }
            },
        },
    ),
    NodeType(
        name="core.branch",
        category="core",
        description="Chooses which outgoing connections are taken. Each case has a label and a "
        "condition; connections from this node whose `when` is a label are taken only when that "
        "case is selected. Output: `{selected: [labels]}`.",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["cases"],
            "properties": {
                "cases": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["label", "condition"],
                        "properties": {
                            "label": {"type": "string", "minLength": 1, "maxLength": 100},
                            "condition": {
                                "description": "A template; the case is selected when it "
                                "renders to a true value."
                            },
                        },
                    },
                },
                "default": {
                    "type": "string",
                    "description": "The label selected when no case matches.",
                },
                "mode": {
                    "enum": ["first", "all"],
                    "default": "first",
                    "description": "Select the first matching case, or every matching case.",
                },
            },
        },
    ),
    NodeType(
        name="core.map",
        category="core",
        description="Runs one node once per item of a list, at most `concurrency` at a time. "
        "In the inner node's params, `item` and `index` name the current item. Output: the list "
        "of the inner outputs, in the order of the items.",
        executor="engine",
        raw_params=frozenset({"node"}),
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["items", "node"],
            "properties": {
                "items": {"type": "array", "maxItems": 10_000},
                "concurrency": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 4},
                "node": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["type"],
                    "properties": {
                        "type": {"type": "string"},
                        "params": {"type": "object"},
                        "retry": _RETRY_SCHEMA,
                        "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400},
                    },
                },
            },
        },
    ),
    NodeType(
        name="core.merge",
        category="core",
        description="Joins branches: waits for its upstream nodes (none may have failed; skipped "
        "ones are left out) and combines their outputs: `object` (by node id, the default), "
        "`list` (in connection order) or `deep` (dictionaries merged recursively).",
        default_trigger_rule="none_failed",
        receives_upstream=True,
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "properties": {"mode": {"enum": ["object", "list", "deep"], "default": "object"}},
        },
    ),
    NodeType(
        name="specialized.transform",
        category="specialized",
        description="Builds a JSON value from a template: `value` is rendered over inputs and "
        "node outputs, and becomes the output.",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["value"],
            "properties": {"value": {"description": "Any JSON value; strings are templates."}},
        },
    ),
    NodeType(
        name="specialized.http_request",
        category="specialized",
        description="Makes an HTTP request. A non-2xx answer is an error; 5xx, 429 and network "
        "errors are retryable. Output: `{status, headers, body}` (body parsed when JSON).",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["url"],
            "properties": {
                "method": {
                    "enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                    "default": "GET",
                },
                "url": {"type": "string", "minLength": 1, "maxLength": 8192},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "query": {
                    "type": "object",
                    "additionalProperties": {"type": ["string", "number", "boolean"]},
                },
                "json": {"description": "A JSON body."},
                "body": {"type": "string", "description": "A raw text body."},
                "timeout": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 3600,
                    "default": 30,
                },
            },
            "not": {"required": ["json", "body"]},
        },
    ),
)

RETRY_SCHEMA = _RETRY_SCHEMA


def builtin_catalog() -> dict[str, NodeType]:
    """The built-in node types by name."""
    return {node_type.name: node_type for node_type in BUILTIN_NODE_TYPES}


def capability_node_type(
    *,
    name: str,
    category: str,
    description: str = "",
    params_schema: Mapping[str, Any] | None = None,
) -> NodeType:
    """A node type offered by a registered agent rather than built in."""
    return NodeType(
        name=name,
        category=category,
        description=description,
        params_schema=dict(params_schema or {"type": "object"}),
        builtin=False,
    )
