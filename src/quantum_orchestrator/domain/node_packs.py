"""Third-party node packs: node types (schema, docs, category) and their handlers, from packages.

A pack is a separate distribution that declares an entry point in the group
``quantum_orchestrator.node_types``; the entry point names a :class:`NodePack` (or a function
without arguments returning one)::

    [project.entry-points."quantum_orchestrator.node_types"]
    acme = "acme_nodes:pack"

The server loads the installed packs when it starts (catalog, spec validation, the builder) and
so do agents that serve the built-in node types (``qo up``'s agents, ``qo agent``). Nothing is
loaded implicitly at import: callers ask :func:`load_node_packs`. A pack that cannot be imported
or that is malformed is left out and reported as a :class:`NodePackProblem`; it never stops the
process. Handlers have the signature of any capability handler:
``async def handler(params: dict, ctx: StepContext) -> Any``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from quantum_orchestrator.domain.errors import QOError
from quantum_orchestrator.domain.node_types import BUILTIN_NODE_TYPES, NodeType

ENTRY_POINT_GROUP = "quantum_orchestrator.node_types"

PackHandler = Callable[..., Awaitable[Any]]

_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
# The categories of the built-in agent kinds stay the platform's own.
_RESERVED = frozenset(node_type.name for node_type in BUILTIN_NODE_TYPES)


class NodePackError(QOError):
    """A node pack is malformed or cannot be loaded."""

    code = "node_pack_invalid"
    retryable = False


@dataclass(frozen=True, kw_only=True)
class NodePack:
    """What a pack offers: node types and, for each, the handler that runs it on an agent."""

    name: str
    node_types: tuple[NodeType, ...]
    handlers: Mapping[str, PackHandler] = field(default_factory=dict)
    version: str = ""


@dataclass(frozen=True, kw_only=True)
class NodePackProblem:
    """A pack that was left out, and why."""

    entry_point: str
    message: str

    def __str__(self) -> str:
        return f"node pack {self.entry_point!r} was not loaded: {self.message}"


@dataclass(frozen=True, kw_only=True)
class LoadedPacks:
    """The packs that loaded, and the problems of those that did not."""

    packs: tuple[NodePack, ...] = ()
    problems: tuple[NodePackProblem, ...] = ()

    def node_types(self) -> list[NodeType]:
        """Every node type of every loaded pack (marked not built in)."""
        return [node_type for pack in self.packs for node_type in pack.node_types]

    def handlers(self) -> dict[str, PackHandler]:
        """Every handler of every loaded pack, by node type name."""
        return {name: handler for pack in self.packs for name, handler in pack.handlers.items()}


def check_pack(pack: object, *, taken: Iterable[str] = ()) -> NodePack:
    """``pack`` as a valid :class:`NodePack` with non-built-in node types, or ``NodePackError``.

    Each node type needs a dotted lower-case name not used by a built-in type or by ``taken``
    (types of packs already loaded), a params schema that is an object schema, and a handler
    when it runs on an agent.
    """
    if not isinstance(pack, NodePack):
        raise NodePackError(f"expected a NodePack, got {type(pack).__name__}")
    seen = set(taken)
    checked: list[NodeType] = []
    for node_type in pack.node_types:
        if not isinstance(node_type, NodeType):
            raise NodePackError(f"node_types holds a {type(node_type).__name__}, not a NodeType")
        name = node_type.name
        if not _NAME.match(name):
            raise NodePackError(f"{name!r} is not a node type name such as acme.resize")
        if name in _RESERVED or name in seen:
            raise NodePackError(f"node type {name!r} is already defined")
        if node_type.category != name.split(".", 1)[0]:
            raise NodePackError(f"{name!r} must be in category {name.split('.', 1)[0]!r}")
        schema = node_type.params_schema
        if not isinstance(schema, dict) or schema.get("type") != "object":
            raise NodePackError(f"{name!r}: params_schema must be a JSON Schema of an object")
        if node_type.executor != "agent":
            raise NodePackError(f"{name!r}: pack node types run on agents")
        if not callable(pack.handlers.get(name)):
            raise NodePackError(f"{name!r} has no handler")
        seen.add(name)
        # Whatever the pack says, its types are not the platform's built-ins.
        checked.append(NodeType(**{**node_type.__dict__, "builtin": False}))
    extra = set(pack.handlers) - {node_type.name for node_type in checked}
    if extra:
        raise NodePackError(f"handlers without a node type: {', '.join(sorted(extra))}")
    return NodePack(
        name=pack.name,
        node_types=tuple(checked),
        handlers=dict(pack.handlers),
        version=pack.version,
    )


def load_node_packs(*, group: str = ENTRY_POINT_GROUP) -> LoadedPacks:
    """Import the installed packs of ``group``; broken ones become problems, not exceptions."""
    packs: list[NodePack] = []
    problems: list[NodePackProblem] = []
    taken: set[str] = set()
    for entry_point in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        label = f"{entry_point.name} = {entry_point.value}"
        try:
            loaded = entry_point.load()
            if callable(loaded) and not isinstance(loaded, NodePack):
                loaded = loaded()
            pack = check_pack(loaded, taken=taken)
        except NodePackError as exc:
            problems.append(NodePackProblem(entry_point=label, message=exc.message))
            continue
        except Exception as exc:  # noqa: BLE001 (a third party's import may raise anything)
            problems.append(
                NodePackProblem(entry_point=label, message=f"{type(exc).__name__}: {exc}")
            )
            continue
        if entry_point.dist is not None and not pack.version:
            pack = NodePack(
                name=pack.name,
                node_types=pack.node_types,
                handlers=pack.handlers,
                version=entry_point.dist.version,
            )
        taken.update(node_type.name for node_type in pack.node_types)
        packs.append(pack)
    return LoadedPacks(packs=tuple(packs), problems=tuple(problems))
