"""The agent runtime and SDK: capabilities as decorated functions, the run loop, built-in nodes."""

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.agents.errors import AgentUnknownError, TransportError
from quantum_orchestrator.agents.handler import Handler
from quantum_orchestrator.agents.http_transport import HttpTransport
from quantum_orchestrator.agents.resources import NodeResources
from quantum_orchestrator.agents.runtime import AgentRuntime, RuntimeOptions
from quantum_orchestrator.agents.sdk import Agent
from quantum_orchestrator.agents.serve import build_runtime, serve_agents
from quantum_orchestrator.agents.transport import AgentTransport

__all__ = [
    "Agent",
    "AgentRuntime",
    "AgentTransport",
    "AgentUnknownError",
    "Handler",
    "HttpTransport",
    "NodeResources",
    "RuntimeOptions",
    "StepContext",
    "TransportError",
    "build_runtime",
    "serve_agents",
]
