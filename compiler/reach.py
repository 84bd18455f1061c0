"""Reachability in a DAG as Python int bitsets (one bit per node), for fast ancestor tests
on graphs of many thousands of steps."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from compiler.graphapi import DiGraph, topological_sort


class Reach:
    def __init__(self, dag: DiGraph[str]) -> None:
        order = topological_sort(dag)
        self.index = {node: i for i, node in enumerate(order)}
        self._below: dict[Hashable, int] = {}
        for node in reversed(order):
            bits = 0
            for child in dag.successors(node):
                bits |= self._below[child] | (1 << self.index[child])
            self._below[node] = bits

    def precedes(self, a: Hashable, b: Hashable) -> bool:
        """Whether a path leads from `a` to `b`."""
        return bool(self._below[a] >> self.index[b] & 1)

    def maximal(self, nodes: Iterable[Hashable]) -> list[Hashable]:
        """The nodes from which no other of `nodes` can be reached, in topological order."""
        unique = sorted(set(nodes), key=self.index.__getitem__)
        mask = 0
        for node in unique:
            mask |= 1 << self.index[node]
        return [n for n in unique if not self._below[n] & mask]
