"""Shared checks of the fused kernels against the torch ops, for the interpreter (CPU) and
GPU tests: random inputs, both paths, the largest relative error."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.attention.reference import TorchReferenceBackend
from engine.models.config import ModelConfig
from engine.models.llama import Attention
from engine.models.rope import RotaryEmbedding, apply_rotary
from engine.testing import torch_ops
from engine.testing.paged_cases import make_case


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    got, want = got.double(), want.double()
    return ((got - want).abs().max() / want.abs().max().clamp_min(1e-12)).item()


def norm_errors(ops, tokens: int, hidden: int, dtype, device: str, seed: int = 0) -> list[float]:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn(tokens, hidden, generator=gen).to(device, dtype)
    residual = torch.randn(tokens, hidden, generator=gen).to(device, dtype)
    weight = (1 + 0.1 * torch.randn(hidden, generator=gen)).to(device, dtype)
    normed, summed = ops.add_rms_norm(x, residual, weight, 1e-5)
    want_normed, want_summed = torch_ops.add_rms_norm_torch(x, residual, weight, 1e-5)
    alone = ops.rms_norm(x, weight, 1e-5)
    return [
        relative_error(normed, want_normed),
        relative_error(summed, want_summed),
        relative_error(alone, torch_ops.rms_norm_torch(x, weight, 1e-5)),
    ]


def silu_error(ops, tokens: int, size: int, dtype, device: str, block: int = 1024) -> float:
    gen = torch.Generator(device="cpu").manual_seed(1)
    gate_up = (2 * torch.randn(tokens, 2 * size, generator=gen)).to(device, dtype)
    got = ops.silu_and_mul(gate_up, block=block)
    return relative_error(got, torch_ops.silu_and_mul_torch(gate_up))


def gated_gemm_error(ops, rows: int, hidden: int, size: int, dtype, device: str,
                     **blocks) -> float:
    """gate_up_silu against the unfused path: the projection with float32 accumulation
    rounded to the dtype, then silu_and_mul's rounding."""
    gen = torch.Generator(device="cpu").manual_seed(3)
    x = torch.randn(rows, hidden, generator=gen).to(device, dtype)
    weight = (torch.randn(2 * size, hidden, generator=gen) / hidden**0.5).to(device, dtype)
    got = ops.gate_up_silu(x, weight, **blocks)
    gate_up = (x.float() @ weight.float().T).to(dtype)
    return relative_error(got, torch_ops.silu_and_mul_torch(gate_up))


def decode_gemm_error(ops, rows: int, inner: int, cols: int, dtype, device: str,
                      **blocks) -> float:
    """decode_linear against the product with float32 accumulation rounded to the dtype."""
    gen = torch.Generator(device="cpu").manual_seed(4)
    x = torch.randn(rows, inner, generator=gen).to(device, dtype)
    weight = (torch.randn(cols, inner, generator=gen) / inner**0.5).to(device, dtype)
    got = ops.decode_linear(x, weight, **blocks)
    return relative_error(got, (x.float() @ weight.float().T).to(dtype))


def rotary_errors(
    ops, tokens: int, q_heads: int, k_heads: int, head_dim: int, dtype, device: str
) -> list[float]:
    """q and k as views of one fused qkv tensor, as the model holds them."""
    gen = torch.Generator(device="cpu").manual_seed(2)
    qkv = torch.randn(tokens, (q_heads + 2 * k_heads) * head_dim, generator=gen).to(device, dtype)
    q, k, _ = qkv.split([q_heads * head_dim, k_heads * head_dim, k_heads * head_dim], dim=-1)
    q = q.view(tokens, q_heads, head_dim)
    k = k.view(tokens, k_heads, head_dim)
    rotary = RotaryEmbedding(head_dim, 500000.0, None)
    positions = torch.randint(0, 4096, (tokens,), generator=gen).to(device)
    cos, sin = rotary.cos_sin(positions, dtype)
    want_q, want_k = torch_ops.rotary_torch(q, k, cos, sin)
    ops.apply_rotary_(q, k, cos, sin)
    return [relative_error(q, want_q), relative_error(k, want_k)]


