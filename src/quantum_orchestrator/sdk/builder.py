"""Write a workflow in Python instead of YAML.

>>> wf = Workflow("digest")
>>> fetch = wf.node("fetch", "specialized.http_request", url="{{ inputs.url }}")
>>> shape = wf.node("shape", "specialized.transform", value="{{ nodes.fetch.output }}")
>>> _ = fetch >> shape
>>> wf.to_spec()["connections"]
[{'from': 'fetch', 'to': 'shape'}]

The builder only assembles the spec; the server validates it (``Client.validate``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, overload

import yaml

__all__ = ["Node", "Workflow"]

# Node options that are not params; a param with one of these names goes in ``params=``.
_OPTIONS = ("name", "retry", "timeout", "trigger_rule", "pool", "position")


def _plain(value: Any) -> Any:
    """Deep-copy into dicts and lists so the spec dumps to YAML/JSON and later edits don't leak."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


class Node:
    """One node of a :class:`Workflow`, returned by :meth:`Workflow.node`.

    ``a >> b`` connects ``a`` to ``b`` and returns ``b`` so chains read left to right;
    ``a >> [b, c]`` fans out and ``[a, b] >> c`` fans in.
    """

    __slots__ = ("_workflow", "id", "options", "params", "type")

    def __init__(
        self,
        *,
        workflow: Workflow,
        id: str,
        type: str,
        params: dict[str, Any],
        options: dict[str, Any],
    ) -> None:
        self._workflow = workflow
        self.id = id
        self.type = type
        self.params = params
        self.options = options

    @property
    def workflow(self) -> Workflow:
        """The workflow this node belongs to."""
        return self._workflow

    @overload
    def __rshift__(self, other: Node) -> Node: ...

    @overload
    def __rshift__(self, other: Sequence[Node]) -> list[Node]: ...

    def __rshift__(self, other: Node | Sequence[Node]) -> Node | list[Node]:
        """Connect this node to ``other`` (a node or a list of nodes)."""
        if isinstance(other, Node):
            self._workflow.connect(self, other)
            return other
        targets = list(other)
        for target in targets:
            self._workflow.connect(self, target)
        return targets

    def __rrshift__(self, other: Sequence[Node]) -> Node:
        """Connect every node of ``other`` to this node (``[a, b] >> c``)."""
        for source in other:
            self._workflow.connect(source, self)
        return self

    def to_dict(self) -> dict[str, Any]:
        """The node as it appears in the spec."""
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if "name" in self.options:
            data["name"] = self.options["name"]
        if self.params:
            data["params"] = _plain(self.params)
        for key in _OPTIONS:
            if key != "name" and key in self.options:
                data[key] = _plain(self.options[key])
        return data

    def __repr__(self) -> str:
        return f"Node(id={self.id!r}, type={self.type!r})"


