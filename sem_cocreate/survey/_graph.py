"""Directed-graph helpers shared by the instrument schema and the model builder."""

from __future__ import annotations


def find_cycle(edges) -> list[str] | None:
    """A directed cycle among ``(from, to)`` edges as ``[a, b, ..., a]``, or None (depth-first search)."""
    graph: dict[str, list[str]] = {}
    for a, b in edges:
        graph.setdefault(a, []).append(b)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for start in list(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None