@dataclass
class RotaryKVCase:
    """New tokens of one layer: q/k/v as views of a fused qkv tensor, positions, slots (the
    last `padding` ones -1) and non-zero KV caches the writes land in."""

    qkv: torch.Tensor
    heads: tuple[int, int, int]  # q heads, kv heads, head_dim
    positions: torch.Tensor
    slot_mapping: torch.Tensor
    k_cache: torch.Tensor
    v_cache: torch.Tensor
    rotary: RotaryEmbedding
    num_positions: int

    def split(self, qkv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q_heads, kv_heads, head_dim = self.heads
        sizes = [q_heads * head_dim, kv_heads * head_dim, kv_heads * head_dim]
        q, k, v = qkv.split(sizes, dim=-1)
        tokens = qkv.shape[0]
        return (
            q.view(tokens, q_heads, head_dim),
            k.view(tokens, kv_heads, head_dim),
            v.view(tokens, kv_heads, head_dim),
        )


@dataclass
class RotaryKVResult:
    qkv: torch.Tensor  # after the op: q rotated in place
    k_cache: torch.Tensor
    v_cache: torch.Tensor


def rotary_kv_case(
    tokens: int,
    q_heads: int,
    kv_heads: int,
    head_dim: int,
    page_size: int,
    dtype: torch.dtype,
    device: str,
    padding: int = 0,
    num_positions: int = 4096,
    seed: int = 3,
) -> RotaryKVCase:
    gen = torch.Generator(device="cpu").manual_seed(seed)
    width = (q_heads + 2 * kv_heads) * head_dim
    qkv = torch.randn(tokens, width, generator=gen).to(device, dtype)
    positions = torch.randint(0, num_positions, (tokens,), generator=gen)
    positions[0], positions[-1] = 0, num_positions - 1
    num_pages = tokens // page_size + 3
    slots = torch.randperm(num_pages * page_size, generator=gen)[:tokens]
    slots[tokens - padding :] = -1
    shape = (num_pages, page_size, kv_heads, head_dim)
    return RotaryKVCase(
        qkv=qkv,
        heads=(q_heads, kv_heads, head_dim),
        positions=positions.to(device),
        slot_mapping=slots.to(device),
        k_cache=torch.randn(shape, generator=gen).to(device, dtype),
        v_cache=torch.randn(shape, generator=gen).to(device, dtype),
        rotary=RotaryEmbedding(head_dim, 500000.0, None),
        num_positions=num_positions,
    )


def rotary_kv_reference(case: RotaryKVCase) -> RotaryKVResult:
    """The torch path: cos_sin, apply_rotary on q and k, the reference backend's write_kv of
    the tokens whose slot is not padding."""
    qkv = case.qkv.clone()
    q, k, v = case.split(qkv)
    cos, sin = case.rotary.cos_sin(case.positions, qkv.dtype)
    q.copy_(apply_rotary(q, cos, sin))
    k_cache, v_cache = case.k_cache.clone(), case.v_cache.clone()
    real = case.slot_mapping >= 0
    TorchReferenceBackend().write_kv(
        k_cache, v_cache, apply_rotary(k, cos, sin)[real], v[real], case.slot_mapping[real]
    )
    return RotaryKVResult(qkv, k_cache, v_cache)


def rotary_kv_unfused(ops, case: RotaryKVCase) -> RotaryKVResult:
    """The Triton path the fused kernel replaces: apply_rotary_ in place, then write_kv."""
    qkv = case.qkv.clone()
    q, k, v = case.split(qkv)
    cos, sin = case.rotary.cos_sin(case.positions, qkv.dtype)
    ops.apply_rotary_(q, k, cos, sin)
    k_cache, v_cache = case.k_cache.clone(), case.v_cache.clone()
    ops.write_kv(k_cache, v_cache, k, v, case.slot_mapping)
    k.copy_(case.split(case.qkv)[1])  # the fused kernel leaves k as it was
    return RotaryKVResult(qkv, k_cache, v_cache)


def rotary_kv_fused(ops, case: RotaryKVCase, normed: bool = False) -> RotaryKVResult:
    """normed: q and k contiguous copies (as after Qwen3's q/k norm), v still a view."""
    qkv = case.qkv.clone()
    q, k, v = case.split(qkv)
    if normed:
        q, k = q.clone(), k.clone()
    table = case.rotary.table(qkv.device, qkv.dtype, case.num_positions)
    k_cache, v_cache = case.k_cache.clone(), case.v_cache.clone()
    ops.rotary_write_kv_(
        q, k, v, case.positions, table.cos, table.sin, k_cache, v_cache, case.slot_mapping
    )
    if normed:
        case.split(qkv)[0].copy_(q)
    return RotaryKVResult(qkv, k_cache, v_cache)


def rotary_kv_mismatches(got: RotaryKVResult, want: RotaryKVResult) -> list[str]:
    """Names of the tensors that are not bit-identical."""
    pairs = {"qkv": (got.qkv, want.qkv), "k_cache": (got.k_cache, want.k_cache)}
    pairs["v_cache"] = (got.v_cache, want.v_cache)
    return [name for name, (a, b) in pairs.items() if not torch.equal(a, b)]


def rotary_kv_errors(got: RotaryKVResult, want: RotaryKVResult) -> list[float]:
    return [
        relative_error(got.qkv, want.qkv),
        relative_error(got.k_cache, want.k_cache),
        relative_error(got.v_cache, want.v_cache),
    ]


def attention_rope_paths(
    qk_norm: bool, dtype: torch.dtype, device: str, backend, head_dim: int = 64
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """One model Attention layer over a paged batch (a decode over a cached prefix, a
    prefill), run with cos/sin (torch rotary + backend.write_kv) and with the rotary table
    (fused kernel): [output, k_cache, v_cache] of each path."""
    config = ModelConfig(
        architecture="qwen3" if qk_norm else "llama", vocab_size=16, hidden_size=96,
        intermediate_size=128, num_layers=1, num_heads=8, num_kv_heads=2, head_dim=head_dim,
        rms_norm_eps=1e-6, rope_theta=10000.0, max_position_embeddings=64, qk_norm=qk_norm,
    )  # fmt: skip
    torch.manual_seed(4)
    attention = Attention(config)
    for norm in (attention.q_norm, attention.k_norm) if qk_norm else ():
        norm.weight.data.uniform_(0.5, 1.5)
    attention = attention.to(device, dtype)
    case = make_case(
        [5, 0], [1, 6], num_heads=8, num_kv_heads=2, head_dim=head_dim, page_size=4,
        dtype=dtype, device=device, seed=5,
    )  # fmt: skip
    x = torch.randn(case.q.shape[0], 96, generator=torch.Generator().manual_seed(6))
    x = x.to(device, dtype)
    rotary = RotaryEmbedding(head_dim, config.rope_theta, None)
    ropes = (
        rotary.cos_sin(case.batch.positions, dtype),
        rotary.table(x.device, dtype, config.max_position_embeddings),
    )
    results = []
    for rope in ropes:
        k_cache, v_cache = case.k_cache.clone(), case.v_cache.clone()
        with torch.inference_mode():
            out = attention(x, rope, (k_cache, v_cache), case.batch, backend)
        results.append([out, k_cache, v_cache])
    return results[0], results[1]


def greedy_logits(rows: int, vocab: int, dtype, device: str, seed: int = 0) -> torch.Tensor:
    """Random logits with the awkward rows: a tie for the maximum (the first must win), a
    masked (-inf) stretch, and one row whose maximum is the last column."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    logits = (torch.randn(rows, vocab, generator=gen) * 4).to(dtype)
    logits[0, vocab // 3] = logits[0, 2 * vocab // 3] = logits[0].max() + 1
    if rows > 1:
        logits[1, : vocab // 2] = float("-inf")
    if rows > 2:
        logits[2, -1] = logits[2].max() + 1
    return logits.to(device)


def greedy_errors(ops, logits: torch.Tensor, block: int | None = None
                  ) -> tuple[list[int], float]:
    """(rows whose fused token differs from torch's argmax, the largest absolute error of the
    fused log-probabilities against log_softmax gathered at the argmax); block None: the
    kernel's own chunk size."""
    fused = ops.greedy_tokens(logits) if block is None else ops.greedy_tokens(logits, block)
    tokens, logprobs = fused
    full = logits.float()
    want = full.argmax(dim=-1)
    want_logprobs = torch.log_softmax(full, dim=-1).gather(1, want[:, None]).squeeze(1)
    wrong = (tokens != want).nonzero().flatten().tolist()
    return wrong, float((logprobs - want_logprobs).abs().max())


def sample_inputs(rows: int, vocab: int, dtype, device: str, seed: int = 0
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(logits, choice, inverse temperatures, keys) for the sampled choice: greedy rows, hot
    and cold sampled rows, a row whose choice is masked to a few columns."""
    from engine.sampling import row_key

    logits = greedy_logits(rows, vocab, dtype, "cpu", seed)
    choice = logits.clone()
    if rows > 3:
        choice[3, :] = float("-inf")
        choice[3, vocab // 4 :: 7] = logits[3, vocab // 4 :: 7]
    inv_temp = torch.tensor([(0.0, 1.0, 2.0, 0.7)[i % 4] for i in range(rows)])
    keys = torch.tensor([row_key(seed + i, 100 + i) for i in range(rows)], dtype=torch.int64)
    return logits.to(device), choice.to(device), inv_temp.to(device), keys.to(device)


def sample_errors(ops, inputs: tuple[torch.Tensor, ...], block: int | None = None
                  ) -> tuple[list[int], float]:
    """(rows whose fused token differs from the torch Gumbel-max choice, the largest absolute
    error of the fused log-probabilities)."""
    from engine.sampling import gumbel_choice

    logits, choice, inv_temp, keys = inputs
    kwargs = {} if block is None else {"block": block}
    tokens, logprobs = ops.sample_tokens(logits, choice, inv_temp, keys, **kwargs)
    want, want_logprobs = gumbel_choice(logits, choice, inv_temp, keys)
    wrong = (tokens != want).nonzero().flatten().tolist()
    return wrong, float((logprobs - want_logprobs).abs().max())
