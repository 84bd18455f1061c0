"""KVManager.publish against the real block pool and radix cache: pages published a few at a
time as a sequence computes them land in the cache exactly as one whole insert would, also
when the node a sequence last published to has left the tree."""

from engine.api import SamplingParams
from engine.kv.block_pool import BlockPool
from engine.kv.manager import KVManager
from engine.sequence import Sequence

PS = 4


def computed(kv: KVManager, rid: str, tokens: list[int], steps: list[int]) -> Sequence:
    """A sequence holding pages for `tokens`, computing them `steps` tokens at a time and
    publishing after each step."""
    seq = Sequence(rid, list(tokens), SamplingParams(max_tokens=1))
    kv.take_cached_prefix(seq)
    for n in steps:
        kv.grow(seq, n)
        seq.num_computed_tokens += n
        kv.publish(seq)
    return seq


def test_pages_published_step_by_step_match_the_sequence():
    kv = KVManager(BlockPool(64, PS))
    tokens = list(range(30))
    seq = computed(kv, "a", tokens, [5, 1, 1, 9, 3, 11])
    match = kv.cache.match(tokens)
    assert match.num_tokens == 28 and match.pages == seq.block_table[:7]
    assert kv.cache.num_pages == 7


def test_a_sequence_extending_a_cached_prefix_publishes_below_it():
    kv = KVManager(BlockPool(64, PS))
    prefix = list(range(16))
    first = computed(kv, "a", prefix, [16])
    tokens = prefix + [90 + i for i in range(10)]
    second = computed(kv, "b", tokens, [2, 4, 4])
    assert second.block_table[:4] == first.block_table[:4]  # shared through the cache
    match = kv.cache.match(tokens)
    assert match.num_tokens == 24 and match.pages == second.block_table[:6]


def test_publishing_after_the_last_node_was_evicted_starts_from_the_root():
    kv = KVManager(BlockPool(64, PS))
    tokens = list(range(12))
    a = computed(kv, "a", tokens, [12])
    b = Sequence("b", list(tokens), SamplingParams(max_tokens=1))  # the same tokens, own pages
    kv.grow(b, 8)
    b.num_computed_tokens = 8
    kv.publish(b)  # already cached with a's pages: b's last node is a's
    kv.release(a)
    assert kv.cache.evict(100) == 3  # all of a's pages, b's last node with them
    b.token_ids += [40, 41, 42, 43]
    kv.grow(b, 8)
    b.num_computed_tokens = 16
    kv.publish(b)
    match = kv.cache.match(b.token_ids)
    assert match.num_tokens == 16 and match.pages == b.block_table[:4]
