"""The error hierarchy: stable codes, retryable flags and JSON forms."""

from __future__ import annotations

import pytest

from quantum_orchestrator.domain.errors import (
    ConflictError,
    FieldError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    OutputTooLargeError,
    QOError,
    SpecInvalidError,
    StepError,
    StepTimeoutError,
    TemplateError,
    UnavailableError,
)


@pytest.mark.parametrize(
    ("cls", "code", "retryable", "parent"),
    [
        (QOError, "error", False, Exception),
        (InvalidInputError, "invalid_input", False, QOError),
        (SpecInvalidError, "spec_invalid", False, InvalidInputError),
        (NotFoundError, "not_found", False, QOError),
        (ConflictError, "conflict", False, QOError),
        (InvalidTransitionError, "invalid_transition", False, ConflictError),
        (StepError, "step_failed", False, QOError),
        (StepTimeoutError, "timeout", True, StepError),
        (OutputTooLargeError, "output_too_large", False, StepError),
        (TemplateError, "template_error", False, StepError),
        (UnavailableError, "unavailable", True, QOError),
    ],
)
def test_codes_and_flags(
    cls: type[QOError], code: str, retryable: bool, parent: type[Exception]
) -> None:
    error = cls("boom")
    assert issubclass(cls, parent)
    assert (error.code, error.retryable, error.message, str(error)) == (
        code,
        retryable,
        "boom",
        "boom",
    )
    assert error.to_dict() == {"code": code, "message": "boom", "retryable": retryable}


def test_code_and_retryable_can_be_overridden_per_instance() -> None:
    error = StepError("rate limited", code="http_429", retryable=True)
    assert error.to_dict() == {"code": "http_429", "message": "rate limited", "retryable": True}
    assert StepError("x").code == "step_failed"  # the class default is untouched
    assert StepTimeoutError("slow", retryable=False).retryable is False


def test_invalid_input_carries_field_errors() -> None:
    errors = [FieldError("inputs.who", "required")]
    error = InvalidInputError("bad", errors, code="inputs_invalid")
    assert error.errors == errors
    assert error.errors is not errors
    assert error.code == "inputs_invalid"
    assert InvalidInputError("bad").errors == []
    assert SpecInvalidError("bad", errors).code == "spec_invalid"


def test_field_error() -> None:
    error = FieldError("nodes[2].params.url", "required")
    assert str(error) == "nodes[2].params.url: required"
    assert str(FieldError("", "expected an object")) == "expected an object"
    assert error.to_dict() == {"path": "nodes[2].params.url", "message": "required"}
    assert error == FieldError("nodes[2].params.url", "required")
    assert hash(error) == hash(FieldError("nodes[2].params.url", "required"))
    with pytest.raises(AttributeError):
        error.path = "x"  # type: ignore[misc]
