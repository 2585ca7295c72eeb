"""validate_spec and validate_inputs: every problem reported, each at a precise path."""

from __future__ import annotations

import time
from typing import Any

import pytest

from quantum_orchestrator.domain.errors import FieldError, InvalidInputError, SpecInvalidError
from quantum_orchestrator.domain.node_types import builtin_catalog, capability_node_type
from quantum_orchestrator.domain.validation import format_path, validate_inputs, validate_spec

BRANCH = {"cases": [{"label": "yes", "condition": "{{ inputs.ok }}"}], "default": "no"}


def node(node_id: str, node_type: str = "core.noop", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, **extra}


def spec(*nodes: dict[str, Any], connections: Any = (), **extra: Any) -> dict[str, Any]:
    return {"name": "wf", "nodes": list(nodes), "connections": list(connections), **extra}


def edge(source: str, target: str, when: str | None = None) -> dict[str, Any]:
    return {"from": source, "to": target, **({"when": when} if when is not None else {})}


def errors_of(document: Any, **kwargs: Any) -> list[tuple[str, str]]:
    with pytest.raises(SpecInvalidError) as caught:
        validate_spec(document, **kwargs)
    assert caught.value.code == "spec_invalid"
    assert caught.value.errors, "a SpecInvalidError always lists its errors"
    assert caught.value.message.startswith("the spec ")
    return [(e.path, e.message) for e in caught.value.errors]


def only_error(document: Any, **kwargs: Any) -> tuple[str, str]:
    found = errors_of(document, **kwargs)
    assert len(found) == 1, found
    return found[0]


# -- valid documents ------------------------------------------------------------------------


def test_a_rich_valid_spec_passes() -> None:
    document = spec(
        node("start", params={"who": "{{ inputs.who }}"}),
        node("fetch", "specialized.http_request", params={"url": "{{ inputs.url }}"}),
        node("route", "core.branch", params=BRANCH),
        node(
            "each",
            "core.map",
            params={
                "items": "{{ nodes.fetch.output.body }}",
                "node": {"type": "specialized.transform", "params": {"value": "{{ item }}"}},
            },
        ),
        node("wait", "core.delay", params={"seconds": 1.5}),
        node("join", "core.merge", params={"mode": "list"}),
        connections=[
            edge("start", "fetch"),
            edge("fetch", "route", "{{ output.status == 200 }}"),
            edge("route", "each", "yes"),
            edge("route", "wait", "no"),
            edge("each", "join"),
            edge("wait", "join"),
        ],
        inputs={"type": "object", "properties": {"who": {"type": "string"}}},
        outputs={"all": "{{ nodes.join.output }}"},
        defaults={"retry": {"max_attempts": 3}, "timeout": 30},
    )
    parsed = validate_spec(document, catalog=builtin_catalog())
    assert len(parsed.nodes) == 6


def test_catalog_defaults_to_builtin_types() -> None:
    assert validate_spec(spec(node("a"))).nodes[0].type == "core.noop"


def test_agent_capabilities_extend_the_catalog() -> None:
    catalog = {
        **builtin_catalog(),
        "ml.embed": capability_node_type(
            name="ml.embed",
            category="ml",
            params_schema={"type": "object", "required": ["text"]},
        ),
    }
    validate_spec(spec(node("e", "ml.embed", params={"text": "hi"})), catalog=catalog)
    assert only_error(spec(node("e", "ml.embed")), catalog=catalog) == (
        "nodes[0].params.text",
        "required",
    )


# -- shape ----------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [[], "spec", None, 3])
def test_document_must_be_an_object(document: Any) -> None:
    assert only_error(document) == ("", "expected an object")


def test_unknown_top_level_field() -> None:
    assert only_error(spec(node("a"), bogus=1)) == ("bogus", "unknown field")


@pytest.mark.parametrize("field", ["Bogus", "x[1]", "Position"])
def test_unknown_field_path_is_kept_whatever_its_name(field: str) -> None:
    assert only_error(spec(node("a"), **{field: 1})) == (field, "unknown field")


def test_unknown_node_field() -> None:
    assert only_error(spec(node("a", colour="red"))) == ("nodes[0].colour", "unknown field")


