"""``specialized.extract``: structured data out of HTML (CSS selectors), JSON (JSONPath) or CSV.

``items`` picks repeated records (a selector or a path) and ``fields`` then reads each record
relative to it; without ``items`` the fields are read from the whole document. HTML is parsed
with lexbor (``selectolax``), a spec-following parser that copes with real-world markup; JSONPath
is ``jsonpath-ng``'s extended dialect (filters, arithmetic).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_jsonpath
from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.domain.errors import StepError

DEFAULT_LIMIT = 10_000


def _invalid(message: str) -> StepError:
    return StepError(message, code="invalid_params")


def _field_specs(params: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    """``fields`` with the string shorthand expanded to ``{key: value}``."""
    fields = params.get("fields")
    if fields is None:
        return {}
    if not isinstance(fields, dict):
        raise _invalid("fields must be an object of name: spec")
    specs: dict[str, dict[str, Any]] = {}
    for name, spec in fields.items():
        if isinstance(spec, str):
            spec = {key: spec}
        if not isinstance(spec, dict):
            raise _invalid(f"fields.{name} must be a string or an object")
        specs[name] = spec
    return specs


def _limit(params: dict[str, Any]) -> int:
    limit = params.get("limit", DEFAULT_LIMIT)
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
        raise _invalid("limit must be a positive integer")
    return limit


# -- HTML -------------------------------------------------------------------------------------


def _node_value(node: LexborNode, spec: dict[str, Any]) -> Any:
    attribute = spec.get("attribute")
    if attribute is not None:
        return node.attributes.get(str(attribute))
    if spec.get("html"):
        return node.html
    return node.text(deep=True, separator=" ", strip=True) or ""


def _html_field(root: LexborNode, name: str, spec: dict[str, Any]) -> Any:
    selector = spec.get("selector")
    if selector is None:
        # No selector: the value is read from the record itself (an attribute, its text).
        nodes = [root]
    elif isinstance(selector, str) and selector:
        try:
            nodes = list(root.css(selector))
        except SelectolaxError as exc:
            raise _invalid(f"fields.{name}: invalid CSS selector {selector!r}: {exc}") from exc
    else:
        raise _invalid(f"fields.{name}.selector must be a non-empty string")
    if spec.get("all"):
        return [_node_value(node, spec) for node in nodes]
    return _node_value(nodes[0], spec) if nodes else spec.get("default")


def _select(root: LexborNode, selector: str) -> list[LexborNode]:
    try:
        return list(root.css(selector))
    except SelectolaxError as exc:
        raise _invalid(f"invalid CSS selector {selector!r}: {exc}") from exc


def _extract_html(params: dict[str, Any], content: Any) -> Any:
    if not isinstance(content, str):
        raise _invalid("html content must be a string")
    root = LexborHTMLParser(content).root
    if root is None:
        raise StepError("the HTML document is empty", code="extract_failed")
    specs = _field_specs(params, "selector")
    items = params.get("items")
    if items is None:
        if not specs:
            raise _invalid("html extraction needs fields or items")
        return {name: _html_field(root, name, spec) for name, spec in specs.items()}
    if not isinstance(items, str) or not items:
        raise _invalid("items must be a CSS selector")
    records = _select(root, items)[: _limit(params)]
    if not specs:
        return [_node_value(node, {}) for node in records]
    return [
        {name: _html_field(node, name, spec) for name, spec in specs.items()} for node in records
    ]


# -- JSON -------------------------------------------------------------------------------------


def _compile(path: Any, where: str) -> Any:
    if not isinstance(path, str) or not path:
        raise _invalid(f"{where} must be a JSONPath such as $.items[*].name")
    try:
        return parse_jsonpath(path)
    except JSONPathError as exc:
        raise _invalid(f"{where}: invalid JSONPath {path!r}: {exc}") from exc


def _json_field(document: Any, name: str, spec: dict[str, Any]) -> Any:
    found = [match.value for match in _compile(spec.get("path"), f"fields.{name}").find(document)]
    if spec.get("all"):
        return found
    return found[0] if found else spec.get("default")


def _extract_json(params: dict[str, Any], content: Any) -> Any:
    document = content
    if isinstance(content, str):
        try:
            document = json.loads(content)
        except ValueError as exc:
            raise StepError(f"the content is not JSON: {exc}", code="extract_failed") from exc
    specs = _field_specs(params, "path")
    items = params.get("items")
    if items is None:
        if not specs:
            return document
        return {name: _json_field(document, name, spec) for name, spec in specs.items()}
    records = [match.value for match in _compile(items, "items").find(document)]
    records = records[: _limit(params)]
    if not specs:
        return records
    return [
        {name: _json_field(record, name, spec) for name, spec in specs.items()}
        for record in records
    ]


# -- CSV --------------------------------------------------------------------------------------


def _extract_csv(params: dict[str, Any], content: Any) -> Any:
    if not isinstance(content, str):
        raise _invalid("csv content must be a string")
    delimiter = params.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise _invalid("delimiter must be one character")
    header = params.get("header", True)
    limit = _limit(params)
    reader = csv.reader(io.StringIO(content), delimiter=delimiter, strict=True)
    try:
        rows = [row for row in reader if row]
    except csv.Error as exc:
        raise StepError(
            f"the CSV is malformed (line {reader.line_num}): {exc}", code="extract_failed"
        ) from exc
    if not header:
        return rows[:limit]
    if not rows:
        return []
    names, body = rows[0], rows[1 : limit + 1]
    columns = params.get("columns")
    if columns is not None:
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise _invalid("columns must be a list of column names")
        missing = [c for c in columns if c not in names]
        if missing:
            raise StepError(f"the CSV has no column {missing[0]!r}", code="extract_failed")
    records = []
    for row in body:
        # Short rows get None for the missing cells rather than shifting the others.
        record = {name: (row[i] if i < len(row) else None) for i, name in enumerate(names)}
        if columns is not None:
            record = {c: record[c] for c in columns}
        records.append(record)
    return records


_FORMATS = {"html": _extract_html, "json": _extract_json, "csv": _extract_csv}


async def extract(params: dict[str, Any], ctx: StepContext) -> Any:
    """``specialized.extract``: parse ``content`` in ``format`` and pick the wanted values."""
    extractor = _FORMATS.get(str(params.get("format")))
    if extractor is None:
        raise _invalid(f"format must be html, json or csv, not {params.get('format')!r}")
    if "content" not in params:
        raise _invalid("specialized.extract needs content")
    return extractor(params, params["content"])
