"""Generate the built-in node type reference of ``docs/workflow-spec.md`` from the catalog.

Usage::

    python docs/gen_node_types.py           # print the generated section
    python docs/gen_node_types.py --write   # replace it inside docs/workflow-spec.md

The tables come from the JSON Schemas in ``quantum_orchestrator.domain.node_types``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from quantum_orchestrator.domain.node_types import BUILTIN_NODE_TYPES, NodeType

DOC = Path(__file__).with_name("workflow-spec.md")
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
    if extra:
        lines += ["", " ".join(extra)]
    return [*lines, ""]


def generate() -> str:
    """The generated section of ``docs/workflow-spec.md``, markers included."""
    lines = [BEGIN, ""]
    for node_type in BUILTIN_NODE_TYPES:
        lines += _section(node_type)
    lines.append(END)
    return "\n".join(lines) + "\n"


def current_section(text: str) -> str:
    """The generated section as it stands in ``text`` (empty when the markers are missing)."""
    start = text.find(BEGIN)
    stop = text.find(END, start)
    if start < 0 or stop < 0:
        return ""
    return text[start : stop + len(END)] + "\n"


def write() -> None:
    """Replace the generated section of the document in place."""
    text = DOC.read_text(encoding="utf-8")
    old = current_section(text)
    if not old:
        raise SystemExit(f"{DOC}: the {BEGIN!r} / {END!r} markers are missing")
    DOC.write_text(text.replace(old, generate()), encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        sys.stdout.write(generate())