def test_missing_name_and_nodes() -> None:
    assert errors_of({}) == [("name", "required"), ("nodes", "required")]


@pytest.mark.parametrize("name", ["-lead", "with space", "", "x" * 101, "ünïcode"])
def test_name_pattern(name: str) -> None:
    path, message = only_error({**spec(node("a")), "name": name})
    assert path == "name"
    assert "pattern" in message


@pytest.mark.parametrize("name", ["a", "A1", "my-flow_v2.3", "9lives", "x" * 100])
def test_good_names(name: str) -> None:
    assert validate_spec({**spec(node("a")), "name": name}).name == name


def test_nodes_must_not_be_empty() -> None:
    path, message = only_error(spec())
    assert path == "nodes"
    assert "at least 1" in message


@pytest.mark.parametrize("node_id", ["1a", "a b", "a.b", "", "x" * 101])
def test_node_id_pattern(node_id: str) -> None:
    path, message = only_error(spec(node(node_id)))
    assert path == "nodes[0].id"
    assert "pattern" in message


@pytest.mark.parametrize("node_type", ["Core.Noop", "noop", "core.", "core..noop", "1core.x"])
def test_node_type_pattern(node_type: str) -> None:
    path, message = only_error(spec(node("a", node_type)))
    assert path == "nodes[0].type"
    assert "pattern" in message


@pytest.mark.parametrize(
    ("extra", "path", "fragment"),
    [
        ({"retry": {"max_attempts": 0}}, "nodes[0].retry.max_attempts", "greater than"),
        ({"retry": {"backoff": 0.5}}, "nodes[0].retry.backoff", "greater than"),
        ({"retry": {"tries": 3}}, "nodes[0].retry.tries", "unknown field"),
        ({"timeout": 0}, "nodes[0].timeout", "greater than"),
        ({"trigger_rule": "sometimes"}, "nodes[0].trigger_rule", "all_success"),
        ({"pool": "has space"}, "nodes[0].pool", "pattern"),
        ({"params": "x"}, "nodes[0].params", "dictionary"),
    ],
)
def test_node_policies_are_checked(extra: dict[str, Any], path: str, fragment: str) -> None:
    found_path, message = only_error(spec(node("a", **extra)))
    assert found_path == path
    assert fragment in message


def test_defaults_are_checked() -> None:
    assert only_error(spec(node("a"), defaults={"timeout": 1, "retries": 2})) == (
        "defaults.retries",
        "unknown field",
    )


@pytest.mark.parametrize("position", ["abc", True, 3, [1, "a"], [True, False], None])
def test_bad_position_gives_one_clear_error(position: Any) -> None:
    document = spec(node("a", position=position))
    if position is None:
        validate_spec(document)
        return
    assert only_error(document) == (
        "nodes[0].position",
        "a position is {x, y} or [x, y], with numbers",
    )


def test_bad_position_coordinate_is_named() -> None:
    path, message = only_error(spec(node("a", position={"x": "left"})))
    assert path == "nodes[0].position"
    assert message.startswith("x: ")


# -- the graph ------------------------------------------------------------------------------


def test_missing_required_param_is_path_precise() -> None:
    document = spec(node("a"), node("b"), node("c", "specialized.http_request"))
    assert only_error(document) == ("nodes[2].params.url", "required")


def test_duplicate_ids() -> None:
    assert only_error(spec(node("a"), node("b"), node("a"))) == (
        "nodes[2].id",
        "duplicate id 'a' (also nodes[0])",
    )


def test_unknown_connection_endpoints() -> None:
    assert errors_of(spec(node("a"), connections=[edge("a", "zz"), edge("yy", "a")])) == [
        ("connections[0].to", "unknown node 'zz'"),
        ("connections[1].from", "unknown node 'yy'"),
    ]


def test_self_connection_and_duplicate_connection() -> None:
    assert errors_of(
        spec(node("a"), node("b"), connections=[edge("a", "a"), edge("a", "b"), edge("a", "b")])
    ) == [
        ("connections[0]", "a node cannot connect to itself"),
        ("connections[2]", "duplicate connection"),
    ]


def test_cycle_is_named() -> None:
    document = spec(
        node("a"),
        node("b"),
        node("c"),
        node("d"),
        connections=[edge("d", "a"), edge("a", "b"), edge("b", "c"), edge("c", "a")],
    )
    path, message = only_error(document)
    assert path == "connections"
    assert message == "cycle: a → b → c → a"


