"""Templates in node params and run outputs, rendered in Jinja2's immutable sandbox.

A string that is one whole expression (``"{{ nodes.fetch.output.body }}"``) keeps the type of
its value; any other string with template syntax renders to a string. Names that do not exist
are errors, never silently empty.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from quantum_orchestrator.domain.errors import TemplateError

_WHOLE_EXPRESSION = re.compile(r"^\s*\{\{(?P<expr>.*?)\}\}\s*$", re.DOTALL)
_NODE_REFERENCE = re.compile(
    r"\bnodes\s*(?:\.\s*(?P<attr>[A-Za-z_][A-Za-z0-9_]*)|\[\s*['\"](?P<key>[^'\"]+)['\"]\s*\])"
)
# A template may build strings and lists, but not unbounded ones: this caps the size of the
# result of `*` and `**` so one expression cannot exhaust the server's memory.
_MAX_PRODUCT = 1_000_000


def _bounded_size(value: Any) -> int:
    if isinstance(value, str | list | tuple | bytes):
        return len(value)
    return 1


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 1000:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        if isinstance(right, int) and _bounded_size(left) * abs(right) > _MAX_PRODUCT:
            raise SecurityError("the result of * would be too large")
        if isinstance(left, int) and _bounded_size(right) * abs(left) > _MAX_PRODUCT:
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
def _compile_template(source: str) -> Any:
    return _environment().from_string(source)


def _to_json_value(value: Any, where: str) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, Mapping):
        return {str(key): _to_json_value(item, where) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_to_json_value(item, where) for item in value]
    raise TemplateError(f"{where}: the expression gives a {type(value).__name__}, not a JSON value")


def render_string(source: str, context: Mapping[str, Any], *, where: str = "") -> Any:
    """Render one string; a whole expression keeps its type."""
    if not has_template(source):
        return source
    try:
        match = _WHOLE_EXPRESSION.match(source)
        if match and "{{" not in match["expr"] and "}}" not in match["expr"]:
            value = _compile_expression(match["expr"].strip())(**context)
            return _to_json_value(value, where)
        return _compile_template(source).render(**context)
    except TemplateError:
        raise
    except TemplateSyntaxError as exc:
        raise TemplateError(f"{_prefix(where)}template syntax error: {exc.message}") from None
    except UndefinedError as exc:
        raise TemplateError(f"{_prefix(where)}{exc.message}") from None
    except SecurityError as exc:
        raise TemplateError(f"{_prefix(where)}not allowed: {exc}") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, RecursionError) as exc:
        raise TemplateError(f"{_prefix(where)}{type(exc).__name__}: {exc}") from None


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


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
                _compile_template(value)
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


def is_truthy(value: Any) -> bool:
    """How a rendered condition decides: JSON-ish truth, with the strings "false"/"0" false."""
    if isinstance(value, str):
        return value.strip().lower() not in ("", "false", "0", "no", "none", "null")
    return bool(value)
