"""The built-in catalog: every schema is valid JSON Schema, and its JSON form."""

from __future__ import annotations

import jsonschema
import pytest

from quantum_orchestrator.domain.node_types import (
    BUILTIN_NODE_TYPES,
    CATEGORIES,
    RETRY_SCHEMA,
    builtin_catalog,
    capability_node_type,
)


@pytest.mark.parametrize("node_type", BUILTIN_NODE_TYPES, ids=lambda t: t.name)
def test_builtin_schemas_are_valid(node_type: object) -> None:
    from quantum_orchestrator.domain.node_types import NodeType

    assert isinstance(node_type, NodeType)
    jsonschema.validators.validator_for(node_type.params_schema).check_schema(
        node_type.params_schema
    )
    assert node_type.category in CATEGORIES
    assert node_type.builtin
    assert node_type.description


def test_catalog_contents() -> None:
    catalog = builtin_catalog()
    assert set(catalog) == {
        "core.noop",
        "core.delay",
        "core.wait_until",
        "core.approval",
        "core.subworkflow",
        "core.branch",
        "core.map",
        "core.merge",
        "specialized.transform",
        "specialized.http_request",
        "specialized.notify",
        "specialized.extract",
        "ml.predict",
        "ml.embed",
        "ml.similarity",
        "generative.llm_chat",
        "generative.agent",
    }
    assert {name for name, t in catalog.items() if t.executor == "engine"} == {
        "core.delay",
        "core.wait_until",
        "core.approval",
        "core.subworkflow",
        "core.map",
        "generative.agent",
    }
    assert catalog["core.merge"].default_trigger_rule == "none_failed"
    assert catalog["core.merge"].receives_upstream
    assert catalog["core.map"].raw_params == frozenset({"node"})
    jsonschema.Draft202012Validator.check_schema(RETRY_SCHEMA)


def test_to_dict() -> None:
    assert builtin_catalog()["core.delay"].to_dict() == {
        "type": "core.delay",
        "category": "core",
        "description": builtin_catalog()["core.delay"].description,
        "params_schema": builtin_catalog()["core.delay"].params_schema,
        "executor": "engine",
        "default_trigger_rule": "all_success",
        "builtin": True,
    }


def test_capability_node_type() -> None:
    offered = capability_node_type(name="ml.embed", category="ml")
    assert offered.params_schema == {"type": "object"}
    assert not offered.builtin
    assert offered.executor == "agent"
    schema = {"type": "object", "required": ["text"]}
    assert (
        capability_node_type(
            name="ml.embed", category="ml", description="d", params_schema=schema
        ).params_schema
        == schema
    )
