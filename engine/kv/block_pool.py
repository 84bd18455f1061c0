"""Pages of KV memory with reference counts.

A page holds `page_size` consecutive tokens of one sequence. Page 0 is reserved as a scratch
page (padding in block tables points there) and is never handed out.

Invariants:
- A page is either free (reference count 0, in the free list) or in use (count >= 1).
- A page shared by several owners (count > 1) is full and never written again: sharing
  happens only for full pages (prefix-cache hits) and forks copy a partial last page.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple


class OutOfPages(RuntimeError):
    """Raised when an allocation is attempted without checking `can_allocate` first."""


class PageCopy(NamedTuple):
    """Copy the first `num_tokens` slots of page `src` into page `dst` (copy-on-write)."""

    src: int
    dst: int
    num_tokens: int


def pages_for(num_tokens: int, page_size: int) -> int:
    return -(-num_tokens // page_size)


class BlockPool:
    def __init__(self, num_pages: int, page_size: int) -> None:
        if num_pages < 2:
            raise ValueError(f"a block pool needs at least 2 pages, got {num_pages}")
        if page_size < 1:
            raise ValueError(f"page_size must be positive, got {page_size}")
        self.num_pages = num_pages
        self.page_size = page_size
        self._refs = [0] * num_pages
        self._free: deque[int] = deque(range(1, num_pages))

    @property
    def capacity(self) -> int:
        """Pages that can ever be handed out (all but the scratch page)."""
        return self.num_pages - 1

    @property
    def num_free(self) -> int:
        return len(self._free)

    @property
    def num_used(self) -> int:
        return self.capacity - len(self._free)

    def ref(self, page: int) -> int:
        return self._refs[page]

    # -- pages -------------------------------------------------------------------------------
    def can_allocate(self, num_pages: int) -> bool:
        return num_pages <= len(self._free)

    def allocate(self, num_pages: int) -> list[int]:
        if not self.can_allocate(num_pages):
            raise OutOfPages(f"asked for {num_pages} pages, {len(self._free)} free")
        pages = [self._free.popleft() for _ in range(num_pages)]
        for page in pages:
            self._refs[page] = 1
        return pages

    def share(self, pages: list[int]) -> None:
        """Add one owner to each page (a prefix hit or a fork)."""
        for page in pages:
            if self._refs[page] < 1:
                raise ValueError(f"page {page} is free and cannot be shared")
            self._refs[page] += 1

    def free(self, pages: list[int]) -> int:
        """Drop one owner from each page; return how many pages went back to the free list."""
        released = 0
        for page in pages:
            if self._refs[page] < 1:
                raise ValueError(f"page {page} freed twice")
            self._refs[page] -= 1
            if self._refs[page] == 0:
                self._free.append(page)
                released += 1
        return released

    # -- block tables ------------------------------------------------------------------------
    def pages_to_append(self, block_table: list[int], num_tokens: int, new_tokens: int) -> int:
        """Pages a table holding `num_tokens` tokens needs to take `new_tokens` more."""
        return max(0, pages_for(num_tokens + new_tokens, self.page_size) - len(block_table))

    def can_append(self, block_table: list[int], num_tokens: int, new_tokens: int) -> bool:
        return self.can_allocate(self.pages_to_append(block_table, num_tokens, new_tokens))

    def append(self, block_table: list[int], num_tokens: int, new_tokens: int) -> None:
        """Grow `block_table` in place so that it holds `num_tokens + new_tokens` tokens."""
        if num_tokens % self.page_size and self._refs[block_table[-1]] != 1:
            raise ValueError("cannot write into a shared partial page; fork copies it first")
        block_table.extend(self.allocate(self.pages_to_append(block_table, num_tokens,
                                                              new_tokens)))

    def can_fork(self, num_tokens: int) -> bool:
        return self.can_allocate(1 if num_tokens % self.page_size else 0)

    def fork(self, block_table: list[int], num_tokens: int) -> tuple[list[int], PageCopy | None]:
        """A child table holding the same `num_tokens` tokens: full pages are shared, a partial
        last page is copied into a fresh page (the returned `PageCopy` must be applied to the
        KV caches before the child runs)."""
        full, partial = divmod(num_tokens, self.page_size)
        shared = block_table[:full]
        self.share(shared)
        if not partial:
            return list(shared), None
        (page,) = self.allocate(1)
        return [*shared, page], PageCopy(block_table[full], page, partial)
