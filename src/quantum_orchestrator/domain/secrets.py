"""Secrets in templates, bound late: params hold markers, agents get values.

When params are rendered (at queue time) ``{{ secrets.NAME }}`` becomes a marker string; the
step's stored params, its API view and its events therefore never hold a value. Only when an
agent claims the step are the markers replaced by the decrypted values, in the task handed out;
and what the step reports back (output, error) is redacted before it is stored.

The marker is an opaque string: a filter applied to ``secrets.NAME`` (``| upper``, ``~``
concatenation is fine, slicing is not) works on the marker, not on the value, so secrets must be
used as plain values inside strings. (NUL would be a safer delimiter but PostgreSQL's ``jsonb``
refuses ``\\u0000``, so the delimiter is the ASCII unit separator.)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from quantum_orchestrator.domain.errors import TemplateError

NAME_PATTERN = r"^[A-Z_][A-Z0-9_]{0,99}$"
_DELIMITER = "\x1f"
_MARKER = re.compile(_DELIMITER + r"qo-secret:([A-Z_][A-Z0-9_]{0,99})" + _DELIMITER)
_MENTION = re.compile(r"\bsecrets\b")
REDACTED = "***"


def marker(name: str) -> str:
    """The placeholder that stands for secret ``name`` in stored params."""
    return f"{_DELIMITER}qo-secret:{name}{_DELIMITER}"


class SecretNames(Mapping[str, str]):
    """``secrets`` in a template context: each defined name gives its marker."""

    def __init__(self, names: Iterable[str]) -> None:
        self._names = frozenset(names)

    def __getitem__(self, name: str) -> str:
        if name not in self._names:
            raise KeyError(name)
        return marker(name)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def missing(self, name: str) -> TemplateError:
        """The error for a name that is not a secret of the workspace."""
        return TemplateError(
            f"secrets.{name} is undefined: the workspace has no secret named {name!r}"
        )


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def mentions_secrets(value: Any) -> bool:
    """True when a template in ``value`` may read ``secrets``."""
    return any(("{{" in text or "{%" in text) and _MENTION.search(text) for text in _strings(value))


def marked_names(value: Any) -> set[str]:
    """The secret names whose markers appear in ``value``."""
    found: set[str] = set()
    for text in _strings(value):
        if _DELIMITER in text:
            found.update(_MARKER.findall(text))
    return found


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, change) for item in value]
    return value


def substitute(value: Any, values: Mapping[str, str]) -> Any:
    """``value`` with every marker replaced by its secret's value (recursively)."""

    def change(text: str) -> str:
        if _DELIMITER not in text:
            return text
        return _MARKER.sub(lambda m: values.get(m[1], m[0]), text)

    return _map_strings(value, change)


def as_templates(value: Any) -> Any:
    """``value`` with markers shown as the ``{{ secrets.NAME }}`` they came from."""

    def change(text: str) -> str:
        if _DELIMITER not in text:
            return text
        return _MARKER.sub(lambda m: "{{ secrets." + m[1] + " }}", text)

    return _map_strings(value, change)


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of the given values replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def redact(value: Any, secrets: Iterable[str]) -> Any:
    """``value`` with every occurrence of the given values in its strings (keys included)
    replaced by ``***``."""
    known = [s for s in secrets if s]
    if not known:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return redact_text(item, known)
        if isinstance(item, dict):
            return {redact_text(str(k), known): walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)
