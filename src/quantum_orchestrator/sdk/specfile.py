"""Read workflow specs (and other small documents) from YAML or JSON files.

The CLI only parses files; the server validates what they mean. Parsing errors name the file,
the line and the column so that a person can go straight to the mistake.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Literal

import yaml

from quantum_orchestrator.domain.errors import QOError

Format = Literal["yaml", "json"]

__all__ = ["SpecFileError", "load_document", "load_spec", "parse_document", "parse_spec"]


class SpecFileError(QOError):
    """A file could not be read or parsed; the message says where and why."""

    code = "spec_file_invalid"

    def __init__(
        self, message: str, *, source: str, line: int | None = None, column: int | None = None
    ):
        location = source
        if line is not None:
            location += f":{line}"
            if column is not None:
                location += f":{column}"
        super().__init__(f"{location}: {message}")
        self.source = source
        self.line = line
        self.column = column


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate keys (PyYAML silently keeps the last one)."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    result: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a mapping key must be a plain value", key_node.start_mark
            )
        if key in result:
            raise yaml.constructor.ConstructorError(
                "while reading a mapping",
                node.start_mark,
                f"duplicate key {key!r}",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _jsonable(value: Any) -> Any:
    """Turn what YAML may produce (dates, non-string keys) into JSON-compatible values."""
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, _dt.date | _dt.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def _guess_format(text: str) -> Format:
    stripped = text.lstrip()
    return "json" if stripped.startswith(("{", "[")) else "yaml"


def _format_for(path: Path, text: str) -> Format:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix == ".json":
        return "json"
    return _guess_format(text)


def parse_document(text: str, *, source: str = "<string>", fmt: Format | None = None) -> Any:
    """Parse YAML or JSON text (``fmt``, else guessed from the content) into plain values."""
    fmt = fmt or _guess_format(text)
    if not text.strip():
        raise SpecFileError("the document is empty", source=source)
    if fmt == "json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecFileError(
                f"invalid JSON: {exc.msg}", source=source, line=exc.lineno, column=exc.colno
            ) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - _StrictLoader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise SpecFileError(
            f"invalid YAML: {problem}",
            source=source,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as exc:
        raise SpecFileError(f"invalid YAML: {exc}", source=source) from None
    return _jsonable(data)


def parse_spec(text: str, *, source: str = "<string>", fmt: Format | None = None) -> dict[str, Any]:
    """Parse a workflow spec; it must be a mapping (the server checks the rest)."""
    data = parse_document(text, source=source, fmt=fmt)
    return _require_mapping(data, source=source, what="a workflow spec")


def _require_mapping(data: Any, *, source: str, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        found = "a list" if isinstance(data, list) else f"a {type(data).__name__}"
        if data is None:
            found = "nothing"
        raise SpecFileError(
            f"{what} must be a mapping (an object with keys), found {found}", source=source
        )
    return data


def _read(path: str | Path) -> tuple[Path, str]:
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise SpecFileError("no such file", source=str(file)) from None
    except IsADirectoryError:
        raise SpecFileError("is a directory, not a file", source=str(file)) from None
    except PermissionError:
        raise SpecFileError("permission denied", source=str(file)) from None
    except OSError as exc:
        raise SpecFileError(
            f"cannot read the file: {exc.strerror or exc}", source=str(file)
        ) from None
    try:
        return file, raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecFileError(
            f"not UTF-8 text (bad byte at offset {exc.start})", source=str(file)
        ) from None


def load_document(path: str | Path, *, what: str = "the file") -> dict[str, Any]:
    """Read a YAML or JSON file that must hold a mapping (inputs files, for example)."""
    file, text = _read(path)
    data = parse_document(text, source=str(file), fmt=_format_for(file, text))
    return _require_mapping(data, source=str(file), what=what)


def load_spec(path: str | Path) -> dict[str, Any]:
    """Read a workflow spec from a ``.yaml``/``.yml``/``.json`` file (other names: by content)."""
    return load_document(path, what="a workflow spec")
