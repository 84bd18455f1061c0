"""A page-granular radix tree over token ids: the prefix cache.

Each edge holds a whole number of pages: `key` is their tokens (a multiple of `page_size`)
and `pages` the physical pages holding them. The tree owns one reference to each of its
pages. `match` and `insert` share one walk (`_walk`), which splits an edge where a key
diverges from it (at a page boundary).

Invariants:
- A node's lock count is the number of pins on it or on any descendant; a locked node is
  never evicted.
- Only leaves are evicted, least recently used first, and only when the tree is the sole
  owner of their pages (so eviction always gives pages back).
"""

from __future__ import annotations

import heapq
import itertools
from typing import NamedTuple

from engine.kv.block_pool import BlockPool


class RadixNode:
    __slots__ = ("key", "pages", "children", "parent", "lock_count", "last_access")

    def __init__(self, key: tuple[int, ...], pages: list[int], parent: RadixNode | None) -> None:
        self.key = key
        self.pages = pages
        self.children: dict[tuple[int, ...], RadixNode] = {}
        self.parent = parent
        self.lock_count = 0
        self.last_access = 0


class PrefixMatch(NamedTuple):
    pages: list[int]
    num_tokens: int
    node: RadixNode  # deepest node of the match (the root when nothing matched)


class RadixCache:
    def __init__(self, pool: BlockPool) -> None:
        self.pool = pool
        self.page_size = pool.page_size
        self.root = RadixNode((), [], None)
        self._clock = itertools.count(1)
        self.num_pages = 0

    # -- the shared walk ---------------------------------------------------------------------
    def _walk(self, tokens: tuple[int, ...], start: RadixNode | None = None
              ) -> tuple[RadixNode, int, list[int]]:
        """Follow `tokens` (whole pages only) from `start` (the root by default); return the
        deepest node fully matched, the number of tokens matched and their pages."""
        ps = self.page_size
        node, matched, pages = start or self.root, 0, []
        now = next(self._clock)
        node.last_access = now
        while len(tokens) - matched >= ps:
            child = node.children.get(tokens[matched:matched + ps])
            if child is None:
                break
            same = self._common_pages(child.key, tokens, matched)
            if same < len(child.pages):
                child = self._split(child, same)
            child.last_access = now
            pages.extend(child.pages)
            matched += len(child.key)
            node = child
        return node, matched, pages

    def _common_pages(self, key: tuple[int, ...], tokens: tuple[int, ...], start: int) -> int:
        ps = self.page_size
        if key == tokens[start:start + len(key)]:
            return len(key) // ps
        n = 0
        while (n + 1) * ps <= len(key) and start + (n + 1) * ps <= len(tokens):
            if key[n * ps:(n + 1) * ps] != tokens[start + n * ps:start + (n + 1) * ps]:
                break
            n += 1
        return n

    def _split(self, node: RadixNode, num_pages: int) -> RadixNode:
        """Cut `node`'s edge after `num_pages` pages; return the new upper node."""
        cut = num_pages * self.page_size
        upper = RadixNode(node.key[:cut], node.pages[:num_pages], node.parent)
        upper.lock_count = node.lock_count
        upper.last_access = node.last_access
        assert node.parent is not None
        node.parent.children[upper.key[:self.page_size]] = upper
        node.key, node.pages, node.parent = node.key[cut:], node.pages[num_pages:], upper
        upper.children[node.key[:self.page_size]] = node
        return upper

    # -- public verbs ------------------------------------------------------------------------
    def match(self, tokens: list[int] | tuple[int, ...], max_tokens: int | None = None
              ) -> PrefixMatch:
        """The longest cached whole-page prefix of `tokens[:max_tokens]`."""
        key = tuple(tokens if max_tokens is None else tokens[:max(0, max_tokens)])
        node, matched, pages = self._walk(key)
        return PrefixMatch(pages, matched, node)

    def insert(self, tokens: list[int] | tuple[int, ...], pages: list[int],
               below: RadixNode | None = None) -> RadixNode:
        """Cache the whole pages of `tokens` held in `pages`; return the node at their end.
        Pages of a prefix already cached stay the caller's; new ones gain the tree's ref.
        `below`: a node in the tree (see `depth`) whose path the tokens continue; the root
        by default. Extending a sequence's last node costs only its new pages."""
        ps = self.page_size
        full = min(len(tokens) // ps, len(pages))
        key = tuple(tokens[:full * ps])
        node, matched, _ = self._walk(key, below)
        if matched < len(key):
            new_pages = list(pages[matched // ps:full])
            leaf = RadixNode(key[matched:], new_pages, node)
            leaf.last_access = node.last_access
            node.children[leaf.key[:ps]] = leaf
            self.pool.share(new_pages)
            self.num_pages += len(new_pages)
            node = leaf
        return node

    def depth(self, node: RadixNode) -> int | None:
        """Tokens on the path from the root to `node` (marking the path used), or None when
        `node` has left the tree. A node keeps its depth when its edge is split (the new
        node goes above it)."""
        now = next(self._clock)
        tokens = 0
        while node is not self.root:
            parent = node.parent
            if parent is None or parent.children.get(node.key[:self.page_size]) is not node:
                return None
            node.last_access = now
            tokens += len(node.key)
            node = parent
        self.root.last_access = now
        return tokens

    def pin(self, node: RadixNode) -> None:
        while node is not None:
            node.lock_count += 1
            node = node.parent

    def unpin(self, node: RadixNode) -> None:
        while node is not None:
            if node.lock_count < 1:
                raise ValueError("unpin without a matching pin")
            node.lock_count -= 1
            node = node.parent

    def evict(self, num_pages: int) -> int:
        """Free at least `num_pages` pages by dropping least recently used unpinned leaves
        (fewer if not enough can go); return how many pages went back to the pool."""
        heap = [(n.last_access, id(n), n) for n in self.nodes() if self._evictable(n)]
        heapq.heapify(heap)
        freed = 0
        while heap and freed < num_pages:
            _, _, leaf = heapq.heappop(heap)
            parent = leaf.parent
            assert parent is not None
            del parent.children[leaf.key[:self.page_size]]
            freed += self.pool.free(leaf.pages)
            self.num_pages -= len(leaf.pages)
            if parent is not self.root and self._evictable(parent):
                heapq.heappush(heap, (parent.last_access, id(parent), parent))
        return freed

    def clear(self) -> None:
        """Drop every unpinned entry (for tests and shutdown)."""
        self.evict(self.pool.num_pages)

    # -- helpers -----------------------------------------------------------------------------
    def nodes(self) -> list[RadixNode]:
        out, stack = [], list(self.root.children.values())
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(node.children.values())
        return out

    def _evictable(self, node: RadixNode) -> bool:
        return (not node.children and node.lock_count == 0
                and all(self.pool.ref(p) == 1 for p in node.pages))
