"""Spec validation with errors a person can act on, each located by a precise path.

``validate_spec`` checks the document's shape, then the graph (unique ids, known endpoints, no
cycles), the node types and their params, templates and conditions, and the inputs schema.
Every problem is collected; the error lists them all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema
from pydantic import ValidationError as PydanticValidationError

from quantum_orchestrator.domain.errors import FieldError, InvalidInputError, SpecInvalidError
from quantum_orchestrator.domain.graph import find_cycle
from quantum_orchestrator.domain.node_types import NodeType, builtin_catalog
from quantum_orchestrator.domain.spec import WorkflowSpec
from quantum_orchestrator.domain.templates import check_syntax, has_template, referenced_nodes

_PYDANTIC_MESSAGES = {
    "missing": "required",
    "extra_forbidden": "unknown field",
}


def format_path(parts: tuple[Any, ...] | list[Any]) -> str:
    """``('nodes', 2, 'params', 'url')`` → ``nodes[2].params.url``."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def pydantic_errors(
    exc: PydanticValidationError, *, prefix: tuple[Any, ...] = ()
) -> list[FieldError]:
    """Pydantic's errors as path-precise field errors."""
    found: list[FieldError] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        # The last part of an unknown-field error is the field's own name, whatever it looks like.
        keep = loc[-1:] if error["type"] == "extra_forbidden" else ()
        head = loc[: len(loc) - len(keep)]
        location = tuple(part for part in head if not _is_union_tag(part)) + keep
        message = _PYDANTIC_MESSAGES.get(error["type"], error["msg"])
        if error["type"] == "value_error":
            message = message.removeprefix("Value error, ")
        found.append(FieldError(format_path(prefix + location), message))
    return found


def _is_union_tag(part: Any) -> bool:
    # Pydantic names the union member it tried (``list[float]``, ``Position``); that says
    # nothing to the person who wrote the spec.
    return isinstance(part, str) and ("[" in part or part[:1].isupper())


