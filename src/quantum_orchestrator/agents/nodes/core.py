"""The core node types that run on an agent: ``noop``, ``branch``, ``merge`` and ``transform``.

The engine renders params before a step is queued, so these handlers see plain JSON values.
"""

from __future__ import annotations

from typing import Any

from quantum_orchestrator.agents.context import StepContext
from quantum_orchestrator.domain.errors import StepError

# One rule for conditions everywhere (branch cases here, `when` on connections in the engine).
from quantum_orchestrator.domain.templates import is_truthy

__all__ = ["branch", "is_truthy", "merge", "noop", "transform"]


async def noop(params: dict[str, Any], ctx: StepContext) -> Any:
    """``core.noop``: the output is the params, or ``None`` when there are none."""
    return params or None


async def branch(params: dict[str, Any], ctx: StepContext) -> dict[str, list[str]]:
    """``core.branch``: select the labels of the cases whose condition is true."""
    cases = params.get("cases")
    if not isinstance(cases, list):
        raise StepError("core.branch needs a list of cases", code="invalid_params")
    mode = params.get("mode", "first")
    if mode not in ("first", "all"):
        raise StepError(
            f"core.branch mode must be 'first' or 'all', not {mode!r}", code="invalid_params"
        )
    selected: list[str] = []
    for index, case in enumerate(cases):
        if not isinstance(case, dict) or not isinstance(case.get("label"), str):
            raise StepError(f"core.branch case {index} needs a string label", code="invalid_params")
        if is_truthy(case.get("condition")):
            selected.append(case["label"])
            if mode == "first":
                break
    if not selected and isinstance(params.get("default"), str):
        selected = [params["default"]]
    return {"selected": selected}


def deep_merge(base: dict[str, Any], other: dict[str, Any]) -> dict[str, Any]:
    """A new dict: ``other`` merged into ``base``; nested dicts merge, anything else is replaced."""
    merged = dict(base)
    for key, value in other.items():
        current = merged.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merged[key] = deep_merge(current, value)
        else:
            merged[key] = value
    return merged


async def merge(params: dict[str, Any], ctx: StepContext) -> Any:
    """``core.merge``: combine the upstream outputs the engine put in ``params["upstream"]``."""
    upstream = params.get("upstream") or {}
    if not isinstance(upstream, dict):
        raise StepError("core.merge expects upstream outputs by node id", code="invalid_params")
    mode = params.get("mode", "object")
    if mode == "object":
        return dict(upstream)
    if mode == "list":
        return list(upstream.values())
    if mode == "deep":
        merged: dict[str, Any] = {}
        for node_id, output in upstream.items():
            if isinstance(output, dict):
                merged = deep_merge(merged, output)
            else:
                ctx.logger.debug("core.merge: output of %s is not an object; left out", node_id)
        return merged
    raise StepError(
        f"core.merge mode must be object, list or deep, not {mode!r}", code="invalid_params"
    )


async def transform(params: dict[str, Any], ctx: StepContext) -> Any:
    """``specialized.transform``: the rendered ``value`` becomes the output."""
    return params.get("value")
