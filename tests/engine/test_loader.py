"""Loading models: Hugging Face folders (sharded too), the cached GGUF conversion of the
default model, dummy shapes, and clear errors for bad input."""

from __future__ import annotations

import json
import os
import time

import pytest
import torch
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, Qwen2Config

from engine.attention.reference import TorchReferenceBackend
from engine.config import EngineConfig
from engine.models.config import UnsupportedArchitectureError
from engine.models.gguf_cache import cache_folder, converted_folder
from engine.models.loader import build_model, load_model
from engine.models.locations import cache_root, default_model_file
from engine.models.shapes import DUMMY_SHAPES, dummy_shape
from engine.models.weights import CorruptWeightsError, checkpoint_files
from engine.runner import ModelRunner

TINY = dict(
    vocab_size=96,
    hidden_size=32,
    intermediate_size=48,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
)


def cpu(model: str, **overrides) -> EngineConfig:
    return EngineConfig(model=model, device="cpu", dtype="float32", **overrides)


@pytest.fixture(scope="module")
def hf_tiny():
    torch.manual_seed(0)
    return AutoModelForCausalLM.from_config(Qwen2Config(**TINY), dtype=torch.float32)


@pytest.fixture
def saved(hf_tiny, tmp_path):
    """A sharded save_pretrained folder of a tiny untied Qwen2 model."""
    hf_tiny.save_pretrained(tmp_path, max_shard_size="20KB")
    return tmp_path


def test_sharded_folder_loads_every_tensor_into_the_fused_layout(saved, hf_tiny):
    assert len(checkpoint_files(saved)) > 1
    loaded = load_model(cpu(str(saved)))
    hf = hf_tiny.state_dict()
    attn = loaded.model.layers[1].self_attn
    q_size, kv_size = loaded.model_config.q_size, loaded.model_config.kv_size
    qkv = torch.cat([hf[f"model.layers.1.self_attn.{n}_proj.weight"] for n in "qkv"])
    assert torch.equal(attn.qkv_proj.weight, qkv)
    assert attn.qkv_proj.weight.shape[0] == q_size + 2 * kv_size
    qkv_bias = torch.cat([hf[f"model.layers.1.self_attn.{n}_proj.bias"] for n in "qkv"])
    assert torch.equal(attn.qkv_proj.bias, qkv_bias)
    gate_up = torch.cat([hf[f"model.layers.0.mlp.{n}_proj.weight"] for n in ("gate", "up")])
    assert torch.equal(loaded.model.layers[0].mlp.gate_up_proj.weight, gate_up)
    assert torch.equal(loaded.model.lm_head.weight, hf["lm_head.weight"])
    assert loaded.model_config.architecture == "qwen2" and loaded.model_config.qkv_bias
    assert loaded.name == saved.name and loaded.folder == saved


def test_a_missing_model_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="model not found: .*nowhere"):
        load_model(cpu(str(tmp_path / "nowhere")))
    with pytest.raises(FileNotFoundError, match="GGUF file not found"):
        load_model(cpu(str(tmp_path / "absent.gguf")))
    with pytest.raises(FileNotFoundError, match="no config.json"):
        load_model(cpu(str(tmp_path)))


def test_a_shard_listed_in_the_index_but_missing_is_named(saved):
    shard = checkpoint_files(saved)[-1]
    shard.unlink()
    with pytest.raises(FileNotFoundError, match=shard.name):
        load_model(cpu(str(saved)))


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_weights_file_is_named(saved, damage):
    shard = checkpoint_files(saved)[0]
    data = shard.read_bytes()
    shard.write_bytes(b"\x00garbage" * 64 if damage == "garbage" else data[: len(data) // 2])
    with pytest.raises(CorruptWeightsError, match=f"corrupt weights file .*{shard.name}"):
        load_model(cpu(str(saved)))


def test_missing_or_misshapen_tensors_are_reported(saved):
    shard = checkpoint_files(saved)[0]
    tensors = load_file(shard)
    name = next(iter(tensors))
    save_file({k: v for k, v in tensors.items() if k != name}, shard, metadata={"format": "pt"})
    with pytest.raises(CorruptWeightsError, match="weights lack"):
        load_model(cpu(str(saved)))
    tensors[name] = torch.zeros(3, 3)
    save_file(tensors, shard, metadata={"format": "pt"})
    with pytest.raises(CorruptWeightsError, match=f"{name}.*shape"):
        load_model(cpu(str(saved)))


def test_an_unknown_architecture_is_named_with_the_supported_ones(saved):
    config = json.loads((saved / "config.json").read_text())
    config.update(model_type="gpt2", architectures=["GPT2LMHeadModel"])
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(UnsupportedArchitectureError, match="'gpt2'.*llama, mistral, qwen2, qwen3"):
        load_model(cpu(str(saved)))


def test_a_broken_gguf_file_fails_clearly_and_leaves_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "cache"))
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF\x03\x00\x00\x00" + b"not a model" * 8)
    target = cache_folder(bad)
    crashed = target.parent / f".{target.name}.tmp-crashed"  # left by an earlier crash
    busy = target.parent / f".{target.name}.tmp-busy"  # another process converting now
    for partial in (crashed, busy):
        partial.mkdir(parents=True)
    os.utime(crashed, (time.time() - 2 * 3600,) * 2)
    with pytest.raises(ValueError, match="cannot read GGUF file .*broken.gguf"):
        load_model(cpu(str(bad)))
    assert list(target.parent.iterdir()) == [busy]


