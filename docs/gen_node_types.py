"""Generate the node type reference from the catalog: ``docs/node-types.md`` (every built-in
type with its params) and the summary table inside ``docs/workflow-spec.md``.

Usage::

    python docs/gen_node_types.py           # print both
    python docs/gen_node_types.py --write   # rewrite docs/node-types.md, and the section

The tables come from the JSON Schemas in ``quantum_orchestrator.domain.node_types``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from quantum_orchestrator.domain.node_types import BUILTIN_NODE_TYPES, CATEGORIES, NodeType

DOC = Path(__file__).with_name("workflow-spec.md")
REFERENCE = Path(__file__).with_name("node-types.md")
BEGIN = "<!-- BEGIN GENERATED: python docs/gen_node_types.py --write -->"
END = "<!-- END GENERATED -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _type_of(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return "one of " + ", ".join(f"`{json.dumps(v)}`" for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    values = schema.get("additionalProperties")
    if kind == "object" and isinstance(values, dict) and "type" in values:
        return f"object ({_type_of(values)} values)"
    if kind == "array" and isinstance(schema.get("items"), dict):
        inner = schema["items"].get("type")
        return f"array of {inner}s" if isinstance(inner, str) else "array"
    return str(kind) if kind else "any JSON"


def _limits(schema: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, label in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
    ):
        if key in schema:
            parts.append(f"{label} {schema[key]:,}".replace(",", " "))
    return ", ".join(parts)


def _rows(schema: dict[str, Any], prefix: str = "") -> list[str]:
    required = set(schema.get("required", []))
    rows: list[str] = []
    for name, prop in schema.get("properties", {}).items():
        default = f"`{json.dumps(prop['default'])}`" if "default" in prop else ""
        notes = [text for text in (_limits(prop), prop.get("description", "")) if text]
        rows.append(
            f"| `{prefix}{name}` | {_type_of(prop)} | {'yes' if name in required else ''} "
            f"| {default} | {_cell('. '.join(notes))} |"
        )
        if prop.get("type") == "object" and "properties" in prop:
            rows += _rows(prop, prefix=f"{prefix}{name}.")
        items = prop.get("items")
        if isinstance(items, dict) and "properties" in items:
            rows += _rows(items, prefix=f"{prefix}{name}[].")
    return rows


def _section(node_type: NodeType) -> list[str]:
    runs_on = "the engine" if node_type.executor == "engine" else "an agent"
    lines = [
        f"### `{node_type.name}`",
        "",
        node_type.description,
        "",
        f"Runs on {runs_on}; default trigger rule `{node_type.default_trigger_rule}`.",
        "",
    ]
    rows = _rows(node_type.params_schema)
    if rows:
        lines += [
            "| param | type | required | default | notes |",
            "|---|---|---|---|---|",
            *rows,
        ]
    else:
        lines.append("Params: any JSON object.")
    extra = []
    if node_type.params_schema.get("additionalProperties") is False:
        extra.append("Other params are refused.")
    if "not" in node_type.params_schema:
        both = node_type.params_schema["not"].get("required", [])
        extra.append("Give at most one of " + " and ".join(f"`{p}`" for p in both) + ".")
    for rule in node_type.params_schema.get("allOf", []):
        condition = rule.get("if", {}).get("properties", {})
        needed = rule.get("then", {}).get("required", [])
        if len(condition) == 1 and needed:
            ((param, match),) = condition.items()
            extra.append(
                f"With `{param}: {match.get('const')}`, also required: "
                + ", ".join(f"`{p}`" for p in needed)
                + "."
            )
    if extra:
        lines += ["", " ".join(extra)]
    return [*lines, ""]


def _anchor(name: str) -> str:
    # GitHub's heading anchors: lower case, punctuation other than - and _ dropped.
    return "".join(c for c in name.lower() if c.isalnum() or c in "-_")


def _summary(description: str) -> str:
    first = description.split(". ", 1)[0].rstrip(".")
    return first + "."


def generate() -> str:
    """The generated section of ``docs/workflow-spec.md``, markers included."""
    lines = [
        BEGIN,
        "",
        "Every built-in node type, with all its params, is described in "
        "[node-types.md](node-types.md).",
        "",
        "| type | runs on | what it does |",
        "|---|---|---|",
    ]
    for node_type in BUILTIN_NODE_TYPES:
        runs_on = "engine" if node_type.executor == "engine" else "agent"
        lines.append(
            f"| [`{node_type.name}`](node-types.md#{_anchor(node_type.name)}) | {runs_on} "
            f"| {_cell(_summary(node_type.description))} |"
        )
    lines += ["", END]
    return "\n".join(lines) + "\n"


_CATEGORY_TITLES = {
    "core": "Core: flow control",
    "specialized": "Specialized: data and integrations",
    "ml": "ML: models over HTTP",
    "generative": "Generative: language models",
}

_PACKS = """## Node packs (third-party node types)