def test_cycle_does_not_cause_spurious_upstream_errors() -> None:
    document = spec(
        node("a"),
        node("b", params={"x": "{{ nodes.a.output }}"}),
        node("c", params={"x": "{{ nodes.b.output }}"}),
        connections=[edge("a", "b"), edge("b", "a"), edge("b", "c")],
    )
    assert errors_of(document) == [("connections", "cycle: a → b → a")]


def test_a_10000_node_chain_validates_quickly() -> None:
    count = 10_000
    nodes = [node(f"n{i}") for i in range(count)]
    connections = [edge(f"n{i}", f"n{i + 1}") for i in range(count - 1)]
    started = time.perf_counter()
    parsed = validate_spec(spec(*nodes, connections=connections))
    assert time.perf_counter() - started < 10
    assert len(parsed.nodes) == count


def test_a_10000_node_chain_of_references_validates() -> None:
    # Each node reads its predecessor and the first node: the upstream check must not be
    # quadratic, nor recursive.
    count = 10_000
    nodes = [node("n0")] + [
        node(f"n{i}", params={"x": f"{{{{ nodes.n{i - 1}.output }}}} {{{{ nodes.n0.output }}}}"})
        for i in range(1, count)
    ]
    connections = [edge(f"n{i}", f"n{i + 1}") for i in range(count - 1)]
    assert len(validate_spec(spec(*nodes, connections=connections)).nodes) == count


def test_a_10000_node_cycle_is_found_without_recursion() -> None:
    count = 10_000
    nodes = [node(f"n{i}") for i in range(count)]
    connections = [edge(f"n{i}", f"n{(i + 1) % count}") for i in range(count)]
    path, message = only_error(spec(*nodes, connections=connections))
    assert path == "connections"
    assert message.startswith("cycle: n0 → n1 → ")
    assert message.endswith(" → n9999 → n0")


# -- node types and params ------------------------------------------------------------------


def test_unknown_node_type() -> None:
    path, message = only_error(spec(node("a", "foo.bar")))
    assert path == "nodes[0].type"
    assert "unknown node type 'foo.bar'" in message
    assert "registered agent" in message


def test_unknown_node_type_allowed_when_asked() -> None:
    validate_spec(spec(node("a", "foo.bar", params={"any": 1})), allow_unknown_types=True)


@pytest.mark.parametrize(
    ("node_type", "params", "expected"),
    [
        ("core.delay", {"seconds": "soon"}, ("nodes[0].params.seconds", "'soon' is not of type")),
        ("core.delay", {"seconds": -1}, ("nodes[0].params.seconds", "less than the minimum")),
        ("core.delay", {}, ("nodes[0].params.seconds", "required")),
        ("core.delay", {"seconds": 1, "bogus": 2}, ("nodes[0].params.bogus", "unknown field")),
        ("core.merge", {"mode": "zip"}, ("nodes[0].params.mode", "'zip' is not one of")),
        (
            "specialized.http_request",
            {"url": "http://x", "headers": {"a": 1}},
            ("nodes[0].params.headers.a", "1 is not of type 'string'"),
        ),
        (
            "specialized.http_request",
            {"url": "http://x", "json": {}, "body": "x"},
            ("nodes[0].params", "json and body cannot be used together"),
        ),
        (
            "core.branch",
            {"cases": [{"label": "a"}]},
            ("nodes[0].params.cases[0].condition", "required"),
        ),
        ("core.branch", {"cases": []}, ("nodes[0].params.cases", "should be non-empty")),
    ],
)
def test_params_schema_violations(
    node_type: str, params: dict[str, Any], expected: tuple[str, str]
) -> None:
    path, message = only_error(spec(node("a", node_type, params=params)))
    assert path == expected[0]
    assert expected[1] in message


def test_template_strings_pass_typed_params() -> None:
    validate_spec(spec(node("a", "core.delay", params={"seconds": "{{ inputs.wait }}"})))


