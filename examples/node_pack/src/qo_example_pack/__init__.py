"""An example node pack: two small text node types in the ``example`` category."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from typing import Any

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.domain.errors import StepError
from quantum_orchestrator.domain.node_packs import NodePack
from quantum_orchestrator.domain.node_types import NodeType

__all__ = ["pack"]


async def slugify(params: dict[str, Any], ctx: StepContext) -> dict[str, str]:
    """``example.slugify``: ``{slug}``, ASCII words of ``text`` joined by ``separator``."""
    text = params.get("text")
    if not isinstance(text, str):
        raise StepError("example.slugify needs text", code="invalid_params")
    separator = str(params.get("separator", "-"))
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return {"slug": separator.join(words)}


async def word_count(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    """``example.word_count``: ``{words, top}``, the count and the ``top`` commonest words."""
    text = params.get("text")
    if not isinstance(text, str):
        raise StepError("example.word_count needs text", code="invalid_params")
    words = re.findall(r"\w+", text.lower())
    top = int(params.get("top", 3))
    return {"words": len(words), "top": [w for w, _ in Counter(words).most_common(top)]}


pack = NodePack(
    name="qo-example-pack",
    node_types=(
        NodeType(
            name="example.slugify",
            category="example",
            description="Turns `text` into a URL slug. Output: `{slug}`.",
            params_schema={
                "type": "object",
                "additionalProperties": False,
                "required": ["text"],
                "properties": {
                    "text": {"type": "string"},
                    "separator": {"type": "string", "maxLength": 3, "default": "-"},
                },
            },
        ),
        NodeType(
            name="example.word_count",
            category="example",
            description="Counts the words of `text`. Output: `{words, top}`.",
            params_schema={
                "type": "object",
                "additionalProperties": False,
                "required": ["text"],
                "properties": {
                    "text": {"type": "string"},
                    "top": {"type": "integer", "minimum": 0, "maximum": 100, "default": 3},
                },
            },
        ),
    ),
    handlers={"example.slugify": slugify, "example.word_count": word_count},
)
