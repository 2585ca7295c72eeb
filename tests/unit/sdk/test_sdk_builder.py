"""The Python workflow builder."""

from __future__ import annotations

import json

import pytest
import yaml

from quantum_orchestrator.sdk import Workflow


def test_builds_the_documented_example() -> None:
    wf = Workflow(
        "digest",
        description="Fetch a page and keep its status.",
        inputs={"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]},
    )
    fetch = wf.node(
        "fetch", "specialized.http_request", url="{{ inputs.url }}", retry={"max_attempts": 5}
    )
    shape = wf.node(
        "shape", "specialized.transform", value={"status": "{{ nodes.fetch.output.status }}"}
    )
    assert (fetch >> shape) is shape
    wf.output("status", "{{ nodes.shape.output.status }}")

    assert wf.to_spec() == {
        "name": "digest",
        "description": "Fetch a page and keep its status.",
        "inputs": {
            "type": "object",
            "properties": {"url": {"type": "string"}},
            "required": ["url"],
        },
        "nodes": [
            {
                "id": "fetch",
                "type": "specialized.http_request",
                "params": {"url": "{{ inputs.url }}"},
                "retry": {"max_attempts": 5},
            },
            {
                "id": "shape",
                "type": "specialized.transform",
                "params": {"value": {"status": "{{ nodes.fetch.output.status }}"}},
            },
        ],
        "connections": [{"from": "fetch", "to": "shape"}],
        "outputs": {"status": "{{ nodes.shape.output.status }}"},
    }


def test_fan_out_fan_in_and_chains() -> None:
    wf = Workflow("fan")
    a, b, c, d = (wf.node(x, "core.noop") for x in "abcd")
    assert a >> [b, c] == [b, c]
    assert [b, c] >> d is d
    e = wf.node("e", "core.noop")
    d >> e >> wf.node("f", "core.noop")
    edges = [(x["from"], x["to"]) for x in wf.to_spec()["connections"]]
    assert edges == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"), ("e", "f")]


def test_connect_with_condition_by_id_and_dedup() -> None:
    wf = Workflow("cond")
    wf.node("check", "core.noop")
    wf.node("alert", "core.noop")
    wf.node("log", "core.noop")
    wf.connect("check", "alert", when="{{ nodes.check.output.bad }}")
    wf.connect("check", ["alert", "log"], when="{{ nodes.check.output.bad }}")
    assert wf.to_spec()["connections"] == [
        {"from": "check", "to": "alert", "when": "{{ nodes.check.output.bad }}"},
        {"from": "check", "to": "log", "when": "{{ nodes.check.output.bad }}"},
    ]


def test_reserved_keywords_are_options_and_params_keeps_the_rest() -> None:
    wf = Workflow("opts", defaults={"retry": {"max_attempts": 2}, "timeout": 10})
    wf.node(
        "n",
        "core.noop",
        name="Step N",
        timeout=5,
        trigger_rule="all_done",
        pool="gpu",
        position=(100, 200),
        params={"name": "a param called name", "timeout": 99},
        other=1,
    )
    node = wf.to_spec()["nodes"][0]
    assert node == {
        "id": "n",
        "type": "core.noop",
        "name": "Step N",
        "params": {"name": "a param called name", "timeout": 99, "other": 1},
        "timeout": 5,
        "trigger_rule": "all_done",
        "pool": "gpu",
        "position": [100, 200],
    }
    assert wf.to_spec()["defaults"] == {"retry": {"max_attempts": 2}, "timeout": 10}


def test_params_named_id_or_type_are_allowed_as_keywords() -> None:
    wf = Workflow("ids")
    wf.node("n", "core.noop", id="param-id", type="param-type")
    assert wf.to_spec()["nodes"][0]["params"] == {"id": "param-id", "type": "param-type"}


def test_duplicate_ids_and_bad_references_raise() -> None:
    wf = Workflow("dup")
    a = wf.node("a", "core.noop")
    with pytest.raises(ValueError, match="duplicate node id 'a'"):
        wf.node("a", "core.noop")
    with pytest.raises(ValueError, match="unknown node 'zzz'"):
        wf.connect(a, "zzz")
    with pytest.raises(ValueError, match="itself"):
        a >> a
    other = Workflow("other").node("x", "core.noop")
    with pytest.raises(ValueError, match="belongs to workflow 'other'"):
        a >> other
    with pytest.raises(ValueError, match="given twice"):
        wf.node("b", "core.noop", params={"url": 1}, url=2)
    with pytest.raises(ValueError, match="non-empty"):
        wf.node("", "core.noop")
    with pytest.raises(ValueError, match="non-empty name"):
        Workflow(" ")


def test_to_spec_is_a_copy_and_serializes() -> None:
    wf = Workflow("copy")
    wf.node("a", "core.noop", items=("x", "y"), nested={"k": [1, 2]})
    spec = wf.to_spec()
    spec["nodes"][0]["params"]["nested"]["k"].append(3)
    assert wf.to_spec()["nodes"][0]["params"] == {"items": ["x", "y"], "nested": {"k": [1, 2]}}
    assert yaml.safe_load(wf.to_yaml()) == wf.to_spec()
    assert json.loads(wf.to_json()) == wf.to_spec()
    assert wf.to_yaml().startswith("name: copy\n")
    assert repr(wf) == "Workflow(name='copy', nodes=1)"
