from engine.kv.block_pool import BlockPool
from engine.kv.radix_cache import RadixCache

PS = 4


def make(num_pages=32):
    pool = BlockPool(num_pages=num_pages, page_size=PS)
    return pool, RadixCache(pool)


def cache_tokens(pool, cache, tokens):
    """What a sequence does: compute pages, publish them, drop its own references."""
    pages = pool.allocate(-(-len(tokens) // PS))
    node = cache.insert(tokens, pages)
    pool.free(pages)
    return pages, node


def test_match_finds_whole_pages_of_the_longest_prefix():
    pool, cache = make()
    tokens = list(range(10))  # 2 full pages + 2 tokens
    pages, _ = cache_tokens(pool, cache, tokens)
    assert pool.num_used == 2 and cache.num_pages == 2  # the partial page went back
    m = cache.match(list(range(8)) + [99, 98, 97])
    assert m.num_tokens == 8 and m.pages == pages[:2]
    m = cache.match(list(range(6)))
    assert m.num_tokens == 4 and m.pages == pages[:1]
    assert cache.match([5, 6, 7, 8]).num_tokens == 0


def test_max_tokens_caps_the_match():
    pool, cache = make()
    cache_tokens(pool, cache, list(range(12)))
    assert cache.match(list(range(12)), max_tokens=11).num_tokens == 8
    assert cache.match(list(range(12)), max_tokens=0).num_tokens == 0


def test_insert_of_a_diverging_key_splits_the_edge_and_shares_the_prefix():
    pool, cache = make()
    a_pages, _ = cache_tokens(pool, cache, list(range(12)))
    b = list(range(8)) + [50, 51, 52, 53]
    b_pages = pool.allocate(3)
    cache.insert(b, b_pages)
    pool.free(b_pages)
    # the tree kept its own pages for the shared 8 tokens and took only b's last page
    assert cache.match(b).pages == a_pages[:2] + b_pages[2:]
    assert cache.match(list(range(12))).pages == a_pages
    assert cache.num_pages == 4 and pool.num_used == 4


def test_eviction_drops_least_recently_used_leaves_first():
    pool, cache = make()
    cache_tokens(pool, cache, [1] * 8)
    cache_tokens(pool, cache, [2] * 8)
    cache.match([1] * 8)  # touch: [2]*8 is now the oldest
    assert cache.evict(1) == 2
    assert cache.match([2] * 8).num_tokens == 0
    assert cache.match([1] * 8).num_tokens == 8


def test_pinned_prefixes_and_pages_in_use_are_not_evicted():
    pool, cache = make()
    _, node = cache_tokens(pool, cache, [1] * 8)
    cache.pin(node)
    pages, _ = cache_tokens(pool, cache, [2] * 8)
    pool.share(pages)  # a running sequence still reads them
    assert cache.evict(100) == 0
    cache.unpin(node)
    assert cache.evict(100) == 2
    pool.free(pages)
    assert cache.evict(100) == 2 and pool.num_used == 0


def test_pin_holds_ancestors_after_a_split():
    pool, cache = make()
    _, node = cache_tokens(pool, cache, list(range(12)))
    cache.pin(node)
    cache_tokens(pool, cache, list(range(4)) + [9, 9, 9, 9])  # splits the pinned edge
    assert cache.evict(100) == 1  # only the new sibling leaf can go
    assert cache.match(list(range(12))).num_tokens == 12
    cache.unpin(node)
    assert cache.evict(100) == 3


def test_evicting_a_leaf_lets_its_parent_go_next():
    pool, cache = make()
    cache_tokens(pool, cache, list(range(8)))
    cache_tokens(pool, cache, list(range(4)) + [7, 7, 7, 7])
    cache_tokens(pool, cache, list(range(4)) + [8, 8, 8, 8])
    assert cache.evict(100) == 4 and cache.num_pages == 0 and pool.num_used == 0


def test_insert_below_a_node_extends_its_path_like_a_full_insert():
    pool, cache = make()
    tokens = list(range(20))  # 5 pages, published 2 then 3 more as a sequence computes them
    pages = pool.allocate(5)
    node = cache.insert(tokens[:8], pages[:2])
    assert cache.depth(node) == 8
    end = cache.insert(tokens[8:20], pages[2:], below=node)
    assert cache.depth(end) == 20
    assert cache.match(tokens).pages == pages and cache.match(tokens).node is end
    assert cache.insert(tokens, pages) is end  # the same path from the root
    assert cache.num_pages == 5


def test_a_node_keeps_its_depth_through_splits_and_loses_it_when_evicted():
    pool, cache = make()
    pages, node = cache_tokens(pool, cache, list(range(12)))
    cache_tokens(pool, cache, list(range(4)) + [9, 9, 9, 9])  # splits node's edge above it
    assert cache.depth(node) == 12
    below = cache.insert([50, 51, 52, 53], pool.allocate(1), below=node)
    assert cache.match(list(range(12)) + [50, 51, 52, 53]).node is below
    pool.free(below.pages)
    assert cache.evict(100) == 5
    assert cache.depth(node) is None and cache.depth(below) is None
