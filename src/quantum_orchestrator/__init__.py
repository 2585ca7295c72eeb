"""Quantum Orchestrator: build, deploy and run durable agent workflows."""

from quantum_orchestrator.__about__ import __version__

__all__ = ["__version__"]
