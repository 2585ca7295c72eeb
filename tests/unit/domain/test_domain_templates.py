"""Templates: typed whole expressions, strict names, the sandbox and the static helpers."""

from __future__ import annotations

from typing import Any

import pytest

from quantum_orchestrator.domain.errors import TemplateError
from quantum_orchestrator.domain.templates import (
    check_syntax,
    has_template,
    is_truthy,
    referenced_nodes,
    render,
    render_string,
)

CONTEXT: dict[str, Any] = {
    "inputs": {"n": 3, "who": "ada", "flags": [True, False], "doc": '{"a": [1, 2]}'},
    "nodes": {"fetch": {"output": {"status": 200, "body": {"items": [1, 2]}}, "state": "ok"}},
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("{{ inputs.n }}", 3),
        ("{{ inputs.n + 1 }}", 4),
        ("{{ 1.5 }}", 1.5),
        ("{{ [1, inputs.n] }}", [1, 3]),
        ("{{ nodes.fetch.output.body }}", {"items": [1, 2]}),
        ("{{ {'a': inputs.who, 1: 2} }}", {"a": "ada", "1": 2}),
        ("{{ (1, 2) }}", [1, 2]),
        ("{{ inputs.n > 2 }}", True),
        ("{{ none }}", None),
        ("{{ inputs.flags }}", [True, False]),
        ("  {{ inputs.n }}\n", 3),
        ("{{ inputs.doc | fromjson }}", {"a": [1, 2]}),
        ("{{ 3 * 2000000 }}", 6_000_000),
        ("{{ 2 ** 64 * 2 ** 64 }}", 2**128),
        ("{{ 'ab' * 3 }}", "ababab"),
        ("{{ 2 * [0] }}", [0, 0]),
        ("{{ {'a': {'b': inputs.n}} }}", {"a": {"b": 3}}),
        ("{{ [{'a': {}}] }}", [{"a": {}}]),
        ("{{- inputs.n -}}", 3),
        ("{{ -inputs.n }}", -3),
        ("{{ inputs.n - 1 -}}", 2),
        ("{{ '}} {{' }}", "}} {{"),
    ],
)
def test_whole_expression_keeps_its_type(source: str, expected: Any) -> None:
    value = render_string(source, CONTEXT)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("hello {{ inputs.who }}", "hello ada"),
        ("{{ inputs.n }}{{ inputs.n }}", "33"),
        ("{{ inputs.n }} and {{ inputs.who }}", "3 and ada"),
        ("{% for f in inputs.flags %}{{ f }},{% endfor %}", "True,False,"),
        ("{{ '}}' }}", "}}"),
        ("{{ inputs.n }} {{ inputs.n }}", "3 3"),
        ("{{ {1: {2: 3}} }}{{ {4: 5} }}", "{1: {2: 3}}{4: 5}"),
        ("{{ inputs.n }}{# note #}", "3"),
        ("{% if true %}{{ inputs.n }}{% endif %}", "3"),
        ("{{ inputs.n }}{% if false %}{{ 1 }}{% endif %}", "3"),
        ("{{ inputs.n }}{% if true %}-{% endif %}{{ inputs.n }}", "3-3"),
        ("no template", "no template"),
        ("", ""),
    ],
)
def test_mixed_strings_render_to_strings(source: str, expected: str) -> None:
    assert render_string(source, CONTEXT) == expected


def test_render_keeps_the_shape_and_locates_errors() -> None:
    value = {"a": ["{{ inputs.n }}", {"b": "x{{ inputs.who }}"}], "c": 7, "d": None}
    assert render(value, CONTEXT) == {"a": [3, {"b": "xada"}], "c": 7, "d": None}
    with pytest.raises(TemplateError) as caught:
        render({"a": [{"b": "{{ missing }}"}]}, CONTEXT, where="params")
    assert caught.value.message.startswith("params.a[0].b: 'missing' is undefined")
    with pytest.raises(TemplateError) as caught:
        render({"a": "{{ missing }}"}, CONTEXT)
    assert caught.value.message.startswith("a: ")


