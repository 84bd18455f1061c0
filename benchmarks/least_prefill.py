"""The least prefill the prompts a run actually sent need on a paged prefix cache, as a floor
for what the engine computed (the plan's own optimum cannot see text known only at run time:
tool results, model replies).

On such a cache a page is shared only whole: each distinct whole page of a prompt is computed
once, and a prompt's tokens after its last shareable page are always computed (its last token
is, at least: its logits are needed). Pages that a generation's decode wrote (its reply, read
back by the next turn of a thread) cost no prefill. A scored prompt is computed once for all
its continuations; a continuation longer than one token is then computed on a copy.
"""

from __future__ import annotations

from collections.abc import Sequence


class PrefillFloor:
    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self._nodes: dict[tuple[int, tuple[int, ...]], int] = {}  # (parent, tokens) -> page
        self._prefilled: set[int] = set()
        self._decoded: set[int] = set()
        self._tails = 0

    def prompt(self, ids: Sequence[int]) -> None:
        """A prompt sent for generation or scoring."""
        shareable = (len(ids) - 1) // self.page_size
        self._prefilled.update(self._pages(ids, shareable))
        self._tails += len(ids) - shareable * self.page_size

    def continuations(self, continuations: Sequence[Sequence[int]]) -> None:
        """The continuations scored after a prompt given to `prompt`."""
        self._tails += sum(len(c) for c in continuations if len(c) > 1)

    def generation(self, prompt: Sequence[int], output: Sequence[int]) -> None:
        """A finished generation: the whole pages its decode wrote."""
        whole = (len(prompt) + len(output)) // self.page_size
        inside = len(prompt) // self.page_size
        self._decoded.update(self._pages([*prompt, *output], whole)[inside:])

    def tokens(self) -> int:
        return len(self._prefilled - self._decoded) * self.page_size + self._tails

    def _pages(self, ids: Sequence[int], count: int) -> list[int]:
        """The first `count` pages of `ids` as nodes of a prefix tree of pages: a page is the
        same page only after the same pages."""
        size, node, pages = self.page_size, 0, []
        for k in range(count):
            node = self._nodes.setdefault((node, tuple(ids[k * size:(k + 1) * size])),
                                          len(self._nodes) + 1)
            pages.append(node)
        return pages