A separate Python distribution can add node types. It declares an entry point in the group
`quantum_orchestrator.node_types` naming a `NodePack` (or a function without arguments that
returns one):

```toml
[project.entry-points."quantum_orchestrator.node_types"]
acme = "acme_nodes:pack"
```

```python
from quantum_orchestrator.domain.node_packs import NodePack
from quantum_orchestrator.domain.node_types import NodeType


async def resize(params, ctx):  # the signature of every capability handler
    return {"width": params["width"] // 2}


pack = NodePack(
    name="acme-nodes",
    node_types=(
        NodeType(
            name="acme.resize",
            category="acme",
            description="Halves a width.",
            params_schema={
                "type": "object",
                "required": ["width"],
                "properties": {"width": {"type": "integer"}},
            },
        ),
    ),
    handlers={"acme.resize": resize},
)
```

Install the package beside the platform and restart: the server loads the installed packs when
it starts (their types appear in `GET /api/v1/node-types` and in the builder, and specs using
them are validated against their schemas), and agents that serve the built-in node types (the
agents of `qo up`, and `qo agent` started without modules of its own) serve them too. The rules:
a type's name is `category.name` in lower case, its category is the name's first part, it must
not redefine a built-in type or another pack's type, its params schema is an object schema, it
runs on agents and has a handler. A pack that fails to import or breaks a rule is left out and
logged as an error (`node pack '…' was not loaded: …`); the process goes on without it.
A complete example lives in `examples/node_pack/`.
"""


def generate_reference() -> str:
    """The whole of ``docs/node-types.md``."""
    lines = [
        "# Node types",
        "",
        "<!-- Generated by `python docs/gen_node_types.py --write` from the JSON Schemas in "
        "`src/quantum_orchestrator/domain/node_types.py`: do not edit by hand. -->",
        "",
        "A node's `type` names what it does; its `params` are checked against the type's JSON "
        "Schema when a workflow is saved (a param that is a template such as "
        "`{{ inputs.x }}` is checked leniently: its value is known only when the step runs). "
        "The same schemas are served by "
        "`GET /api/v1/node-types`. Errors carry a `code` and say whether they are `retryable`.",
        "",
    ]
    categories = [c for c in CATEGORIES if any(t.category == c for t in BUILTIN_NODE_TYPES)]
    categories += sorted({t.category for t in BUILTIN_NODE_TYPES} - set(categories))
    for category in categories:
        lines += [f"## {_CATEGORY_TITLES.get(category, category)}", ""]
        for node_type in BUILTIN_NODE_TYPES:
            if node_type.category == category:
                lines += _section(node_type)
    lines.append(_PACKS.rstrip("\n"))
    return "\n".join(lines) + "\n"


def current_section(text: str) -> str:
    """The generated section as it stands in ``text`` (empty when the markers are missing)."""
    start = text.find(BEGIN)
    stop = text.find(END, start)
    if start < 0 or stop < 0:
        return ""
    return text[start : stop + len(END)] + "\n"


def write() -> None:
    """Replace the generated section of ``workflow-spec.md`` and rewrite ``node-types.md``."""
    text = DOC.read_text(encoding="utf-8")
    old = current_section(text)
    if not old:
        raise SystemExit(f"{DOC}: the {BEGIN!r} / {END!r} markers are missing")
    DOC.write_text(text.replace(old, generate()), encoding="utf-8")
    REFERENCE.write_text(generate_reference(), encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        sys.stdout.write(generate_reference() + "\n" + generate())
