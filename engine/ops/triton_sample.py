"""Every row's next token in one read of the logits, greedy and sampled rows alike.

A sampled row draws by the Gumbel-max trick: its token is the argmax over columns of
`x * inv_temperature + g`, where `g = -log(-log(u))` and `u` is a uniform number made by
hashing (the row's key, the column). The key depends only on the request's seed and the
position of the token it draws (`engine.sampling.row_key`), so a seeded request gets the same
tokens whatever it is batched with, on the CPU (`engine.sampling.gumbel_choice`, the torch version
of the same arithmetic) and on the GPU alike. A greedy row (`inv_temperature` 0, no noise) takes the
argmax. Either way the chosen token's log-probability is that of the model's own distribution
(`logits`), while the choice may read masked logits (`choice`: constraints, top-k, top-p).

As in `triton_greedy`, a row is cut into chunks, one program each, and a second kernel
combines them; ties go to the lowest column.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

LN2 = tl.constexpr(math.log(2.0))
LOG2E = tl.constexpr(1.0 / math.log(2.0))


@triton.jit
def _mix(h):
    """lowbias32 on 32-bit values held in int64 (products wrap; the mask keeps 32 bits)."""
    h = h ^ (h >> 16)
    h = (h * 0x7FEB352D) & 0xFFFFFFFF
    h = h ^ (h >> 15)
    h = (h * 0x846CA68B) & 0xFFFFFFFF
    return h ^ (h >> 16)


@triton.jit
def _chunk_kernel(logits_ptr, choice_ptr, inv_temp_ptr, keys_ptr, score_ptr, col_ptr, at_ptr,
                  max_ptr, sum_ptr, stride_logits, stride_choice, vocab, chunks,
                  BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    chunk = tl.program_id(1)
    cols = chunk * BLOCK + tl.arange(0, BLOCK)
    inside = cols < vocab
    x = tl.load(logits_ptr + row * stride_logits + cols, mask=inside,
                other=float("-inf")).to(tl.float32)
    c = tl.load(choice_ptr + row * stride_choice + cols, mask=inside,
                other=float("-inf")).to(tl.float32)
    inv_temp = tl.load(inv_temp_ptr + row)
    key = tl.load(keys_ptr + row)
    h = _mix(key ^ ((cols.to(tl.int64) * 0x9E3779B9) & 0xFFFFFFFF))
    u = ((h >> 8).to(tl.float32) + 0.5) * (1.0 / 16777216.0)
    noise = -tl.log(-tl.log(u))
    score = tl.where(inv_temp > 0, c * inv_temp + noise, c)
    score = tl.where(c == float("-inf"), float("-inf"), score)
    best = tl.max(score, 0)
    col = tl.min(tl.where(score == best, cols, vocab), 0)
    at = tl.max(tl.where(cols == col, x, float("-inf")), 0)
    x2 = x * LOG2E
    top = tl.max(x2, 0)
    safe = tl.where(top == float("-inf"), 0.0, top)
    slot = row * chunks + chunk
    tl.store(score_ptr + slot, best)
    tl.store(col_ptr + slot, col)
    tl.store(at_ptr + slot, at)
    tl.store(max_ptr + slot, top)
    tl.store(sum_ptr + slot, tl.sum(tl.exp2(x2 - safe), 0))


@triton.jit
def _combine_kernel(score_ptr, col_ptr, at_ptr, max_ptr, sum_ptr, tokens_ptr, logprobs_ptr,
                    chunks, BLOCK_C: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    lanes = tl.arange(0, BLOCK_C)
    mask = lanes < chunks
    score = tl.load(score_ptr + row * chunks + lanes, mask=mask, other=float("-inf"))
    col = tl.load(col_ptr + row * chunks + lanes, mask=mask, other=2**31 - 1)
    at = tl.load(at_ptr + row * chunks + lanes, mask=mask, other=float("-inf"))
    top = tl.load(max_ptr + row * chunks + lanes, mask=mask, other=float("-inf"))
    total = tl.load(sum_ptr + row * chunks + lanes, mask=mask, other=0.0)
    best = tl.max(score, 0)
    token = tl.min(tl.where(score == best, col, 2**31 - 1), 0)
    chosen = tl.max(tl.where(col == token, at, float("-inf")), 0)
    row_top = tl.max(top, 0)
    scaled = tl.where(top == float("-inf"), 0.0, total * tl.exp2(top - row_top))
    log_total = (row_top + tl.log2(tl.sum(scaled, 0))) * LN2
    tl.store(tokens_ptr + row, token.to(tl.int64))
    tl.store(logprobs_ptr + row, chosen - log_total)


def sample_tokens(logits: torch.Tensor, choice: torch.Tensor, inv_temperature: torch.Tensor,
                  keys: torch.Tensor, block: int = 4096) -> tuple[torch.Tensor, torch.Tensor]:
    """logits, choice [rows, vocab]; inv_temperature [rows] float32 (0: greedy); keys [rows]
    int64 holding 32-bit row keys -> (token ids [rows] int64, their log-probabilities under
    `logits` [rows] float32). Ties on a row whose choice is all -inf go to column 0."""
    for name, t in (("logits", logits), ("choice", choice)):
        if t.dim() != 2 or t.stride(-1) != 1:
            raise ValueError(f"expected {name} [rows, vocab] with unit last stride, got "
                             f"{tuple(t.shape)}")
    rows, vocab = logits.shape
    device = logits.device
    tokens = torch.empty(rows, dtype=torch.int64, device=device)
    logprobs = torch.empty(rows, dtype=torch.float32, device=device)
    if rows == 0:
        return tokens, logprobs
    block = min(block, triton.next_power_of_2(vocab))
    chunks = triton.cdiv(vocab, block)
    parts = [torch.empty((rows, chunks), dtype=torch.float32, device=device) for _ in range(4)]
    cols = torch.empty((rows, chunks), dtype=torch.int32, device=device)
    score, at, top, total = parts
    _chunk_kernel[(rows, chunks)](logits, choice, inv_temperature, keys, score, cols, at, top,
                                  total, logits.stride(0), choice.stride(0), vocab, chunks,
                                  BLOCK=block, num_warps=4)
    _combine_kernel[(rows,)](score, cols, at, top, total, tokens, logprobs, chunks,
                             BLOCK_C=max(2, triton.next_power_of_2(chunks)), num_warps=1)
    return tokens.masked_fill_(tokens >= vocab, 0), logprobs
