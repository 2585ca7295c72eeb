"""The spec model: the upstream format loads unchanged, defaults, and the document round trip."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from quantum_orchestrator.domain.spec import Position, WorkflowSpec
from quantum_orchestrator.domain.validation import validate_spec

UPSTREAM: dict[str, Any] = {
    "name": "upstream-demo",
    "nodes": [
        {"id": "start", "name": "Start", "type": "core.noop", "position": {"x": 10, "y": 20}},
        {"id": "wait", "name": "Wait", "type": "core.noop", "position": [300, 40.5]},
        {"id": "end", "name": "End", "type": "core.noop", "position": {"x": 0, "y": 0}},
    ],
    "connections": [{"from": "start", "to": "wait"}, {"from": "wait", "to": "end"}],
}


def test_upstream_format_loads_unchanged() -> None:
    spec = validate_spec(UPSTREAM)
    assert [node.id for node in spec.nodes] == ["start", "wait", "end"]
    assert [node.name for node in spec.nodes] == ["Start", "Wait", "End"]
    assert [(c.source, c.target) for c in spec.connections] == [("start", "wait"), ("wait", "end")]
    first, second, _ = spec.nodes
    assert isinstance(first.position, Position)
    assert (first.position.x, first.position.y) == (10, 20)
    assert second.position == [300, 40.5]


def test_document_round_trip_keeps_from_and_to() -> None:
    document = validate_spec(UPSTREAM).to_document()
    assert document["connections"] == [
        {"from": "start", "to": "wait"},
        {"from": "wait", "to": "end"},
    ]
    assert document["nodes"][0]["position"] == {"x": 10, "y": 20}
    assert document["nodes"][1]["position"] == [300, 40.5]
    assert WorkflowSpec.model_validate(document).to_document() == document


def test_position_keeps_extra_keys_and_defaults() -> None:
    spec = validate_spec(
        {"name": "p", "nodes": [{"id": "a", "type": "core.noop", "position": {"x": 1, "z": 9}}]}
    )
    assert spec.to_document()["nodes"][0]["position"] == {"x": 1, "y": 0, "z": 9}


def test_position_model_instance_is_accepted() -> None:
    spec = WorkflowSpec.model_validate(
        {"name": "p", "nodes": [{"id": "a", "type": "core.noop", "position": Position(x=3)}]}
    )
    assert isinstance(spec.nodes[0].position, Position)


def test_defaults_of_a_minimal_spec() -> None:
    spec = validate_spec({"name": "m", "nodes": [{"id": "a", "type": "core.noop"}]})
    assert spec.description == ""
    assert spec.inputs == {}
    assert spec.outputs == {}
    assert spec.connections == []
    assert spec.defaults.retry is None
    assert spec.defaults.timeout is None
    node = spec.nodes[0]
    assert (node.params, node.retry, node.timeout, node.trigger_rule, node.pool) == (
        {},
        None,
        None,
        None,
        None,
    )


def test_models_are_frozen() -> None:
    spec = validate_spec({"name": "m", "nodes": [{"id": "a", "type": "core.noop"}]})
    with pytest.raises(ValidationError):
        spec.nodes[0].id = "b"  # type: ignore[misc]


def test_connection_accepts_field_names_too() -> None:
    spec = WorkflowSpec.model_validate(
        {
            "name": "m",
            "nodes": [{"id": "a", "type": "core.noop"}, {"id": "b", "type": "core.noop"}],
            "connections": [{"source": "a", "target": "b"}],
        }
    )
    assert spec.to_document()["connections"] == [{"from": "a", "to": "b"}]
