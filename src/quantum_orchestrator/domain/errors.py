"""The one error hierarchy of the platform.

Every error carries a stable machine-readable ``code`` and a ``retryable`` flag. Only ``api/``
turns these errors into HTTP answers (RFC 9457 problem details); everything else raises them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem in a document, located by a path such as ``nodes[2].params.url``."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def to_dict(self) -> dict[str, str]:
        """The JSON form used by the API and the CLI."""
        return {"path": self.path, "message": self.message}


class QOError(Exception):
    """Root of every error the platform raises on purpose."""

    code: str = "error"
    retryable: bool = False
    # Seconds the failing service asked to wait before trying again (its ``Retry-After``).
    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if retryable is not None:
            self.retryable = retryable
        if retry_after is not None:
            self.retry_after = retry_after

    def to_dict(self) -> dict[str, Any]:
        """The JSON form stored on steps and attempts."""
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


class InvalidInputError(QOError):
    """The caller sent something that cannot be accepted; ``errors`` says what to fix."""

    code = "invalid_input"

    def __init__(
        self, message: str, errors: list[FieldError] | None = None, *, code: str | None = None
    ):
        super().__init__(message, code=code)
        self.errors = list(errors or [])


class SpecInvalidError(InvalidInputError):
    """A workflow spec failed validation."""

    code = "spec_invalid"


class NotFoundError(QOError):
    """The object does not exist (or is not visible to the caller)."""

    code = "not_found"


class ConflictError(QOError):
    """The request conflicts with the current state (a duplicate name, a finished run...)."""

    code = "conflict"


class InvalidTransitionError(ConflictError):
    """A state change that the transitions table forbids."""

    code = "invalid_transition"


class StepError(QOError):
    """A node's handler failed; ``retryable`` decides whether the engine tries again."""

    code = "step_failed"


class StepTimeoutError(StepError):
    """An attempt ran past its timeout."""

    code = "timeout"
    retryable = True


class OutputTooLargeError(StepError):
    """A step's output is larger than the configured limit."""

    code = "output_too_large"


class TemplateError(StepError):
    """A template could not be rendered (syntax, undefined name, unsafe operation)."""

    code = "template_error"


class UnavailableError(QOError):
    """A dependency (database, peer) is not reachable right now."""

    code = "unavailable"
    retryable = True


class RateLimitedError(QOError):
    """Too many requests from one principal; ``retry_after`` seconds until the next is allowed."""

    code = "rate_limited"
    retryable = True
    retry_after: float

    def __init__(self, message: str, *, retry_after: float, limit: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit
