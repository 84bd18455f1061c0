"""Pages for sequences: the block pool and the prefix cache behind one small interface.

The scheduler asks `can_grow` before `grow` (the pair evicts cached pages on demand);
`take_cached_prefix` hands a waiting sequence the pages of its cached prefix, and
`publish` makes a sequence's newly completed pages visible to later requests.
"""

from __future__ import annotations

from engine.kv.block_pool import BlockPool, PageCopy
from engine.kv.block_tables import BlockTableMirror
from engine.kv.radix_cache import RadixCache, RadixNode
from engine.sequence import Sequence


class KVManager:
    def __init__(self, pool: BlockPool, enable_prefix_cache: bool = True) -> None:
        self.pool = pool
        self.page_size = pool.page_size
        self.cache = RadixCache(pool) if enable_prefix_cache else None
        # per sequence: its pages in the cache and the node where they end (None: unknown)
        self._published: dict[str, tuple[int, RadixNode | None]] = {}
        self.tables = BlockTableMirror()

    def clear_cache(self) -> int:
        """Drop every cached prefix no sequence or pin holds; return the pages freed."""
        return self.cache.evict(self.pool.num_pages) if self.cache is not None else 0

    def take_cached_prefix(self, seq: Sequence) -> int:
        """Give a sequence with no pages the cached pages of its longest cached prefix."""
        assert not seq.block_table and seq.num_computed_tokens == 0
        if self.cache is None:
            return 0
        match = self.cache.match(seq.token_ids, seq.max_cached_prefix)
        self.pool.share(match.pages)
        seq.block_table = list(match.pages)
        seq.num_computed_tokens = match.num_tokens
        self._published[seq.request_id] = (len(match.pages), match.node)
        return match.num_tokens

    def can_grow(self, seq: Sequence, new_tokens: int) -> bool:
        needed = self.pool.pages_to_append(seq.block_table, seq.num_computed_tokens, new_tokens)
        short = needed - self.pool.num_free
        if short > 0 and self.cache is not None:
            self.cache.evict(short)
        return self.pool.can_allocate(needed)

    def grow_each_by_one(self, seqs: list[Sequence]) -> bool:
        """Give every one of `seqs` room for one more token, all or none; False (nothing
        changed) when the pages are not there even after evicting cached ones."""
        ps = self.page_size
        full = [s for s in seqs if len(s.block_table) * ps <= s.num_computed_tokens]
        short = len(full) - self.pool.num_free
        if short > 0 and self.cache is not None:
            self.cache.evict(short)
        if not self.pool.can_allocate(len(full)):
            return False
        for seq, page in zip(full, self.pool.allocate(len(full)), strict=True):
            seq.block_table.append(page)
        return True

    def grow(self, seq: Sequence, new_tokens: int) -> None:
        self.pool.append(seq.block_table, seq.num_computed_tokens, new_tokens)

    def publish(self, seq: Sequence) -> RadixNode | None:
        """Insert the sequence's computed whole pages into the prefix cache."""
        if self.cache is None:
            return None
        ps = self.page_size
        full_pages = seq.num_computed_tokens // ps
        done, node = self._published.get(seq.request_id, (0, None))
        if full_pages <= done:
            return None
        if node is None or self.cache.depth(node) != done * ps:
            done, node = 0, None  # from the root
        node = self.cache.insert(seq.token_ids[done * ps:full_pages * ps],
                                 seq.block_table[done:full_pages], below=node)
        self._published[seq.request_id] = (full_pages, node)
        return node

    def pin_prefix(self, tokens: list[int]) -> RadixNode | None:
        if self.cache is None:
            return None
        match = self.cache.match(tokens)
        if match.num_tokens == 0:
            return None
        self.cache.pin(match.node)
        return match.node

    def unpin(self, node: RadixNode) -> None:
        if self.cache is not None:
            self.cache.unpin(node)

    def release(self, seq: Sequence) -> None:
        self.pool.free(seq.block_table)
        seq.block_table = []
        self._published.pop(seq.request_id, None)
        self.tables.release(seq.request_id)

    def can_fork(self, parent: Sequence) -> bool:
        needed = 1 if parent.num_computed_tokens % self.page_size else 0
        if needed > self.pool.num_free and self.cache is not None:
            self.cache.evict(needed)
        return self.pool.can_fork(parent.num_computed_tokens)

    def fork(self, parent: Sequence, child: Sequence) -> PageCopy | None:
        child.block_table, copy = self.pool.fork(parent.block_table, parent.num_computed_tokens)
        child.num_computed_tokens = parent.num_computed_tokens
        self._published[child.request_id] = self._published.get(parent.request_id, (0, None))
        return copy

    def live_tokens(self, running: list[Sequence]) -> int:
        """Tokens whose K/V are held in pages in use, each physical slot counted once."""
        fill: dict[int, int] = {}
        if self.cache is not None:
            for node in self.cache.nodes():
                for page in node.pages:
                    fill[page] = self.page_size
        for seq in running:
            for i, page in enumerate(seq.block_table):
                used = min(self.page_size, seq.num_computed_tokens - i * self.page_size)
                fill[page] = max(fill.get(page, 0), used)
        return sum(fill.values())
