"""Quantum Orchestrator: build, deploy and run durable agent workflows.

The SDK's main names are importable from here: ``Agent`` (serve your functions as node types),
``Client`` (deploy, run and wait from Python) and ``Workflow`` (write a workflow in Python).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantum_orchestrator.__about__ import __version__

if TYPE_CHECKING:
    from quantum_orchestrator.agents.sdk import Agent
    from quantum_orchestrator.sdk.builder import Workflow
    from quantum_orchestrator.sdk.client import Client

__all__ = ["Agent", "Client", "Workflow", "__version__"]

_LAZY = {
    "Agent": "quantum_orchestrator.agents.sdk",
    "Client": "quantum_orchestrator.sdk.client",
    "Workflow": "quantum_orchestrator.sdk.builder",
}


def __getattr__(name: str) -> Any:
    # Imported on first use, so that `import quantum_orchestrator` stays cheap for the server.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'quantum_orchestrator' has no attribute {name!r}")