def test_the_default_model_is_converted_once_into_the_cache(default_loaded):
    folder = default_loaded.folder
    assert folder.parent == cache_root() / "models"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in folder.iterdir()
    }
    weights_mtime = (folder / "model.safetensors").stat().st_mtime_ns
    assert converted_folder(default_model_file()) == folder  # found, not converted again
    assert (folder / "model.safetensors").stat().st_mtime_ns == weights_mtime
    assert not [p for p in folder.parent.iterdir() if ".tmp-" in p.name and folder.name in p.name]
    assert default_loaded.name == "SmolLM2-135M-Instruct"
    assert default_loaded.model_config.tie_word_embeddings
    assert default_loaded.eos_token_ids == (
        default_loaded.tokenizer.convert_tokens_to_ids("<|im_end|>"),
    )


@pytest.mark.parametrize(
    ("shape", "params"),
    [
        ("llama-3.2-1b", 1_235_814_400),
        ("llama-3-8b", 8_030_261_248),
        ("qwen2.5-0.5b", 494_032_768),
        ("qwen3-0.6b", 596_049_920),
    ],
)
def test_dummy_shapes_have_the_real_models_parameter_counts(shape, params):
    model = build_model(
        dummy_shape(shape), TorchReferenceBackend(), torch.device("meta"), torch.bfloat16
    )
    assert sum(p.numel() for p in model.parameters()) == params
    assert model.embed_tokens.weight.dtype == torch.bfloat16


def test_dummy_weights_are_random_seeded_and_run(monkeypatch):
    tiny = dummy_shape("qwen3-0.6b")
    tiny = type(tiny)(
        **{
            **tiny.__dict__,
            "num_layers": 2,
            "hidden_size": 64,
            "intermediate_size": 64,
            "num_heads": 4,
            "num_kv_heads": 2,
            "head_dim": 16,
        }
    )
    monkeypatch.setitem(DUMMY_SHAPES, "tiny-test", tiny)
    first = load_model(cpu("dummy:tiny-test", seed=1))
    again = load_model(cpu("dummy:tiny-test", seed=1))
    other = load_model(cpu("dummy:tiny-test", seed=2))
    weight = first.model.layers[0].self_attn.qkv_proj.weight
    assert torch.equal(weight, again.model.layers[0].self_attn.qkv_proj.weight)
    assert not torch.equal(weight, other.model.layers[0].self_attn.qkv_proj.weight)
    assert 0.015 < float(weight.std()) < 0.025
    assert first.model_config.vocab_size == 151936 and first.folder is None
    runner = ModelRunner(cpu("dummy:tiny-test", num_pages=4), first)
    from paged_greedy import greedy

    [tokens] = greedy(runner, [[1, 2, 3]], 3)
    assert all(0 <= t < 151936 for t in tokens)
    with pytest.raises(ValueError, match="unknown dummy shape 'nope'.*llama-3.2-1b"):
        load_model(cpu("dummy:nope"))


def test_engine_config_resolves_auto_and_rejects_nonsense():
    config = EngineConfig(device="cpu")
    assert config.resolved_dtype() == torch.float32
    assert EngineConfig(device="cpu", dtype="bf16").resolved_dtype() == torch.bfloat16
    with pytest.raises(ValueError, match="unknown dtype 'float8'"):
        EngineConfig(dtype="float8")
    with pytest.raises(ValueError, match="page_size"):
        EngineConfig(page_size=0)
    with pytest.raises(ValueError, match="unknown attention backend"):
        EngineConfig(attention="flash")


def test_runner_sizes_the_cpu_kv_cache_by_itself(default_loaded):
    runner = ModelRunner(EngineConfig(device="cpu", page_size=32), default_loaded)
    cfg = default_loaded.model_config
    assert 0 < runner.num_pages * runner.page_size <= 65536
    assert len(runner.kv_caches) == cfg.num_layers
    k_cache, v_cache = runner.kv_caches[0]
    assert k_cache.shape == (runner.num_pages, 32, cfg.num_kv_heads, cfg.head_dim)
    assert v_cache.dtype == torch.float32


def test_runner_uses_the_backend_its_config_names(default_loaded):
    runner = ModelRunner(
        EngineConfig(device="cpu", attention="reference", num_pages=4), default_loaded
    )
    assert runner.attention_backend is default_loaded.model.attention_backend
    assert runner.attention_backend.name == "reference"


def test_a_pytorch_bin_checkpoint_loads_too(saved, hf_tiny):
    for shard in checkpoint_files(saved):
        shard.unlink()
    (saved / "model.safetensors.index.json").unlink()
    torch.save(hf_tiny.state_dict(), saved / "pytorch_model.bin")
    loaded = load_model(cpu(str(saved)))
    embed = hf_tiny.state_dict()["model.embed_tokens.weight"]
    assert torch.equal(loaded.model.embed_tokens.weight, embed)


def test_default_model_file_is_the_embedded_gguf():
    path = default_model_file()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.is_file()


def test_cache_root_honours_flowc_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("FLOWC_CACHE_DIR")
    assert cache_root().parts[-2:] == (".cache", "flowc")


def test_the_conversion_cache_is_keyed_by_the_files_content(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWC_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, copy = tmp_path / "a" / "m.gguf", tmp_path / "b" / "m.gguf"
    first.write_bytes(b"GGUF same bytes")
    copy.write_bytes(b"GGUF same bytes")  # another install's copy of the same file
    assert cache_folder(first) == cache_folder(copy)
    copy.write_bytes(b"GGUF other bytes")
    assert cache_folder(first) != cache_folder(copy)