class Workflow:
    """A workflow spec under construction; :meth:`to_spec` gives the plain dict.

    ``name`` is positional because every workflow has one; everything else is keyword-only.
    ``inputs`` is a JSON Schema, ``outputs`` maps keys to templates, and ``defaults`` holds
    ``retry``/``timeout`` applied to nodes that don't set their own.
    """

    def __init__(
        self,
        name: str,
        *,
        description: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        outputs: Mapping[str, str] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a workflow needs a non-empty name")
        self.name = name
        self.description = description
        self.inputs = _plain(inputs) if inputs is not None else None
        self.outputs: dict[str, str] = dict(outputs or {})
        self.defaults = _plain(defaults) if defaults is not None else None
        self._nodes: dict[str, Node] = {}
        self._connections: list[dict[str, Any]] = []

    @property
    def nodes(self) -> list[Node]:
        """The nodes, in the order they were added."""
        return list(self._nodes.values())

    @property
    def connections(self) -> list[dict[str, Any]]:
        """The connections as ``{from, to, when?}`` dicts, in the order they were made."""
        return [dict(c) for c in self._connections]

    def node(
        self,
        id: str,
        type: str,
        /,
        *,
        params: Mapping[str, Any] | None = None,
        name: str | None = None,
        retry: Mapping[str, Any] | None = None,
        timeout: float | str | None = None,
        trigger_rule: str | None = None,
        pool: str | None = None,
        position: Sequence[float] | Mapping[str, float] | None = None,
        **kwargs: Any,
    ) -> Node:
        """Add a node; extra keyword arguments are its params.

        ``params=`` is for params named like a reserved keyword (``name``, ``retry``,
        ``timeout``, ``trigger_rule``, ``pool``, ``position``, ``params``). A key given both
        ways raises ``ValueError``, as does an id already in use.
        """
        if not isinstance(id, str) or not id:
            raise ValueError("a node id must be a non-empty string")
        if not isinstance(type, str) or not type:
            raise ValueError(f"node {id!r}: the type must be a non-empty string")
        if id in self._nodes:
            raise ValueError(f"duplicate node id {id!r} in workflow {self.name!r}")
        merged: dict[str, Any] = dict(params or {})
        clash = sorted(set(merged) & set(kwargs))
        if clash:
            raise ValueError(f"node {id!r}: param(s) {', '.join(clash)} given twice")
        merged.update(kwargs)
        given = {
            "name": name,
            "retry": retry,
            "timeout": timeout,
            "trigger_rule": trigger_rule,
            "pool": pool,
            "position": position,
        }
        options = {k: v for k, v in given.items() if v is not None}
        created = Node(workflow=self, id=id, type=type, params=merged, options=options)
        self._nodes[id] = created
        return created

    def _resolve(self, ref: Node | str) -> str:
        if isinstance(ref, Node):
            if ref.workflow is not self:
                raise ValueError(f"node {ref.id!r} belongs to workflow {ref.workflow.name!r}")
            return ref.id
        if ref not in self._nodes:
            raise ValueError(f"unknown node {ref!r} in workflow {self.name!r}")
        return ref

    def connect(
        self,
        source: Node | str,
        target: Node | str | Iterable[Node | str],
        *,
        when: str | None = None,
    ) -> None:
        """Connect ``source`` to ``target`` (one node or several), optionally on a condition.

        ``when`` is a template; the target runs only if it renders truthy. Connecting the same
        pair twice with the same condition is a no-op.
        """
        targets = [target] if isinstance(target, Node | str) else list(target)
        src = self._resolve(source)
        for item in targets:
            dst = self._resolve(item)
            if src == dst:
                raise ValueError(f"node {src!r} cannot be connected to itself")
            edge: dict[str, Any] = {"from": src, "to": dst}
            if when is not None:
                edge["when"] = when
            if edge not in self._connections:
                self._connections.append(edge)

    def output(self, key: str, template: str) -> None:
        """Declare an output of the run, rendered from a template when the run succeeds."""
        if not key:
            raise ValueError("an output needs a non-empty key")
        self.outputs[key] = template

    def to_spec(self) -> dict[str, Any]:
        """The spec as a plain dict (a fresh copy each call)."""
        spec: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            spec["description"] = self.description
        if self.inputs is not None:
            spec["inputs"] = _plain(self.inputs)
        spec["nodes"] = [n.to_dict() for n in self._nodes.values()]
        spec["connections"] = self.connections
        if self.outputs:
            spec["outputs"] = dict(self.outputs)
        if self.defaults is not None:
            spec["defaults"] = _plain(self.defaults)
        return spec

    def to_yaml(self) -> str:
        """The spec as YAML, keys in spec order (ready to save as a ``.yaml`` file)."""
        return yaml.safe_dump(
            self.to_spec(), sort_keys=False, allow_unicode=True, default_flow_style=False
        )

    def to_json(self, *, indent: int | None = 2) -> str:
        """The spec as JSON."""
        return json.dumps(self.to_spec(), indent=indent, ensure_ascii=False)

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, nodes={len(self._nodes)})"
