"""The fused Triton ops (engine/ops) compiled on the GPU against the torch ops they replace,
at the Llama-3.2-1B / 3-8B sizes, in bf16 and float32. The fused rotary + KV write must equal
torch's rotary + write_kv bit for bit (also under a CUDA graph), and the model's Attention must
give the same output and caches with the rotary table as with cos/sin. The whole model path is
covered end to end by test_end_to_end.py (greedy tokens equal to transformers)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

if not torch.cuda.is_available():
    pytest.skip("needs CUDA", allow_module_level=True)

from engine.attention.reference import TorchReferenceBackend  # noqa: E402
from engine.attention.triton_backend import TritonBackend  # noqa: E402
from engine.attention.triton_kv import write_kv  # noqa: E402
from engine.models.rope import RotaryEmbedding  # noqa: E402
from engine.models.shapes import DUMMY_SHAPES  # noqa: E402
from engine.ops.triton_activation import silu_and_mul  # noqa: E402
from engine.ops.triton_decode_gemm import decode_linear  # noqa: E402
from engine.ops.triton_gated_gemm import gate_up_silu  # noqa: E402
from engine.ops.triton_greedy import greedy_tokens  # noqa: E402
from engine.ops.triton_norm import add_rms_norm, rms_norm  # noqa: E402
from engine.ops.triton_rotary import apply_rotary_  # noqa: E402
from engine.ops.triton_rotary_kv import rotary_write_kv_  # noqa: E402
from engine.ops.triton_sample import sample_tokens  # noqa: E402
from engine.testing import op_cases as cases  # noqa: E402
from engine.testing.op_cases import norm_errors, rotary_errors, silu_error  # noqa: E402

OPS = SimpleNamespace(
    rms_norm=rms_norm,
    add_rms_norm=add_rms_norm,
    silu_and_mul=silu_and_mul,
    apply_rotary_=apply_rotary_,
    rotary_write_kv_=rotary_write_kv_,
    write_kv=write_kv,
    greedy_tokens=greedy_tokens,
    sample_tokens=sample_tokens,
    gate_up_silu=gate_up_silu,
    decode_linear=decode_linear,
)
# bf16: one rounding step apart at most (the norm's reduction order differs from torch's).
TOL = {torch.float32: 1e-5, torch.bfloat16: 1.6e-2}
DTYPES = [torch.float32, torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("tokens", "hidden"), [(1, 2048), (7, 4096), (300, 2048)])
def test_add_rms_norm(dtype, tokens, hidden):
    errors = norm_errors(OPS, tokens, hidden, dtype, "cuda")
    assert max(errors) < TOL[dtype], errors


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("tokens", "size"), [(1, 8192), (5, 14336), (64, 1000)])
def test_silu_and_mul(dtype, tokens, size):
    assert silu_error(OPS, tokens, size, dtype, "cuda") < TOL[dtype]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("rows", [1, 7, 64])
@pytest.mark.parametrize(("hidden", "size"), [(2048, 8192), (4096, 14336), (896, 4864)])
def test_gate_up_silu(dtype, rows, hidden, size):
    """Llama-3.2-1B, Llama-3-8B and Qwen2.5-0.5B MLP sizes (4864 is no multiple of the
    column tile)."""
    assert cases.gated_gemm_error(OPS, rows, hidden, size, dtype, "cuda") < TOL[torch.bfloat16]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("rows", [1, 7, 64])
@pytest.mark.parametrize(("inner", "cols"), [(14336, 4096), (8192, 2048), (4864, 896)])
def test_decode_linear(dtype, rows, inner, cols):
    assert cases.decode_gemm_error(OPS, rows, inner, cols, dtype, "cuda") < TOL[torch.bfloat16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("rows", "vocab"), [(1, 128256), (64, 128256), (3, 151936), (5, 1000)])
def test_greedy_tokens(dtype, rows, vocab):
    wrong, error = cases.greedy_errors(OPS, cases.greedy_logits(rows, vocab, dtype, "cuda"))
    assert wrong == [] and error < 2e-5, (wrong, error)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("rows", "vocab"), [(1, 128256), (64, 128256), (5, 1000)])
def test_sampled_tokens(dtype, rows, vocab):
    wrong, error = cases.sample_errors(OPS, cases.sample_inputs(rows, vocab, dtype, "cuda"))
    assert len(wrong) <= rows // 32, (wrong, error)  # GPU log() may differ by an ulp
    assert error < 2e-5, (wrong, error)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    ("tokens", "q_heads", "k_heads", "head_dim"), [(1, 32, 8, 64), (9, 32, 8, 128), (3, 14, 2, 96)]
)
def test_rotary_in_place(dtype, tokens, q_heads, k_heads, head_dim):
    errors = rotary_errors(OPS, tokens, q_heads, k_heads, head_dim, dtype, "cuda")
    assert max(errors) < TOL[dtype], errors


# (q heads, kv heads, head_dim): Llama-3.2-1B, Llama-3-8B, Qwen2.5-0.5B, Qwen3-0.6B, GQA 1
ROTARY_KV_HEADS = [(32, 8, 64), (32, 8, 128), (14, 2, 64), (16, 8, 128), (4, 4, 64)]
# (tokens, page_size, padding): decode (a CUDA-graph bucket with padding rows), prefill
ROTARY_KV_BATCHES = [(1, 16, 0), (8, 16, 3), (300, 32, 0), (77, 16, 5)]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16, torch.float32])
@pytest.mark.parametrize(("q_heads", "kv_heads", "head_dim"), ROTARY_KV_HEADS)
@pytest.mark.parametrize(("tokens", "page_size", "padding"), ROTARY_KV_BATCHES)
def test_rotary_write_kv_bit_identical(
    dtype, q_heads, kv_heads, head_dim, tokens, page_size, padding
):
    case = cases.rotary_kv_case(
        tokens, q_heads, kv_heads, head_dim, page_size, dtype, "cuda", padding, 131072
    )
    want = cases.rotary_kv_reference(case)
    assert cases.rotary_kv_mismatches(cases.rotary_kv_fused(OPS, case), want) == []
    assert cases.rotary_kv_mismatches(cases.rotary_kv_fused(OPS, case, normed=True), want) == []
    assert cases.rotary_kv_mismatches(cases.rotary_kv_unfused(OPS, case), want) == []


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
@pytest.mark.parametrize("shape", ["llama-3.2-1b", "qwen3-0.6b"])
def test_rotary_table_rows_equal_cos_sin(dtype, shape):
    config = DUMMY_SHAPES[shape]
    rotary = RotaryEmbedding(config.head_dim, config.rope_theta, config.rope_scaling)
    size = config.max_position_embeddings
    table = rotary.table(torch.device("cuda"), dtype, size)
    assert table.cos.is_cuda and table.cos.shape == (size, config.head_dim // 2)
    positions = torch.cat([torch.tensor([0, size - 1]), torch.randint(1, size - 1, (509,))])
    cos, sin = rotary.cos_sin(positions.cuda(), dtype)
    assert torch.equal(torch.cat([table.cos[positions.cuda()]] * 2, dim=-1), cos)
    assert torch.equal(torch.cat([table.sin[positions.cuda()]] * 2, dim=-1), sin)


@pytest.mark.parametrize("backend", [TritonBackend, TorchReferenceBackend])
@pytest.mark.parametrize("qk_norm", [False, True])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_model_attention_with_the_table_equals_cos_sin(backend, qk_norm, dtype):
    torch_path, fused_path = cases.attention_rope_paths(qk_norm, dtype, "cuda", backend(), 128)
    for got, want in zip(fused_path, torch_path, strict=True):
        assert torch.equal(got, want)


def test_rotary_write_kv_under_a_cuda_graph():
    """A decode bucket as the CUDA graphs run it: static buffers, padding rows, replays with
    new positions and slots."""
    case = cases.rotary_kv_case(8, 32, 8, 64, 16, torch.bfloat16, "cuda", 3, 131072)
    table = case.rotary.table(torch.device("cuda"), torch.bfloat16, 131072)
    qkv, k_cache, v_cache = case.qkv.clone(), case.k_cache.clone(), case.v_cache.clone()
    positions, slots = case.positions.clone(), case.slot_mapping.clone()
    q, k, v = case.split(qkv)

    def step() -> None:
        rotary_write_kv_(q, k, v, positions, table.cos, table.sin, k_cache, v_cache, slots)

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        with pytest.raises(RuntimeError, match="before CUDA graph capture"):
            RotaryEmbedding(64, 10000.0, None).table(torch.device("cuda"), torch.bfloat16, 8)
        step()
    for seed in (11, 12):
        new = cases.rotary_kv_case(8, 32, 8, 64, 16, torch.bfloat16, "cuda", 3, 131072, seed)
        for static, fresh in [
            (qkv, new.qkv),
            (positions, new.positions),
            (slots, new.slot_mapping),
            (k_cache, new.k_cache),
            (v_cache, new.v_cache),
        ]:
            static.copy_(fresh)
        graph.replay()
        got = cases.RotaryKVResult(qkv, k_cache, v_cache)
        assert cases.rotary_kv_mismatches(got, cases.rotary_kv_reference(new)) == []