def test_every_params_problem_is_reported() -> None:
    document = spec(
        node("a", "core.delay", params={"seconds": "x", "extra": 1}),
        node("b", "specialized.http_request", params={"method": "FETCH"}),
    )
    paths = [path for path, _ in errors_of(document)]
    assert paths == [
        "nodes[0].params.extra",
        "nodes[0].params.seconds",
        "nodes[1].params.url",
        "nodes[1].params.method",
    ]


# -- templates ------------------------------------------------------------------------------


def test_template_syntax_error_is_located_in_params() -> None:
    document = spec(node("a", params={"deep": [{"x": "ok"}, {"y": "{{ inputs.x "}]}))
    path, message = only_error(document)
    assert path == "nodes[0].params.deep[1].y"
    assert message.startswith("template syntax error: ")


def test_unknown_filter_is_a_template_error() -> None:
    path, message = only_error(spec(node("a", params={"x": "{{ inputs.x | shout }}"})))
    assert path == "nodes[0].params.x"
    assert "No filter named 'shout'" in message


def test_reference_to_a_node_not_upstream() -> None:
    document = spec(node("a"), node("b", params={"x": "{{ nodes.a.output }}"}))
    path, message = only_error(document)
    assert path == "nodes[1].params"
    assert "refers to node 'a', which is not upstream of 'b'" in message


def test_reference_to_a_downstream_node() -> None:
    document = spec(
        node("a", params={"x": "{{ nodes['b'].output }}"}),
        node("b"),
        connections=[edge("a", "b")],
    )
    assert "not upstream of 'a'" in only_error(document)[1]


def test_reference_to_an_indirect_ancestor_is_fine() -> None:
    validate_spec(
        spec(
            node("a"),
            node("b"),
            node("c", params={"x": "{{ nodes.a.output }}"}),
            connections=[edge("a", "b"), edge("b", "c")],
        )
    )


def test_reference_to_an_unknown_node() -> None:
    assert only_error(spec(node("a", params={"x": "{{ nodes.zz.output }}"}))) == (
        "nodes[0].params",
        "refers to unknown node 'zz'",
    )


def test_reference_to_itself() -> None:
    assert only_error(spec(node("a", params={"x": "{{ nodes.a.output }}"}))) == (
        "nodes[0].params",
        "refers to its own node 'a': its output does not exist yet",
    )


def test_outputs_are_checked() -> None:
    document = spec(node("a"), outputs={"bad": "{{ nodes.a.output ", "who": "{{ nodes.x.y }}"})
    found = errors_of(document)
    assert found[0][0] == "outputs.bad"
    assert found[0][1].startswith("template syntax error")
    assert found[1] == ("outputs.who", "refers to unknown node 'x'")


# -- connections with `when` ----------------------------------------------------------------


def test_branch_label_on_connection() -> None:
    document = spec(
        node("r", "core.branch", params=BRANCH),
        node("a"),
        node("b"),
        node("c"),
        connections=[edge("r", "a", "yes"), edge("r", "b", "no"), edge("r", "c", "maybe")],
    )
    assert only_error(document) == ("connections[2].when", "'maybe' is not a case of 'r' (no, yes)")


def test_branch_labels_known_only_at_run_time_are_not_checked() -> None:
    for params in (
        {"cases": "{{ inputs.cases }}"},
        {"cases": [{"label": "{{ inputs.label }}", "condition": "{{ true }}"}]},
        {"cases": [{"label": "a", "condition": "1"}], "default": "{{ inputs.fallback }}"},
    ):
        validate_spec(
            spec(
                node("r", "core.branch", params=params),
                node("a"),
                connections=[edge("r", "a", "whatever")],
            )
        )


def test_when_must_be_a_template_off_a_branch() -> None:
    path, message = only_error(spec(node("a"), node("b"), connections=[edge("a", "b", "yes")]))
    assert path == "connections[0].when"
    assert "must be a template" in message
    assert "core.branch" in message


def test_when_template_syntax() -> None:
    path, message = only_error(spec(node("a"), node("b"), connections=[edge("a", "b", "{% if %}")]))
    assert path == "connections[0].when"
    assert message.startswith("template syntax error")


def test_when_may_read_its_source_and_upstream() -> None:
    validate_spec(
        spec(
            node("a"),
            node("b"),
            node("c"),
            connections=[
                edge("a", "b"),
                edge("b", "c", "{{ output.ok and nodes.b.output.ok and nodes.a.output }}"),
            ],
        )
    )


