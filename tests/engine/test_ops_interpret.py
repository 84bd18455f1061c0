"""The fused Triton ops (engine/ops) under TRITON_INTERPRET=1 (CPU) at tiny sizes, against the
torch ops they replace, in float32 and float16 (bit for bit where the rounding allows). The
interpreter truncates float32 to bfloat16 where a GPU rounds to nearest, so in bfloat16 the fused
rotary + KV write is checked bit for bit against the unfused Triton kernels instead."""

from __future__ import annotations

import importlib
import os
import sys
from types import SimpleNamespace

import pytest
import torch

_PREVIOUS_INTERPRET = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"
pytest.importorskip("triton")

KERNEL_MODULES = [
    "engine.ops.triton_norm",
    "engine.ops.triton_activation",
    "engine.ops.triton_rotary",
    "engine.ops.triton_rotary_kv",
    "engine.attention.triton_kv",
    "engine.ops.triton_greedy",
    "engine.ops.triton_gated_gemm",
    "engine.ops.triton_decode_gemm",
    "engine.ops.triton_sample",
]


def _import_interpreted() -> SimpleNamespace:
    """The interpreter is chosen when a kernel is defined: reload modules imported earlier."""
    modules = {}
    for name in KERNEL_MODULES:
        module = sys.modules.get(name)
        modules[name] = importlib.reload(module) if module else importlib.import_module(name)
    norm, activation, rotary, rotary_kv, kv, greedy, gated, decode_gemm, sample = (
        modules.values())
    return SimpleNamespace(
        rms_norm=norm.rms_norm,
        add_rms_norm=norm.add_rms_norm,
        silu_and_mul=activation.silu_and_mul,
        apply_rotary_=rotary.apply_rotary_,
        rotary_write_kv_=rotary_kv.rotary_write_kv_,
        write_kv=kv.write_kv,
        greedy_tokens=greedy.greedy_tokens,
        gate_up_silu=gated.gate_up_silu,
        gated_gemm_fits=gated.fits,
        decode_linear=decode_gemm.decode_linear,
        decode_gemm_fits=decode_gemm.fits,
        sample_tokens=sample.sample_tokens,
    )


OPS = _import_interpreted()
from engine.attention.reference import TorchReferenceBackend  # noqa: E402
from engine.models.rope import RotaryEmbedding  # noqa: E402
from engine.models.shapes import DUMMY_SHAPES  # noqa: E402
from engine.testing import op_cases as cases  # noqa: E402
from engine.testing.op_cases import norm_errors, rotary_errors, silu_error  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _forget_interpreted_kernels():
    """Later tests in this process (GPU ones) must compile the kernels, not interpret them."""
    yield
    for name in KERNEL_MODULES:
        sys.modules.pop(name, None)
    if _PREVIOUS_INTERPRET is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = _PREVIOUS_INTERPRET


TOL = {torch.float32: 2e-6, torch.float16: 2e-3}
DTYPES = [torch.float32, torch.float16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("hidden", [64, 96])
def test_add_rms_norm_matches_torch(dtype, hidden):
    errors = norm_errors(OPS, tokens=3, hidden=hidden, dtype=dtype, device="cpu")
    assert max(errors) < TOL[dtype], errors


@pytest.mark.parametrize("dtype", DTYPES)
def test_silu_and_mul_matches_torch_across_blocks(dtype):
    error = silu_error(OPS, tokens=3, size=40, dtype=dtype, device="cpu", block=16)
    assert error < TOL[dtype]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("q_heads", "k_heads", "head_dim"), [(4, 2, 16), (3, 3, 12)])
def test_rotary_in_place_matches_torch(dtype, q_heads, k_heads, head_dim):
    errors = rotary_errors(OPS, 5, q_heads, k_heads, head_dim, dtype=dtype, device="cpu")
    assert max(errors) < TOL[dtype], errors


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("vocab", [40, 100])
def test_greedy_tokens_match_argmax_and_log_softmax(dtype, vocab):
    logits = cases.greedy_logits(4, vocab, dtype, "cpu")
    wrong, error = cases.greedy_errors(OPS, logits, block=16)
    assert wrong == [] and error < 2e-6, (wrong, error)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("vocab", [40, 100])
