"""Python SDK: the async API client, the workflow builder and spec-file loading."""

from quantum_orchestrator.sdk.builder import Node, Workflow
from quantum_orchestrator.sdk.client import (
    DEFAULT_SERVER,
    TERMINAL_RUN_STATES,
    Client,
    ClientError,
    default_server,
)
from quantum_orchestrator.sdk.specfile import (
    SpecFileError,
    load_document,
    load_spec,
    parse_document,
    parse_spec,
)

__all__ = [
    "DEFAULT_SERVER",
    "TERMINAL_RUN_STATES",
    "Client",
    "ClientError",
    "Node",
    "SpecFileError",
    "Workflow",
    "default_server",
    "load_document",
    "load_spec",
    "parse_document",
    "parse_spec",
]
