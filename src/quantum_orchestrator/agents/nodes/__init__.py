"""Handlers for the built-in node types that run on agents (``executor == "agent"``)."""

from __future__ import annotations

from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.nodes.core import branch, merge, noop, transform
from quantum_orchestrator.agents.nodes.extract import extract
from quantum_orchestrator.agents.nodes.http import http_request_handler
from quantum_orchestrator.agents.nodes.llm import llm_chat_handler
from quantum_orchestrator.agents.nodes.ml import embed_handler, predict_handler, similarity_handler
from quantum_orchestrator.agents.nodes.notify import notify_handler
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.domain.agent_protocol import CapabilityInfo
from quantum_orchestrator.domain.node_types import BUILTIN_NODE_TYPES

__all__ = ["builtin_capabilities", "builtin_handlers"]


def builtin_handlers(*, resources: NodeResources) -> dict[str, Handler]:
    """The handlers of the built-in agent node types, by node type name.

    ``resources`` supplies the shared HTTP client; the runtime that owns it closes it.
    """
    return {
        "core.noop": noop,
        "core.branch": branch,
        "core.merge": merge,
        "specialized.transform": transform,
        "specialized.http_request": http_request_handler(resources),
        "generative.llm_chat": llm_chat_handler(resources),
        "specialized.notify": notify_handler(resources),
        "specialized.extract": extract,
        "ml.predict": predict_handler(resources),
        "ml.embed": embed_handler(resources),
        "ml.similarity": similarity_handler(resources),
    }


def builtin_capabilities() -> list[CapabilityInfo]:
    """The built-in node types an agent executes, as the registration announces them."""
    return [
        CapabilityInfo(
            name=node_type.name,
            category=node_type.category,
            description=node_type.description,
            params_schema=node_type.params_schema,
        )
        for node_type in BUILTIN_NODE_TYPES
        if node_type.executor == "agent"
    ]