def test_sampled_tokens_match_the_torch_gumbel_choice(dtype, vocab):
    inputs = cases.sample_inputs(8, vocab, dtype, "cpu")
    wrong, error = cases.sample_errors(OPS, inputs, block=16)
    assert wrong == [] and error < 2e-6, (wrong, error)


@pytest.mark.parametrize(("rows", "hidden", "size"), [(1, 64, 48), (5, 96, 64), (16, 64, 40)])
def test_gate_up_silu_matches_projection_then_silu_and_mul(rows, hidden, size):
    """Ragged sizes: a last column tile past `size` (its gate rows are up rows), a hidden
    size that is not a multiple of the key tile, rows fewer than the row tile."""
    error = cases.gated_gemm_error(OPS, rows, hidden, size, torch.float16, "cpu", block_n=16,
                                   block_k=32, stages=1)
    assert error < TOL[torch.float16], error


@pytest.mark.parametrize(("rows", "inner", "cols"), [(1, 64, 48), (7, 96, 64), (16, 40, 20)])
def test_decode_linear_matches_the_product(rows, inner, cols):
    """Ragged sizes: a last column tile past `cols`, an inner size that is not a multiple
    of the key tile, rows fewer than the row tile."""
    error = cases.decode_gemm_error(OPS, rows, inner, cols, torch.float16, "cpu", block_n=16,
                                    block_k=32, stages=1)
    assert error < TOL[torch.float16], error
    with pytest.raises(ValueError, match="decode_linear takes"):
        OPS.decode_linear(torch.zeros(65, inner, dtype=torch.float16),
                          torch.zeros(cols, inner, dtype=torch.float16))


def test_gate_up_silu_rejects_what_it_cannot_take():
    weight = torch.zeros(2 * 16, 64, dtype=torch.float16)
    for x, w in [(torch.zeros(65, 64, dtype=torch.float16), weight),  # too many rows
                 (torch.zeros(2, 64), weight.float()),  # 32-bit
                 (torch.zeros(2, 32, dtype=torch.float16), weight),  # hidden mismatch
                 (torch.zeros(64, 2, dtype=torch.float16).T, weight[:, :2])]:  # strided
        assert not OPS.gated_gemm_fits(x, w)
        with pytest.raises(ValueError, match="gate_up_silu takes"):
            OPS.gate_up_silu(x, w)


def test_bad_shapes_are_rejected():
    with pytest.raises(ValueError, match="weight shape"):
        OPS.rms_norm(torch.ones(2, 8), torch.ones(4), 1e-5)
    with pytest.raises(ValueError, match="rows, vocab"):
        OPS.greedy_tokens(torch.ones(2, 3, 4))
    with pytest.raises(ValueError, match="2 \\* size"):
        OPS.silu_and_mul(torch.ones(2, 7))
    with pytest.raises(ValueError, match="even head_dim"):
        OPS.apply_rotary_(
            torch.ones(1, 2, 7), torch.ones(1, 1, 7), torch.ones(1, 7), torch.ones(1, 7)
        )


# (q heads, kv heads, head_dim, page_size): GQA groups 1, 4 and 8
ROTARY_KV_SHAPES = [(4, 4, 64, 16), (8, 2, 128, 32), (8, 1, 64, 32)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("q_heads", "kv_heads", "head_dim", "page_size"), ROTARY_KV_SHAPES)
def test_rotary_write_kv_equals_rotary_then_write_kv(dtype, q_heads, kv_heads, head_dim, page_size):
    case = cases.rotary_kv_case(6, q_heads, kv_heads, head_dim, page_size, dtype, "cpu", padding=2)
    want = cases.rotary_kv_reference(case)
    assert cases.rotary_kv_mismatches(cases.rotary_kv_fused(OPS, case), want) == []
    assert cases.rotary_kv_mismatches(cases.rotary_kv_fused(OPS, case, normed=True), want) == []
    assert cases.rotary_kv_mismatches(cases.rotary_kv_unfused(OPS, case), want) == []