def schema_errors(
    schema: Mapping[str, Any], instance: Any, *, path: str, lenient_templates: bool
) -> list[FieldError]:
    """Where ``instance`` breaks the JSON Schema; template strings pass when lenient."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema)
    found: list[FieldError] = []
    for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
        if lenient_templates and _templated(error.instance):
            continue
        where = (
            format_path([path, *error.absolute_path])
            if path
            else format_path(list(error.absolute_path))
        )
        if error.validator == "required":
            missing = _missing_property(error)
            found.append(FieldError(f"{where}.{missing}" if where else missing, "required"))
        elif error.validator == "additionalProperties" and isinstance(error.instance, dict):
            schema_part = error.schema if isinstance(error.schema, Mapping) else {}
            allowed = set(schema_part.get("properties", {}))
            for extra in sorted(set(error.instance) - allowed):
                found.append(FieldError(f"{where}.{extra}" if where else extra, "unknown field"))
        elif error.validator == "not" and (names := _exclusive(error.validator_value)):
            found.append(FieldError(where, f"{' and '.join(names)} cannot be used together"))
        else:
            found.append(FieldError(where, error.message))
    return found


def _exclusive(schema: Any) -> list[str]:
    # ``{"not": {"required": ["json", "body"]}}``: the properties may not all be present.
    if isinstance(schema, Mapping) and set(schema) == {"required"}:
        names = schema["required"]
        if isinstance(names, list) and len(names) > 1:
            return [str(name) for name in names]
    return []


def _templated(value: Any) -> bool:
    return isinstance(value, str) and has_template(value)


def _missing_property(error: jsonschema.ValidationError) -> str:
    # jsonschema says ``'url' is a required property`` (the name's repr, so a name holding a
    # quote is written ``"it's"``): match each required name's repr rather than parse quotes.
    names = error.validator_value if isinstance(error.validator_value, list) else []
    for name in names:
        if error.message == f"{name!r} is a required property":
            return str(name)
    return error.message


def validate_spec(
    document: Any,
    *,
    catalog: Mapping[str, NodeType] | None = None,
    allow_unknown_types: bool = False,
) -> WorkflowSpec:
    """Parse and check a spec document; raises ``SpecInvalidError`` listing every problem.

    ``catalog`` defaults to the built-in node types.
    """
    if catalog is None:
        catalog = builtin_catalog()
    if not isinstance(document, dict):
        raise SpecInvalidError(
            "the spec must be a JSON object", [FieldError("", "expected an object")]
        )
    try:
        spec = WorkflowSpec.model_validate(document)
    except PydanticValidationError as exc:
        errors = pydantic_errors(exc)
        raise SpecInvalidError(_summary(errors), errors) from None
    errors = _graph_errors(spec) + _node_errors(spec, catalog, allow_unknown_types)
    errors += _inputs_schema_errors(spec)
    ids = {node.id for node in spec.nodes}
    for key, template in spec.outputs.items():
        where = f"outputs.{key}"
        errors += [FieldError(p, m) for p, m in check_syntax(template, where=where)]
        for ref in sorted(referenced_nodes(template) - ids):
            errors.append(FieldError(where, f"refers to unknown node {ref!r}"))
    if errors:
        raise SpecInvalidError(_summary(errors), errors)
    return spec


def _summary(errors: list[FieldError]) -> str:
    first = str(errors[0])
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"the spec is invalid: {first}{more}"


def _graph_errors(spec: WorkflowSpec) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: dict[str, int] = {}
    for index, node in enumerate(spec.nodes):
        if node.id in seen:
            errors.append(
                FieldError(
                    f"nodes[{index}].id", f"duplicate id {node.id!r} (also nodes[{seen[node.id]}])"
                )
            )
        else:
            seen[node.id] = index
    pairs: set[tuple[str, str]] = set()
    for index, connection in enumerate(spec.connections):
        for end, node_id in (("from", connection.source), ("to", connection.target)):
            if node_id not in seen:
                errors.append(
                    FieldError(f"connections[{index}].{end}", f"unknown node {node_id!r}")
                )
        if connection.source == connection.target:
            errors.append(FieldError(f"connections[{index}]", "a node cannot connect to itself"))
        pair = (connection.source, connection.target)
        if pair in pairs:
            errors.append(FieldError(f"connections[{index}]", "duplicate connection"))
        pairs.add(pair)
    if errors:
        return errors
    edges = [(c.source, c.target) for c in spec.connections]
    cycle = find_cycle([n.id for n in spec.nodes], edges)
    if cycle:
        errors.append(FieldError("connections", "cycle: " + " → ".join(cycle)))
    return errors


def _node_errors(
    spec: WorkflowSpec, catalog: Mapping[str, NodeType], allow_unknown: bool
) -> list[FieldError]:
    errors: list[FieldError] = []
    ids = {node.id for node in spec.nodes}
    ancestry = _Ancestry(spec)
    # The case labels of each core.branch node; None when they are only known at run time.
    branch_labels: dict[str, set[str] | None] = {}
    for index, node in enumerate(spec.nodes):
        where = f"nodes[{index}]"
        node_type = catalog.get(node.type)
        if node_type is None:
            if not allow_unknown:
                errors.append(
                    FieldError(
                        f"{where}.type",
                        f"unknown node type {node.type!r}: not built in and not offered by any "
                        "registered agent",
                    )
                )
        else:
            raw = {key: node.params[key] for key in node_type.raw_params if key in node.params}
            rendered = {k: v for k, v in node.params.items() if k not in node_type.raw_params}
            errors += schema_errors(
                node_type.params_schema,
                {**rendered, **raw},
                path=f"{where}.params",
                lenient_templates=True,
            )
            if node.type == "core.map" and isinstance(node.params.get("node"), dict):
                errors += _map_inner_errors(
                    node.params["node"], f"{where}.params.node", catalog, allow_unknown
                )
            if node.type == "core.branch":
                branch_labels[node.id] = _branch_labels(node.params)
        errors += [FieldError(p, m) for p, m in check_syntax(node.params, where=f"{where}.params")]
        for ref in sorted(referenced_nodes(node.params)):
            if ref not in ids:
                errors.append(FieldError(f"{where}.params", f"refers to unknown node {ref!r}"))
            elif ref == node.id:
                errors.append(
                    FieldError(
                        f"{where}.params",
                        f"refers to its own node {ref!r}: its output does not exist yet",
                    )
                )
            elif not ancestry.is_upstream(ref, node.id):
                errors.append(
                    FieldError(
                        f"{where}.params",
                        f"refers to node {ref!r}, which is not upstream of {node.id!r}: "
                        "connect them so its output exists when this node runs",
                    )
                )
    for index, connection in enumerate(spec.connections):
        if connection.when is None:
            continue
        where = f"connections[{index}].when"
        if has_template(connection.when):
            errors += [FieldError(p, m) for p, m in check_syntax(connection.when, where=where)]
            errors += _when_reference_errors(
                connection.when, where, ids, source=connection.source, ancestry=ancestry
            )
        elif connection.source in branch_labels:
            known = branch_labels[connection.source]
            if known is not None and connection.when not in known:
                labels = ", ".join(sorted(known))
                errors.append(
                    FieldError(
                        where,
                        f"{connection.when!r} is not a case of {connection.source!r} ({labels})",
                    )
                )
        else:
            errors.append(
                FieldError(
                    where,
                    "must be a template such as '{{ nodes.x.output.ok }}', or the label of a "
                    "case when the connection leaves a core.branch node",
                )
            )
    return errors


def _branch_labels(params: Mapping[str, Any]) -> set[str] | None:
    cases = params.get("cases")
    if not isinstance(cases, list):
        return None
    labels: set[str] = set()
    for case in cases:
        label = case.get("label") if isinstance(case, dict) else None
        if isinstance(label, str) and has_template(label):
            return None
        if isinstance(label, str):
            labels.add(label)
    default = params.get("default")
    if isinstance(default, str):
        if has_template(default):
            return None
        labels.add(default)
    return labels


def _when_reference_errors(
    when: str, where: str, ids: set[str], *, source: str, ancestry: _Ancestry
) -> list[FieldError]:
    # A condition is evaluated when its source finishes: it may read the source and the
    # source's ancestors, whose outputs exist by then; anything else would be a race.
    errors: list[FieldError] = []
    for ref in sorted(referenced_nodes(when)):
        if ref not in ids:
            errors.append(FieldError(where, f"refers to unknown node {ref!r}"))
        elif ref != source and not ancestry.is_upstream(ref, source):
            errors.append(
                FieldError(
                    where,
                    f"refers to node {ref!r}, which is not upstream of {source!r}: the "
                    "condition is evaluated when that node finishes",
                )
            )
    return errors


def _map_inner_errors(
    inner: dict[str, Any], where: str, catalog: Mapping[str, NodeType], allow_unknown: bool
) -> list[FieldError]:
    inner_type = catalog.get(str(inner.get("type")))
    if inner_type is None:
        if allow_unknown:
            return []
        return [FieldError(f"{where}.type", f"unknown node type {inner.get('type')!r}")]
    if inner_type.executor != "agent":
        return [FieldError(f"{where}.type", f"{inner_type.name} cannot run inside core.map")]
    params = inner.get("params", {})
    if not isinstance(params, dict):
        return []  # core.map's own schema already says that params must be an object
    return schema_errors(
        inner_type.params_schema, params, path=f"{where}.params", lenient_templates=True
    )


class _Ancestry:
    """Which nodes are upstream of which.

    Each node's ancestors are a bit set (a Python int), built once in topological order: a
    10,000-node chain whose every node reads its predecessor is checked in linear time. Nodes
    on a cycle (already an error) fall back to a search.
    """

    def __init__(self, spec: WorkflowSpec) -> None:
        self._parents: dict[str, list[str]] = {node.id: [] for node in spec.nodes}
        children: dict[str, list[str]] = {node_id: [] for node_id in self._parents}
        for connection in spec.connections:
            if connection.target in self._parents and connection.source in self._parents:
                self._parents[connection.target].append(connection.source)
                children[connection.source].append(connection.target)
        self._bit = {node_id: 1 << i for i, node_id in enumerate(self._parents)}
        self._masks: dict[str, int] = {}
        waiting = {node_id: len(parents) for node_id, parents in self._parents.items()}
        ready = [node_id for node_id, count in waiting.items() if count == 0]
        while ready:
            node_id = ready.pop()
            mask = 0
            for parent in self._parents[node_id]:
                mask |= self._masks[parent] | self._bit[parent]
            self._masks[node_id] = mask
            for child in children[node_id]:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)

    def is_upstream(self, ancestor: str, node_id: str) -> bool:
        """True when a path of connections leads from ``ancestor`` to ``node_id``."""
        mask = self._masks.get(node_id)
        if mask is None:
            return ancestor in self._search(node_id)
        return bool(mask & self._bit.get(ancestor, 0))

    def _search(self, node_id: str) -> set[str]:
        found: set[str] = set()
        pending = list(self._parents.get(node_id, []))
        while pending:
            parent = pending.pop()
            if parent not in found:
                found.add(parent)
                pending.extend(self._parents.get(parent, []))
        return found


def _inputs_schema_errors(spec: WorkflowSpec) -> list[FieldError]:
    if not spec.inputs:
        return []
    try:
        jsonschema.validators.validator_for(spec.inputs).check_schema(spec.inputs)
    except jsonschema.SchemaError as exc:
        return [FieldError(format_path(["inputs", *exc.absolute_path]), exc.message)]
    return []


def validate_inputs(schema: Mapping[str, Any], inputs: Any) -> None:
    """Check a run's inputs against the spec's JSON Schema; raises ``InvalidInputError``."""
    if not isinstance(inputs, dict):
        raise InvalidInputError(
            "inputs must be a JSON object", [FieldError("inputs", "expected an object")]
        )
    if not schema:
        return
    errors = schema_errors(schema, inputs, path="inputs", lenient_templates=False)
    if errors:
        raise InvalidInputError(
            f"the inputs are invalid: {errors[0]}", errors, code="inputs_invalid"
        )
