"""Graph helpers over node ids and edges."""

from __future__ import annotations

from collections.abc import Iterable


def find_cycle(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """One cycle as a closed path (``[a, b, a]``), or None when the graph is acyclic."""
    children: dict[str, list[str]] = {node: [] for node in nodes}
    for source, target in edges:
        children.setdefault(source, []).append(target)
        children.setdefault(target, [])
    white, grey, black = 0, 1, 2
    color = dict.fromkeys(children, white)
    for root in children:
        if color[root] != white:
            continue
        # Iterative depth-first search: a 10,000-node chain must not hit the recursion limit.
        stack: list[tuple[str, int]] = [(root, 0)]
        path: list[str] = [root]
        color[root] = grey
        while stack:
            node, index = stack[-1]
            if index < len(children[node]):
                stack[-1] = (node, index + 1)
                child = children[node][index]
                if color.get(child, white) == grey:
                    return [*path[path.index(child) :], child]
                if color.get(child, white) == white:
                    color[child] = grey
                    stack.append((child, 0))
                    path.append(child)
            else:
                color[node] = black
                stack.pop()
                path.pop()
    return None
