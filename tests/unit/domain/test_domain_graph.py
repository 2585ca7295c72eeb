"""find_cycle over ids and edges."""

from __future__ import annotations

import itertools

import pytest

from quantum_orchestrator.domain.graph import find_cycle


def is_closed_path(cycle: list[str], edges: set[tuple[str, str]]) -> bool:
    return cycle[0] == cycle[-1] and all(pair in edges for pair in itertools.pairwise(cycle))


@pytest.mark.parametrize(
    ("nodes", "edges"),
    [
        ([], []),
        (["a"], []),
        (["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")]),
        (["a", "b", "c", "d"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]),
        (["a", "b"], [("a", "b"), ("a", "b")]),
    ],
)
def test_acyclic(nodes: list[str], edges: list[tuple[str, str]]) -> None:
    assert find_cycle(nodes, edges) is None


@pytest.mark.parametrize(
    ("nodes", "edges", "expected"),
    [
        (["a"], [("a", "a")], ["a", "a"]),
        (["a", "b"], [("a", "b"), ("b", "a")], ["a", "b", "a"]),
        (
            ["s", "a", "b", "c"],
            [("s", "a"), ("a", "b"), ("b", "c"), ("c", "a")],
            ["a", "b", "c", "a"],
        ),
        (["x", "y", "z"], [("x", "y"), ("z", "z")], ["z", "z"]),
    ],
)
def test_cycle_is_a_closed_path(
    nodes: list[str], edges: list[tuple[str, str]], expected: list[str]
) -> None:
    cycle = find_cycle(nodes, edges)
    assert cycle == expected
    assert is_closed_path(cycle, set(edges))


def test_edges_to_unlisted_nodes() -> None:
    assert find_cycle(["a"], [("a", "b")]) is None
    assert find_cycle(["a"], [("a", "b"), ("b", "c"), ("c", "a")]) == ["a", "b", "c", "a"]
    assert find_cycle([], [("p", "q"), ("q", "p")]) == ["p", "q", "p"]


def test_accepts_iterators() -> None:
    assert find_cycle(iter(["a", "b"]), iter([("a", "b"), ("b", "a")])) == ["a", "b", "a"]


def test_long_chain_and_long_cycle_without_recursion() -> None:
    count = 50_000
    ids = [f"n{i}" for i in range(count)]
    chain = [(ids[i], ids[i + 1]) for i in range(count - 1)]
    assert find_cycle(ids, chain) is None
    cycle = find_cycle(ids, [*chain, (ids[-1], ids[0])])
    assert cycle is not None
    assert len(cycle) == count + 1
    assert cycle[0] == cycle[-1] == "n0"


def test_cycle_behind_a_diamond() -> None:
    edges = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"), ("e", "c")]
    cycle = find_cycle(["a", "b", "c", "d", "e"], edges)
    assert cycle == ["d", "e", "c", "d"]
    assert is_closed_path(cycle, set(edges))
