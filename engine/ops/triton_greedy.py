"""Greedy token choice in one read of the logits: each row's argmax and its log-probability.

`logits.float().argmax(-1)` and `log_softmax(logits.float()).gather(argmax)` read and write the
[rows, vocab] logits four times; here they are read once, in their own dtype. A row is cut
into chunks of `block` columns, one program each: a chunk's maximum, the first column that
holds it and the sum of exp(x - maximum) over the chunk. A second kernel combines a row's
chunks: the chosen token's log-probability is -log(sum of exp(x - row maximum)). Ties go to
the lowest column, as in `torch.argmax`. Sums are in base 2 (x scaled by log2(e)).
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

LN2 = tl.constexpr(math.log(2.0))
LOG2E = tl.constexpr(1.0 / math.log(2.0))


@triton.jit
def _chunk_kernel(logits_ptr, best_ptr, col_ptr, sum_ptr, stride_row, vocab, chunks,
                  BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    chunk = tl.program_id(1)
    cols = chunk * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(logits_ptr + row * stride_row + cols, mask=cols < vocab,
                other=float("-inf")).to(tl.float32) * LOG2E
    best = tl.max(x, 0)
    col = tl.min(tl.where(x == best, cols, vocab), 0)
    safe = tl.where(best == float("-inf"), 0.0, best)
    total = tl.sum(tl.exp2(x - safe), 0)
    slot = row * chunks + chunk
    tl.store(best_ptr + slot, best)
    tl.store(col_ptr + slot, col)
    tl.store(sum_ptr + slot, total)


@triton.jit
def _combine_kernel(best_ptr, col_ptr, sum_ptr, tokens_ptr, logprobs_ptr, chunks,
                    BLOCK_C: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    lanes = tl.arange(0, BLOCK_C)
    mask = lanes < chunks
    best = tl.load(best_ptr + row * chunks + lanes, mask=mask, other=float("-inf"))
    col = tl.load(col_ptr + row * chunks + lanes, mask=mask, other=2**31 - 1)
    total = tl.load(sum_ptr + row * chunks + lanes, mask=mask, other=0.0)
    top = tl.max(best, 0)
    token = tl.min(tl.where(best == top, col, 2**31 - 1), 0)
    scaled = tl.where(best == float("-inf"), 0.0, total * tl.exp2(best - top))
    tl.store(tokens_ptr + row, token.to(tl.int64))
    tl.store(logprobs_ptr + row, -tl.log2(tl.sum(scaled, 0)) * LN2)


def greedy_tokens(logits: torch.Tensor, block: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """logits [rows, vocab] -> (argmax token ids [rows] int64, their log-probabilities [rows]
    float32), computed in float32 from the logits' own dtype."""
    if logits.dim() != 2 or logits.stride(-1) != 1:
        raise ValueError(f"expected [rows, vocab] with unit last stride, got "
                         f"{tuple(logits.shape)}")
    rows, vocab = logits.shape
    if vocab == 0:
        raise ValueError("cannot choose a token from an empty vocabulary")
    device = logits.device
    tokens = torch.empty(rows, dtype=torch.int64, device=device)
    logprobs = torch.empty(rows, dtype=torch.float32, device=device)
    if rows == 0:
        return tokens, logprobs
    block = min(block, triton.next_power_of_2(vocab))
    chunks = triton.cdiv(vocab, block)
    best = torch.empty((rows, chunks), dtype=torch.float32, device=device)
    cols = torch.empty((rows, chunks), dtype=torch.int32, device=device)
    sums = torch.empty((rows, chunks), dtype=torch.float32, device=device)
    _chunk_kernel[(rows, chunks)](logits, best, cols, sums, logits.stride(0), vocab, chunks,
                                  BLOCK=block, num_warps=4)
    _combine_kernel[(rows,)](best, cols, sums, tokens, logprobs, chunks,
                             BLOCK_C=max(2, triton.next_power_of_2(chunks)), num_warps=1)
    return tokens, logprobs
