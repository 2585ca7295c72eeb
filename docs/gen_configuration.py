"""Generate the settings tables of ``docs/configuration.md`` from ``Settings``.

Usage::

    python docs/gen_configuration.py           # print the generated section
    python docs/gen_configuration.py --write   # replace it inside docs/configuration.md

Only the part between the ``BEGIN``/``END`` markers is generated; the prose around it is kept.
``tests/unit/test_docs_configuration.py`` fails when that part is out of date.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from quantum_orchestrator.settings import Settings

DOC = Path(__file__).with_name("configuration.md")
BEGIN = "<!-- BEGIN GENERATED: python docs/gen_configuration.py --write -->"
END = "<!-- END GENERATED -->"
PREFIX = "QO_"
DELIMITER = "__"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if annotation is type(None):
        return "null"
    if annotation is Path:
        return "path"
    return getattr(annotation, "__name__", str(annotation))


def _markdown(text: str) -> str:
    """Docstring text as Markdown: reST's double backticks become single ones."""
    return text.replace("``", "`").replace("|", "\\|")


def _default(field: FieldInfo) -> str:
    factory = field.default_factory
    if factory in (list, dict):
        return "`[]`" if factory is list else "`{}`"
    if factory is not None:
        doc = (getattr(factory, "__doc__", None) or "").strip().splitlines()
        return _markdown(doc[0].rstrip(".")) if doc else f"`{factory.__name__}()`"
    value = field.default
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" else f"`{value}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int) and value >= 1_048_576 and value % 1024 == 0:
        return f"`{value}` ({value / 1_048_576:g} MiB)"
    return f"`{value}`"


def _bounds(field: FieldInfo) -> str:
    parts: list[str] = []
    for item in field.metadata:
        for attr, symbol in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            value = getattr(item, attr, None)
            if value is not None:
                parts.append(f"{symbol} {value}")
    return ", ".join(parts)


def _rows(model: type[BaseModel], env_prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            continue
        rows.append(
            f"| `{env_prefix}{name.upper()}` | {_type_name(annotation)} | {_default(field)} "
            f"| {_bounds(field)} | {_markdown(field.description or '')} |"
        )
    return rows


def _table(rows: list[str]) -> list[str]:
    return [
        "| variable | type | default | allowed | meaning |",
        "|---|---|---|---|---|",
        *rows,
    ]


def generate() -> str:
    """The generated section of ``docs/configuration.md``, markers included."""
    lines = [BEGIN, "", "### Server", "", *_table(_rows(Settings, PREFIX))]
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if not (isinstance(group, type) and issubclass(group, BaseModel)):
            continue
        about = " ".join((group.__doc__ or "").split())
        env_prefix = f"{PREFIX}{name.upper()}{DELIMITER}"
        lines += ["", f"### `{name}`", ""]
        if about:
            lines += [_markdown(about), ""]
        lines += _table(_rows(group, env_prefix))
    lines += ["", END]
    return "\n".join(lines) + "\n"


def current_section(text: str) -> str:
    """The generated section as it stands in ``text`` (empty when the markers are missing)."""
    start = text.find(BEGIN)
    stop = text.find(END)
    if start < 0 or stop < start:
        return ""
    return text[start : stop + len(END)] + "\n"


def write() -> None:
    """Replace the generated section of the document in place."""
    text = DOC.read_text(encoding="utf-8")
    old = current_section(text)
    if not old:
        raise SystemExit(f"{DOC}: the {BEGIN!r} / {END!r} markers are missing")
    DOC.write_text(text.replace(old, generate()), encoding="utf-8")


if __name__ == "__main__":
    if "--write" in sys.argv[1:]:
        write()
    else:
        sys.stdout.write(generate())
