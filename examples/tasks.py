"""Your own Python functions as node types: give the agent a token of its pool, then run it

    export QO_AGENT_TOKEN=$(qo agent-tokens create text-agents --pool text)
    qo agent --server http://127.0.0.1:8787 --pool text --import examples/tasks.py

and use ``text.words`` and ``text.shout`` in a workflow (see examples/text.yaml).
"""

from __future__ import annotations

from typing import Any

from quantum_orchestrator import Agent
from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.domain.errors import StepError

agent = Agent(pool="text", concurrency=8)


@agent.capability(
    "text.words",
    category="specialized",
    description="Counts the words of a text.",
    params_schema={
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
)
async def words(params: dict[str, Any], ctx: StepContext) -> dict[str, Any]:
    """An async handler: the output is any JSON value."""
    ctx.logger.info("counting words (attempt %d)", ctx.attempt)
    found = params["text"].split()
    return {"count": len(found), "longest": max(found, key=len) if found else None}


@agent.capability("text.shout", category="specialized", description="Upper-cases a text.")
def shout(params: dict[str, Any], ctx: StepContext) -> str:
    """A sync handler runs in a worker thread. Errors say whether a retry may help."""
    text = params.get("text")
    if not isinstance(text, str):
        raise StepError("params.text must be a string", code="bad_text", retryable=False)
    return text.upper() + "!"
