import pytest

from engine.kv.block_pool import BlockPool, OutOfPages, PageCopy


def test_allocate_and_free_return_pages_to_the_pool():
    pool = BlockPool(num_pages=9, page_size=4)
    assert pool.capacity == 8 and pool.num_free == 8
    pages = pool.allocate(3)
    assert 0 not in pages and len(set(pages)) == 3
    assert pool.num_used == 3 and all(pool.ref(p) == 1 for p in pages)
    assert pool.free(pages) == 3
    assert pool.num_free == 8


def test_allocate_past_capacity_raises_and_can_allocate_says_so():
    pool = BlockPool(num_pages=3, page_size=4)
    assert pool.can_allocate(2) and not pool.can_allocate(3)
    with pytest.raises(OutOfPages):
        pool.allocate(3)


def test_shared_pages_are_freed_only_by_their_last_owner():
    pool = BlockPool(num_pages=5, page_size=4)
    pages = pool.allocate(2)
    pool.share(pages)
    assert pool.free(pages) == 0 and pool.num_used == 2
    assert pool.free(pages) == 2 and pool.num_used == 0
    with pytest.raises(ValueError, match="freed twice"):
        pool.free(pages)


def test_append_allocates_only_when_a_page_fills():
    pool = BlockPool(num_pages=10, page_size=4)
    table: list[int] = []
    assert pool.pages_to_append(table, 0, 5) == 2
    pool.append(table, 0, 5)
    assert len(table) == 2
    assert pool.pages_to_append(table, 5, 3) == 0
    pool.append(table, 5, 3)
    assert len(table) == 2
    assert pool.can_append(table, 8, 1) and pool.pages_to_append(table, 8, 1) == 1


def test_fork_shares_full_pages_and_copies_the_partial_last_page():
    pool = BlockPool(num_pages=10, page_size=4)
    parent: list[int] = []
    pool.append(parent, 0, 10)  # 2 full pages + 2 tokens
    child, copy = pool.fork(parent, 10)
    assert child[:2] == parent[:2] and child[2] != parent[2]
    assert copy == PageCopy(parent[2], child[2], 2)
    assert [pool.ref(p) for p in parent] == [2, 2, 1]
    assert pool.num_used == 4
    # both may now append to their own last page
    pool.append(parent, 10, 2)
    pool.append(child, 10, 2)
    assert pool.num_used == 4


def test_fork_of_whole_pages_copies_nothing():
    pool = BlockPool(num_pages=10, page_size=4)
    parent: list[int] = []
    pool.append(parent, 0, 8)
    child, copy = pool.fork(parent, 8)
    assert copy is None and child == parent and pool.num_used == 2


def test_writing_into_a_shared_partial_page_is_refused():
    pool = BlockPool(num_pages=10, page_size=4)
    table: list[int] = []
    pool.append(table, 0, 2)
    pool.share(table)
    with pytest.raises(ValueError, match="shared partial page"):
        pool.append(table, 2, 1)
