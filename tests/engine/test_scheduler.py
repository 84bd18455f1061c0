"""The scheduler against the real block pool and prefix cache, with model outputs replaced
by a fixed next token (what is scheduled does not depend on the logits)."""

import torch

from engine.api import SamplingParams
from engine.kv.block_pool import BlockPool
from engine.kv.manager import KVManager
from engine.scheduler import Scheduler
from engine.sequence import Sequence, SequenceKind, SequenceStatus

PS = 4


def make(num_pages=64, max_batch_tokens=64, prefill_chunk=64, max_num_seqs=16, cache=True):
    kv = KVManager(BlockPool(num_pages, PS), enable_prefix_cache=cache)
    return Scheduler(kv, max_num_seqs, max_batch_tokens, prefill_chunk)


def seq(rid, n, max_tokens=4, priority=0, first=0):
    return Sequence(rid, list(range(first, first + n)), SamplingParams(max_tokens=max_tokens),
                    priority)


def run_step(s: Scheduler):
    """Schedule one step and apply it as the engine would (next token is always 7)."""
    out = s.schedule()
    for chunk in out.chunks:
        chunk.seq.num_computed_tokens += chunk.num_tokens
        s.kv.publish(chunk.seq)
        if chunk.seq.num_uncomputed == 0:
            if chunk.seq.num_output_tokens >= chunk.seq.sampling.max_tokens:
                s.finish(chunk.seq)
            else:
                chunk.seq.append_token(7)
    for ready in out.ready:
        s.finish(ready)
    return out


def test_decode_goes_before_new_prefills_and_the_budget_holds():
    s = make(max_batch_tokens=10)
    a = seq("a", 6)
    s.add(a)
    out = run_step(s)
    assert [(c.seq.request_id, c.num_tokens) for c in out.chunks] == [("a", 6)]
    s.add(seq("b", 20, first=100))
    out = run_step(s)
    assert [(c.seq.request_id, c.num_tokens) for c in out.chunks] == [("a", 1), ("b", 9)]
    assert sum(c.num_tokens for c in out.chunks) <= 10


def test_long_prompts_are_prefilled_in_chunks():
    s = make(prefill_chunk=5)
    a = seq("a", 12)
    s.add(a)
    sizes = [run_step(s).chunks[0].num_tokens for _ in range(3)]
    assert sizes == [5, 5, 2]
    assert a.num_output_tokens == 1 and a.is_decoding


def test_higher_priority_is_admitted_first():
    s = make(max_batch_tokens=8)
    s.add(seq("low", 8, priority=0))
    s.add(seq("high", 8, priority=5, first=50))
    out = run_step(s)
    assert [c.seq.request_id for c in out.chunks] == ["high"]


def test_max_num_seqs_limits_running():
    s = make(max_num_seqs=2)
    for i in range(4):
        s.add(seq(f"r{i}", 4, first=10 * i))
    run_step(s)
    assert len(s.running) == 2 and len(s.waiting) == 2


def test_prefix_hits_skip_cached_pages_but_leave_the_last_token():
    s = make()
    a = seq("a", 12)
    s.add(a)
    run_step(s)
    b = seq("b", 12)  # same tokens
    s.add(b)
    out = run_step(s)
    chunk = next(c for c in out.chunks if c.seq is b)
    assert b.num_cached_tokens == 8 and chunk.start == 8 and chunk.num_tokens == 4
    assert b.block_table[:2] == a.block_table[:2]


def test_pages_running_out_preempt_the_latest_lowest_priority_sequence():
    s = make(num_pages=7)
    # 6 usable pages of 4 tokens; each sequence grows to 4 + 8 = 12 tokens = 3 pages
    seqs = [seq(f"r{i}", 4, max_tokens=8, first=10 * i, priority=1 if i == 0 else 0)
            for i in range(3)]
    for q in seqs:
        s.add(q)
    preempted = []
    for _ in range(60):
        if not s.has_work():
            break
        preempted += [p.request_id for p in run_step(s).preempted]
        assert s.kv.pool.num_used <= s.kv.pool.capacity
    assert not s.has_work()
    assert preempted and "r0" not in preempted
    assert all(q.status is SequenceStatus.FINISHED and q.num_output_tokens == 8 for q in seqs)
    assert s.kv.cache is not None
    s.kv.cache.clear()
    assert s.kv.pool.num_used == 0


def test_a_fully_cached_prefill_needs_no_compute():
    s = make()
    p = Sequence("p", list(range(8)), SamplingParams(max_tokens=0), kind=SequenceKind.PREFILL)
    s.add(p)
    run_step(s)
    again = Sequence("q", list(range(8)), SamplingParams(max_tokens=0), kind=SequenceKind.PREFILL)
    s.add(again)
    out = run_step(s)
    assert out.ready == [again] and not out.chunks and again.num_cached_tokens == 8


def test_abort_frees_pages_of_running_and_waiting_sequences():
    s = make(cache=False, max_num_seqs=1)
    s.add(seq("a", 8))
    s.add(seq("b", 8))
    run_step(s)
    assert s.kv.pool.num_used == 2
    assert s.abort("b").request_id == "b" and s.abort("a").request_id == "a"
    assert s.kv.pool.num_used == 0 and not s.has_work()
    assert s.abort("zzz") is None


def test_decode_batches_name_the_pages_their_sequences_share():
    from engine.batching import build_forward_batch
    from engine.scheduler import ScheduledChunk

    s = make()
    a = seq("a", 12)
    s.add(a)
    run_step(s)
    b, c = seq("b", 12), seq("c", 4, first=500)
    for q in (b, c):
        s.add(q)
    run_step(s)
    run_step(s)  # now all three decode
    chunks = [ScheduledChunk(q, q.num_computed_tokens, 1) for q in (a, b, c)]
    for q in (a, b, c):
        s.kv.grow(q, 1)
    batch, rows = build_forward_batch(chunks, PS, torch.device("cpu"))
    assert batch.is_decode and [r.position for r in rows] == [q.num_tokens - 1 for q in (a, b, c)]
    assert [(g.seq_indices, g.prefix_pages) for g in batch.prefix_groups] == [((0, 1), 2)]
    assert batch.slot_mapping.tolist() == [
        q.block_table[(q.num_tokens - 1) // PS] * PS + (q.num_tokens - 1) % PS for q in (a, b, c)]