def test_when_references_to_unknown_nodes() -> None:
    document = spec(
        node("a"),
        node("b"),
        node("c"),
        connections=[edge("a", "b", "{{ nodes.zz.ok }}"), edge("a", "c", "{{ nodes.b.ok }}")],
    )
    with pytest.raises(SpecInvalidError) as raised:
        validate_spec(document)
    assert [(e.path, e.message) for e in raised.value.errors] == [
        ("connections[0].when", "refers to unknown node 'zz'"),
        (
            "connections[1].when",
            "refers to node 'b', which is not upstream of 'a': the condition is evaluated "
            "when that node finishes",
        ),
    ]


# -- core.map -------------------------------------------------------------------------------


def test_map_inner_type_unknown() -> None:
    document = spec(node("m", "core.map", params={"items": [1], "node": {"type": "x.y"}}))
    assert only_error(document) == ("nodes[0].params.node.type", "unknown node type 'x.y'")
    validate_spec(document, allow_unknown_types=True)


@pytest.mark.parametrize("inner", ["core.delay", "core.map"])
def test_map_inner_engine_type_refused(inner: str) -> None:
    document = spec(node("m", "core.map", params={"items": [1], "node": {"type": inner}}))
    assert only_error(document) == (
        "nodes[0].params.node.type",
        f"{inner} cannot run inside core.map",
    )


def test_map_inner_params_checked_with_templates_allowed() -> None:
    inner = {"type": "specialized.http_request", "params": {"url": "{{ item }}", "x": 1}}
    document = spec(node("m", "core.map", params={"items": "{{ inputs.urls }}", "node": inner}))
    assert only_error(document) == ("nodes[0].params.node.params.x", "unknown field")


def test_map_inner_params_not_an_object_reported_once() -> None:
    inner = {"type": "specialized.http_request", "params": "nope"}
    path, message = only_error(spec(node("m", "core.map", params={"items": [], "node": inner})))
    assert path == "nodes[0].params.node.params"
    assert "is not of type 'object'" in message


def test_map_inner_template_syntax_located() -> None:
    inner = {"type": "specialized.transform", "params": {"value": "{{ item "}}
    path, _ = only_error(spec(node("m", "core.map", params={"items": [], "node": inner})))
    assert path == "nodes[0].params.node.params.value"


def test_map_node_is_required() -> None:
    assert only_error(spec(node("m", "core.map", params={"items": []}))) == (
        "nodes[0].params.node",
        "required",
    )


# -- inputs ---------------------------------------------------------------------------------


def test_invalid_inputs_schema() -> None:
    document = spec(node("a"), inputs={"type": "object", "properties": {"who": {"type": "txt"}}})
    path, _ = only_error(document)
    assert path == "inputs.properties.who.type"


def test_errors_are_collected_across_sections() -> None:
    document = spec(
        node("a", "nope.nope"),
        node("a"),
        connections=[edge("a", "b")],
        inputs={"type": 3},
        outputs={"x": "{{"},
    )
    paths = [path for path, _ in errors_of(document)]
    assert paths == [
        "nodes[1].id",
        "connections[0].to",
        "nodes[0].type",
        "inputs.type",
        "outputs.x",
    ]


def test_summary_counts_the_other_errors() -> None:
    with pytest.raises(SpecInvalidError) as caught:
        validate_spec(spec(node("a"), node("a"), node("a")))
    assert caught.value.message == (
        "the spec is invalid: nodes[1].id: duplicate id 'a' (also nodes[0]) (and 1 more)"
    )


SCHEMA = {
    "type": "object",
    "required": ["who"],
    "additionalProperties": False,
    "properties": {
        "who": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}


def test_validate_inputs_accepts_good_inputs() -> None:
    validate_inputs(SCHEMA, {"who": "ada", "tags": ["x"]})
    validate_inputs({}, {"anything": 1})


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({}, [FieldError("inputs.who", "required")]),
        ({"who": 3}, [FieldError("inputs.who", "3 is not of type 'string'")]),
        ({"who": "a", "x": 1}, [FieldError("inputs.x", "unknown field")]),
        (
            {"who": "a", "tags": ["ok", 2]},
            [FieldError("inputs.tags[1]", "2 is not of type 'string'")],
        ),
    ],
)
def test_validate_inputs_paths(inputs: dict[str, Any], expected: list[FieldError]) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_inputs(SCHEMA, inputs)
    assert caught.value.code == "inputs_invalid"
    assert caught.value.errors == expected
    assert caught.value.message == f"the inputs are invalid: {expected[0]}"


