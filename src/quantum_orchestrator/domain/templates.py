"""Templates in node params and run outputs, rendered in Jinja2's immutable sandbox.

A string that is one whole expression (``"{{ nodes.fetch.output.body }}"``) keeps the type of
its value; any other string with template syntax renders to a string. Names that do not exist
are errors, never silently empty.
"""

from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from quantum_orchestrator.domain.errors import TemplateError
from quantum_orchestrator.domain.secrets import SecretNames

_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.DOTALL)
_NODE_REFERENCE = re.compile(
    r"\bnodes\s*(?:\.\s*(?P<attr>[A-Za-z_][A-Za-z0-9_]*)|\[\s*['\"](?P<key>[^'\"]+)['\"]\s*\])"
)
# A template may build strings and lists, but not unbounded ones: this caps the size of the
# result of `*` and `**` so one expression cannot exhaust the server's memory.
_MAX_PRODUCT = 1_000_000
# Integers are capped too: ``(10 ** 1000) ** 1000`` is a million digits, slow to compute and
# impossible to store (Python refuses to print an int of more than 4300 digits).
_MAX_INT_BITS = 10_000


def _is_sequence(value: Any) -> bool:
    return isinstance(value, str | list | tuple | bytes)


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, SecretNames) and attribute not in obj:
            raise obj.missing(attribute)
        # Data first: `inputs.items` or `nodes.x.output.keys` must mean the key a user wrote
        # in their JSON, not a method of Python's dict.
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, SecretNames) and argument not in obj:
            raise obj.missing(str(argument))
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 1000:
                raise SecurityError("exponent too large")
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() * right > _MAX_INT_BITS
            ):
                raise SecurityError("the result of ** would be too large")
            return operator.pow(left, right)
        if (
            isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() + right.bit_length() > _MAX_INT_BITS
        ):
            raise SecurityError("the result of * would be too large")
        if _is_sequence(left) and isinstance(right, int) and len(left) * right > _MAX_PRODUCT:
            raise SecurityError("the result of * would be too large")
        if _is_sequence(right) and isinstance(left, int) and len(right) * left > _MAX_PRODUCT:
            raise SecurityError("the result of * would be too large")
        return operator.mul(left, right)


def _fromjson(value: str) -> Any:
    return json.loads(value)


@lru_cache(maxsize=1)
def _environment() -> _Sandbox:
    env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
    env.filters["fromjson"] = _fromjson
    return env


def has_template(value: str) -> bool:
    """True when the string contains template syntax."""
    return "{{" in value or "{%" in value


@lru_cache(maxsize=4096)
def _compile_expression(source: str) -> Callable[..., Any]:
    return _environment().compile_expression(source, undefined_to_none=False)


@lru_cache(maxsize=4096)
def _whole_expression(source: str) -> str | None:
    """The expression when the string is exactly one ``{{ ... }}`` (whitespace around allowed).

    Jinja's parser decides, so ``{{ {'a': {'b': 1}} }}`` (a ``}}`` inside the expression) is
    one expression while ``{{ a }} {{ b }}`` is not.
    """
    match = _WHOLE_EXPRESSION.match(source)
    if not match:
        return None
    try:
        body = _environment().parse(source).body
    except TemplateSyntaxError:
        return None  # rendering as a template reports the error
    if len(body) != 1 or not isinstance(body[0], nodes.Output):
        return None
    parts = [
        part
        for part in body[0].nodes
        if not (isinstance(part, nodes.TemplateData) and not part.data.strip())
    ]
    if len(parts) != 1 or isinstance(parts[0], nodes.TemplateData):
        return None
    expression = match["expr"]
    # ``{{-`` and ``-}}`` (or ``+``) control whitespace; they are not part of the expression.
    if expression[:1] in ("-", "+"):
        expression = expression[1:]
    if expression[-1:] in ("-", "+"):
        expression = expression[:-1]
    return expression.strip()


@lru_cache(maxsize=4096)
def _compile_template(source: str) -> Any:
    return _environment().from_string(source)


def _to_json_value(value: Any, where: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise TemplateError(f"{_prefix(where)}the expression gives {value}, not a JSON number")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Mapping):
        return {str(key): _to_json_value(item, where) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json_value(item, where) for item in value]
    raise TemplateError(
        f"{_prefix(where)}the expression gives a {type(value).__name__}, not a JSON value"
    )


def render_string(source: str, context: Mapping[str, Any], *, where: str = "") -> Any:
    """Render one string; a whole expression keeps its type."""
    if not has_template(source):
        return source
    try:
        expression = _whole_expression(source)
        if expression is not None:
            value = _compile_expression(expression)(**context)
            return _to_json_value(value, where)
        return _compile_template(source).render(**context)
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{_prefix(where)}template syntax error: {exc.message}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{_prefix(where)}{_undefined_message(exc, context)}") from None
    except SecurityError as exc:
        raise TemplateError(f"{_prefix(where)}not allowed: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - templates are user code: any failure is theirs
        raise TemplateError(f"{_prefix(where)}{type(exc).__name__}: {exc}") from None


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


def _undefined_message(exc: UndefinedError, context: Mapping[str, Any]) -> str:
    message = exc.message or "undefined"
    if message.endswith(" is undefined"):
        # ``secrets`` is only loaded when a template mentions it, but it can always be used.
        known = {*context, "secrets"} if "inputs" in context else set(context)
        names = ", ".join(sorted(known)) or "none"
        message += f" (the names a template can use here: {names})"
    return message


def render(value: Any, context: Mapping[str, Any], *, where: str = "") -> Any:
    """Render every string inside a JSON value, keeping its shape."""
    if isinstance(value, str):
        return render_string(value, context, where=where)
    if isinstance(value, dict):
        return {
            key: render(item, context, where=f"{where}.{key}" if where else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [render(item, context, where=f"{where}[{i}]") for i, item in enumerate(value)]
    return value


def check_syntax(value: Any, *, where: str = "") -> list[tuple[str, str]]:
    """Every template syntax error inside a JSON value, as ``(path, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    if isinstance(value, str):
        if has_template(value):
            try:
                # Generating the Python source finds syntax errors and unknown filters and
                # tests; compiling it to bytecode (half the cost) can wait until a run renders.
                _environment().compile(value, raw=True)
            except TemplateSyntaxError as exc:
                problems.append((where, f"template syntax error: {exc.message}"))
    elif isinstance(value, dict):
        for key, item in value.items():
            problems += check_syntax(item, where=f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems += check_syntax(item, where=f"{where}[{i}]")
    return problems


def referenced_nodes(value: Any) -> set[str]:
    """The node ids a JSON value's templates read (``nodes.<id>`` or ``nodes['<id>']``)."""
    found: set[str] = set()
    for text in _strings(value):
        if has_template(text):
            for match in _NODE_REFERENCE.finditer(text):
                found.add(match["attr"] or match["key"])
    return found


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# A template that is not one whole expression renders to text, so the usual spellings of
# false in text must count as false.
_FALSY_TEXT = frozenset({"", "false", "0", "no", "off", "none", "null"})


def is_truthy(value: Any) -> bool:
    """How a rendered condition decides: JSON truth, with "false", "0", "no", "off", "none"
    and "null" (any case) false too."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSY_TEXT
    return bool(value)
