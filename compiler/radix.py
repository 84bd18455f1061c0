"""A compressed trie (radix tree) over sequences of hashable units with weighted consumers.

Invariant: a node's `weight` is the summed weight of every sequence that passes through or
ends at it; its `depth` is the number of units from the root to its end.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field


@dataclass(eq=False)
class RadixNode:
    edge: tuple[Hashable, ...] = ()
    depth: int = 0
    weight: int = 0
    parent: RadixNode | None = None
    children: dict[Hashable, RadixNode] = field(default_factory=dict)
    ends: list[str] = field(default_factory=list)  # consumers whose sequence ends here

    def consumers(self) -> Iterator[str]:
        """Every consumer whose sequence passes through or ends at this node."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield from node.ends
            stack.extend(node.children.values())


class RadixTree:
    def __init__(self) -> None:
        self.root = RadixNode()

    def insert(self, units: Sequence[Hashable], consumer: str, weight: int = 1) -> RadixNode:
        """Add a consumer's sequence; returns the node where it ends."""
        units = tuple(units)
        node = self.root
        node.weight += weight
        position = 0
        while position < len(units):
            child = node.children.get(units[position])
            if child is None:
                child = RadixNode(units[position:], len(units), 0, node)
                node.children[units[position]] = child
                node = child
                node.weight += weight
                break
            shared = _common_length(child.edge, units, position)
            if shared < len(child.edge):
                child = self._split(child, shared)
            node = child
            node.weight += weight
            position += shared
        node.ends.append(consumer)
        return node

    def nodes(self) -> Iterator[RadixNode]:
        """Every node except the root, parents before children, children in insertion order."""
        stack = list(reversed(self.root.children.values()))
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children.values()))

    @staticmethod
    def _split(child: RadixNode, length: int) -> RadixNode:
        parent = child.parent
        assert parent is not None
        middle = RadixNode(
            child.edge[:length], child.depth - len(child.edge) + length, child.weight, parent
        )
        parent.children[child.edge[0]] = middle
        child.edge = child.edge[length:]
        child.parent = middle
        middle.children[child.edge[0]] = child
        return middle


def _common_length(edge: tuple[Hashable, ...], units: tuple[Hashable, ...], start: int) -> int:
    """Length of the common prefix of `edge` and `units[start:]` (binary search over slices,
    so the comparisons run in C)."""
    limit = min(len(edge), len(units) - start)
    if edge[:limit] == units[start : start + limit]:
        return limit
    low, high = 1, limit  # edge[0] == units[start] always holds here
    while low < high:
        middle = (low + high + 1) // 2
        if edge[:middle] == units[start : start + middle]:
            low = middle
        else:
            high = middle - 1
    return low