@pytest.mark.parametrize(("q_heads", "kv_heads", "head_dim", "page_size"), ROTARY_KV_SHAPES)
def test_rotary_write_kv_bf16_equals_the_unfused_kernels(q_heads, kv_heads, head_dim, page_size):
    dtype = torch.bfloat16
    case = cases.rotary_kv_case(5, q_heads, kv_heads, head_dim, page_size, dtype, "cpu", padding=1)
    got = cases.rotary_kv_fused(OPS, case)
    assert cases.rotary_kv_mismatches(got, cases.rotary_kv_unfused(OPS, case)) == []
    errors = cases.rotary_kv_errors(got, cases.rotary_kv_reference(case))
    assert max(errors) < 1.6e-2, errors


def test_rotary_write_kv_skips_padding_and_touches_nothing_else():
    case = cases.rotary_kv_case(4, 4, 2, 64, 16, torch.float32, "cpu", padding=4)
    got = cases.rotary_kv_fused(OPS, case)
    assert torch.equal(got.k_cache, case.k_cache) and torch.equal(got.v_cache, case.v_cache)
    q, k, v = case.split(got.qkv)
    assert not torch.equal(q, case.split(case.qkv)[0])
    assert torch.equal(k, case.split(case.qkv)[1]) and torch.equal(v, case.split(case.qkv)[2])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("qk_norm", [False, True])
def test_model_attention_with_the_table_equals_cos_sin(dtype, qk_norm):
    torch_path, fused_path = cases.attention_rope_paths(
        qk_norm, dtype, "cpu", TorchReferenceBackend()
    )
    for got, want in zip(fused_path, torch_path, strict=True):
        assert torch.equal(got, want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", ["llama-3.2-1b", "llama-3-8b"])
def test_rotary_table_rows_equal_cos_sin(dtype, shape):
    config = DUMMY_SHAPES[shape]
    rotary = RotaryEmbedding(config.head_dim, config.rope_theta, config.rope_scaling)
    size = config.max_position_embeddings
    table = rotary.table(torch.device("cpu"), dtype, size)
    positions = torch.cat([torch.tensor([0, size - 1]), torch.randint(1, size - 1, (61,))])
    cos, sin = rotary.cos_sin(positions, dtype)
    assert torch.equal(torch.cat([table.cos[positions]] * 2, dim=-1), cos)
    assert torch.equal(torch.cat([table.sin[positions]] * 2, dim=-1), sin)


def test_rotary_table_is_built_once_and_grows_on_demand():
    rotary = RotaryEmbedding(16, 10000.0, None)
    small = rotary.table(torch.device("cpu"), torch.float32, 100)
    assert small.cos.shape == (100, 8) and small.cos.dtype == torch.float32
    assert rotary.table(torch.device("cpu"), torch.float32, 50) is small
    grown = rotary.table(torch.device("cpu"), torch.float32, 300)
    assert grown.num_positions == 300 and torch.equal(grown.cos[:100], small.cos)
    assert rotary.table(torch.device("cpu"), torch.float16, 10).cos.dtype == torch.float16
    with pytest.raises(ValueError, match="at least one position"):
        rotary.table(torch.device("cpu"), torch.bfloat16, 0)


def test_rotary_write_kv_rejects_bad_inputs():
    case = cases.rotary_kv_case(3, 4, 2, 16, 4, torch.float32, "cpu")
    q, k, v = case.split(case.qkv.clone())
    table = case.rotary.table(q.device, q.dtype, 64)
    args = [q, k, v, case.positions, table.cos, table.sin, case.k_cache, case.v_cache]
    with pytest.raises(ValueError, match="share one dtype"):
        OPS.rotary_write_kv_(*args[:6], case.k_cache.half(), case.v_cache, case.slot_mapping)
    with pytest.raises(ValueError, match="caches must be"):
        OPS.rotary_write_kv_(*args[:6], case.k_cache[..., :8], case.v_cache, case.slot_mapping)
    with pytest.raises(ValueError, match="cos/sin tables"):
        OPS.rotary_write_kv_(*args[:4], table.cos[:, :4], *args[5:], case.slot_mapping)
    with pytest.raises(ValueError, match="positions and slot_mapping"):
        OPS.rotary_write_kv_(*args, case.slot_mapping[:2])
    with pytest.raises(ValueError, match="even head_dim"):
        odd = torch.ones(3, 2, 7)
        OPS.rotary_write_kv_(odd, odd, odd, *args[3:], case.slot_mapping)