def test_templates_are_not_lenient_in_inputs() -> None:
    with pytest.raises(InvalidInputError):
        validate_inputs({"properties": {"n": {"type": "integer"}}}, {"n": "{{ 1 }}"})


@pytest.mark.parametrize("inputs", [[], "x", None])
def test_validate_inputs_needs_an_object(inputs: Any) -> None:
    with pytest.raises(InvalidInputError) as caught:
        validate_inputs({}, inputs)
    assert caught.value.code == "invalid_input"
    assert caught.value.errors == [FieldError("inputs", "expected an object")]


def test_root_level_schema_errors_have_bare_paths() -> None:
    from quantum_orchestrator.domain.validation import schema_errors

    assert schema_errors(
        {
            "required": ["a"],
            "additionalProperties": False,
            "properties": {"a": {}},
            "type": "object",
        },
        {"b": 1},
        path="",
        lenient_templates=False,
    ) == [FieldError("a", "required"), FieldError("b", "unknown field")]
    assert schema_errors({"type": "string"}, 1, path="", lenient_templates=False) == [
        FieldError("", "1 is not of type 'string'")
    ]


def test_format_path() -> None:
    assert format_path(("nodes", 2, "params", "url")) == "nodes[2].params.url"
    assert format_path([0, "a"]) == "[0].a"
    assert format_path([]) == ""


def test_required_names_with_quotes_keep_their_path() -> None:
    catalog = {
        "x.quoted": capability_node_type(
            name="x.quoted",
            category="specialized",
            params_schema={"type": "object", "required": ["it's", 'say "hi"']},
        )
    }
    assert errors_of(spec(node("a", "x.quoted")), catalog=catalog) == [
        ("nodes[0].params.it's", "required"),
        ('nodes[0].params.say "hi"', "required"),
    ]


def test_other_not_schemas_keep_the_jsonschema_message() -> None:
    catalog = {
        "x.not": capability_node_type(
            name="x.not",
            category="specialized",
            params_schema={
                "type": "object",
                "not": {"required": ["a"]},
                "properties": {"b": {"not": {"type": "string"}}},
            },
        )
    }
    found = errors_of(spec(node("n", "x.not", params={"a": 1, "b": "s"})), catalog=catalog)
    assert [path for path, _ in found] == ["nodes[0].params", "nodes[0].params.b"]
    assert all("should not be valid under" in message for _, message in found)


def test_missing_property_falls_back_to_the_message() -> None:
    import jsonschema

    from quantum_orchestrator.domain.validation import _missing_property

    error = jsonschema.ValidationError("odd", validator="required", validator_value="x")
    assert _missing_property(error) == "odd"


def test_branch_case_without_label_is_reported_and_labels_still_checked() -> None:
    document = spec(
        node(
            "r",
            "core.branch",
            params={"cases": [{"condition": "1"}, {"label": "a", "condition": "1"}]},
        ),
        node("b"),
        connections=[edge("r", "b", "z")],
    )
    assert errors_of(document) == [
        ("nodes[0].params.cases[0].label", "required"),
        ("connections[0].when", "'z' is not a case of 'r' (a)"),
    ]


def test_agent_protocol_module_is_pure_typing() -> None:
    from quantum_orchestrator.domain import agent_protocol

    task: agent_protocol.Task = {
        "step_id": "s",
        "run_id": "r",
        "node_id": "n",
        "node_type": "core.noop",
        "attempt": 1,
        "params": {},
        "timeout": 1.0,
        "idempotency_key": "k",
        "lease_expires_at": "2024-01-01T00:00:00Z",
    }
    # Every key but the optional ones (an older server leaves them out).
    assert set(task) == set(agent_protocol.Task.__annotations__) - {"http_allow", "redact"}
    assert "error" in agent_protocol.Result.__annotations__