def test_undefined_name_lists_what_exists() -> None:
    with pytest.raises(TemplateError) as caught:
        render_string("{{ input.n }}", CONTEXT, where="params.x")
    assert caught.value.code == "template_error"
    assert caught.value.message == (
        "params.x: 'input' is undefined (the names a template can use here: inputs, nodes, secrets)"
    )
    with pytest.raises(TemplateError) as caught:
        render_string("{{ x }}", {})
    assert caught.value.message == "'x' is undefined (the names a template can use here: none)"


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ nodes.fetch.output.missing }}", "has no attribute 'missing'"),
        ("{{ nodes.nope.output }}", "has no attribute 'nope'"),
        ("x {{ inputs.nope }}", "has no attribute 'nope'"),
        ("{% for x in inputs.nope %}{% endfor %}", "has no attribute 'nope'"),
    ],
)
def test_strict_undefined(source: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_string(source, CONTEXT, where="w")
    assert caught.value.message.startswith("w: ")
    assert fragment in caught.value.message


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner.__init__.__globals__.os }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ inputs.__class__ }}",
        "{{ inputs.flags.__len__ }}",
        "{{ inputs.flags.append(1) }}",
        "{{ inputs.update({'a': 1}) }}",
        "{{ '{0.__class__}'.format(inputs.who) }}",
        "x {{ ''.__class__ }}",
        "{{ ().__class__.__base__.__subclasses__() }}",
        "{{ self.__init__ }}",
        "{{ 'a' * 10000000 }}",
        "{{ 10000000 * 'a' }}",
        "{{ [1] * 2000000 }}",
        "{{ 'ab' * 600000 }}",
        "{{ 10 ** 10000 }}",
        "{{ 2.0 ** 5000 }}",
        "{{ 2 ** 1000 ** 1000 }}",
        "{{ (10 ** 1000) ** 10 }}",
        "x {{ (10 ** 1000) ** 10 }}",
        "{{ (2 ** 1000) ** 1000 }}",
        "{{ (10 ** 1000 * 10 ** 1000) * (10 ** 1000 * 10 ** 1000) }}",
    ],
)
def test_sandbox_refuses(source: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_string(source, CONTEXT, where="params.x")
    assert caught.value.message.startswith("params.x: ")
    assert "not allowed" in caught.value.message or "undefined" in caught.value.message


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("{{ 1 / 0 }}", "ZeroDivisionError"),
        ("{{ inputs.flags[5] }}", "no element 5"),
        ("{{ 'x' | fromjson }}", "JSONDecodeError"),
        ("{{ range(3) }}", "gives a range, not a JSON value"),
        ("{{ (-8) ** 0.5 }}", "gives a complex, not a JSON value"),
        ("{{ 1e308 * 10 }}", "gives inf, not a JSON number"),
        ("{{ [1e308 * 10] }}", "gives inf, not a JSON number"),
        ("{{ 'nan' | float }}", "Error"),
        ("{{ }}", "template syntax error"),
        ("{{ 1 }", "template syntax error"),
        ("{% if %}", "template syntax error"),
        ("{{ x | nofilter }}", "template syntax error: No filter named 'nofilter'"),
    ],
)
def test_failures_become_template_errors(source: str, fragment: str) -> None:
    with pytest.raises(TemplateError) as caught:
        render_string(source, CONTEXT)
    assert fragment in caught.value.message


def test_fromjson_filter() -> None:
    assert render_string("{{ '[1, {\"a\": null}]' | fromjson }}", {}) == [1, {"a": None}]


def test_has_template() -> None:
    assert has_template("{{ x }}")
    assert has_template("{% if x %}{% endif %}")
    assert not has_template("{ x }")
    assert not has_template("plain")


def test_check_syntax_locates_every_problem() -> None:
    value = {"a": ["{{ ok }}", {"b": "{{ bad "}], "c": "{% if %}", "d": 3, "e": "plain {"}
    problems = check_syntax(value, where="params")
    assert [path for path, _ in problems] == ["params.a[1].b", "params.c"]
    assert all(message.startswith("template syntax error: ") for _, message in problems)
    assert check_syntax("{{ x ", where="") == [
        (
            "",
            "template syntax error: unexpected end of template, expected 'end of print statement'.",
        )
    ]
    assert check_syntax({"k": "{{ y"})[0][0] == "k"
    assert check_syntax(["{{ fine }}", 1, None]) == []


def test_referenced_nodes() -> None:
    value = {
        "a": "{{ nodes.x.output }} {{ nodes['y-1'].output }} {{ nodes [\"z\"].state }}",
        "b": ["nodes.plain_text_is_ignored", "{{ nodes . w }}"],
        "c": {"d": "{% if nodes.v.output %}yes{% endif %}"},
        "e": 1,
        "f": "{{ mynodes.q }} {{ inputs.nodes }}",
    }
    assert referenced_nodes(value) == {"x", "y-1", "z", "w", "v"}
    assert referenced_nodes("{{ inputs.a }}") == set()
    assert referenced_nodes(None) == set()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        (None, False),
        (0, False),
        (1, True),
        (0.0, False),
        ([], False),
        ([0], True),
        ({}, False),
        ({"a": 1}, True),
        ("", False),
        ("  ", False),
        ("false", False),
        ("False", False),
        (" FALSE ", False),
        ("0", False),
        ("no", False),
        ("none", False),
        ("null", False),
        ("off", False),
        ("OFF", False),
        ("true", True),
        ("yes", True),
        ("anything", True),
        ("00", True),
    ],
)
def test_is_truthy(value: Any, expected: bool) -> None:
    assert is_truthy(value) is expected


def test_data_keys_win_over_dict_methods() -> None:
    context = {"inputs": {"items": [1, 2], "keys": "k", "values": {"a": 1}}}
    assert render_string("{{ inputs.items }}", context) == [1, 2]
    assert render_string("{{ inputs.keys }}", context) == "k"
    assert render_string("{{ inputs.values.a }}", context) == 1
    # Without such a key the method is still reachable (and safe in the sandbox).
    assert render_string("{{ inputs.values.items() | list }}", context) == [["a", 1]]
