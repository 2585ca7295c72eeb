"""Errors raised by agent transports, so the run loop can tell what a failure means."""

from __future__ import annotations

from quantum_orchestrator.domain.errors import QOError


class TransportError(QOError):
    """A call to the server failed: unreachable, refused, or answered with an error.

    ``status`` is the HTTP status when there was an answer. The run loop retries retryable
    failures with backoff; a non-retryable failure of the registration stops the agent, since
    a bad token or a wrong server address will not fix itself.
    """

    code = "transport_error"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, code=code, retryable=retryable)
        self.status = status


class AgentUnknownError(TransportError):
    """The server does not know this agent id (it was marked lost, or the server was reset).

    The run loop answers it by registering again and carrying on.
    """

    code = "agent_unknown"
    retryable = True
