"""Secret markers in templates: rendered at queue time, bound and redacted later."""

from __future__ import annotations

import pytest

from quantum_orchestrator.domain.errors import TemplateError
from quantum_orchestrator.domain.secrets import (
    SecretNames,
    as_templates,
    marked_names,
    marker,
    mentions_secrets,
    redact,
    substitute,
)
from quantum_orchestrator.domain.templates import render

CONTEXT = {"inputs": {"n": 1}, "secrets": SecretNames({"TOKEN", "OTHER"})}


def test_templates_render_markers_not_values() -> None:
    params = {
        "headers": {"Authorization": "Bearer {{ secrets.TOKEN }}"},
        "whole": "{{ secrets.OTHER }}",
        "item": "{{ secrets['TOKEN'] }}",
        "list": ["{{ secrets.TOKEN }}-{{ inputs.n }}"],
    }
    out = render(params, CONTEXT)
    assert out["headers"]["Authorization"] == "Bearer " + marker("TOKEN")
    assert out["whole"] == marker("OTHER")
    assert out["item"] == marker("TOKEN")
    assert out["list"] == [marker("TOKEN") + "-1"]
    assert marked_names(out) == {"TOKEN", "OTHER"}
    assert as_templates(out)["headers"] == {"Authorization": "Bearer {{ secrets.TOKEN }}"}
    bound = substitute(out, {"TOKEN": "t0k", "OTHER": "o"})
    assert bound == {
        "headers": {"Authorization": "Bearer t0k"},
        "whole": "o",
        "item": "t0k",
        "list": ["t0k-1"],
    }


@pytest.mark.parametrize("source", ["{{ secrets.NOPE }}", "x {{ secrets['NOPE'] }}"])
def test_an_undefined_secret_is_a_template_error(source: str) -> None:
    with pytest.raises(TemplateError, match="no secret named 'NOPE'") as caught:
        render({"h": source}, CONTEXT)
    assert caught.value.code == "template_error"


def test_secrets_is_listed_among_the_names() -> None:
    with pytest.raises(TemplateError, match="inputs, secrets"):
        render("{{ nope }}", {"inputs": {}})


def test_mentions_and_redaction() -> None:
    assert mentions_secrets({"a": ["x {{ secrets.A }}"]})
    assert not mentions_secrets({"a": "secrets.A"})
    assert not mentions_secrets({"a": "{{ inputs.secretsX }}"})
    value = {"body": "got t0k and t0ken", "list": ["t0k"], "t0k": 1, "n": 5}
    assert redact(value, ["t0k", "t0ken"]) == {
        "body": "got *** and ***",
        "list": ["***"],
        "***": 1,
        "n": 5,
    }
    assert redact(value, []) is value
