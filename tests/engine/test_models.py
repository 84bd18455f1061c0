"""Llama-family models on paged KV against Hugging Face transformers: greedy tokens identical
in float32 on CPU, for small random configs of every supported architecture and for the
embedded default model."""

from __future__ import annotations

import pytest
import torch
from paged_greedy import greedy, make_batch
from transformers import (
    AutoModelForCausalLM,
    LlamaConfig,
    MistralConfig,
    Qwen2Config,
    Qwen3Config,
)

from engine.config import EngineConfig
from engine.models.config import ModelConfig
from engine.models.loader import load_model
from engine.models.rope import RotaryEmbedding
from engine.runner import ModelRunner

SMALL = dict(
    vocab_size=160,
    hidden_size=64,
    intermediate_size=96,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=512,
)
LLAMA3_ROPE = {
    "rope_type": "llama3",
    "rope_theta": 10000.0,
    "factor": 8.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 32,
}
CONFIGS = {
    "llama-llama3-rope-untied": lambda: LlamaConfig(**SMALL, rope_parameters=LLAMA3_ROPE),
    "llama-tied-biases": lambda: LlamaConfig(
        **SMALL, tie_word_embeddings=True, attention_bias=True, mlp_bias=True
    ),
    "qwen2-qkv-bias-tied": lambda: Qwen2Config(**SMALL, tie_word_embeddings=True),
    "qwen3-qk-norm": lambda: Qwen3Config(**SMALL, head_dim=32, tie_word_embeddings=False),
    "mistral": lambda: MistralConfig(**{**SMALL, "num_key_value_heads": 1}),
}
SHARDED = {"qwen3-qk-norm", "llama-llama3-rope-untied"}
NEW_TOKENS = 12


@pytest.mark.parametrize(
    "rope",
    [None, LLAMA3_ROPE, {**LLAMA3_ROPE, "factor": 32.0, "original_max_position_embeddings": 8192}],
)
def test_rope_tables_equal_transformers_bit_for_bit(rope):
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    hf_config = LlamaConfig(**{**SMALL, "head_dim": 64}, rope_parameters=rope)
    model_config = ModelConfig.from_hf(hf_config)
    ours = RotaryEmbedding(
        model_config.head_dim, model_config.rope_theta, model_config.rope_scaling
    )
    theirs = LlamaRotaryEmbedding(hf_config)
    assert torch.equal(ours.inv_freq, theirs.inv_freq)
    positions = torch.tensor([0, 1, 7, 31, 32, 1000, 8191, 131071])
    cos, sin = ours.cos_sin(positions, torch.float32)
    hf_cos, hf_sin = theirs(torch.zeros(1, dtype=torch.float32), positions[None])
    assert torch.equal(cos, hf_cos[0]) and torch.equal(sin, hf_sin[0])


def random_hf_model(name: str, seed: int = 0):
    """An HF model with every weight random (biases and norms included), float32."""
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(CONFIGS[name](), dtype=torch.float32).eval()
    with torch.no_grad():
        for param_name, param in model.named_parameters():
            if "norm" in param_name:
                param.copy_(1.0 + 0.2 * torch.randn_like(param))
            else:
                param.normal_(0.0, 0.15)
    model.generation_config.eos_token_id = None  # generate exactly the tokens asked for
    return model


@pytest.fixture(scope="module", params=sorted(CONFIGS))
def pair(request, tmp_path_factory):
    """(HF model, ModelRunner loaded from its save_pretrained folder)."""
    hf = random_hf_model(request.param)
    folder = tmp_path_factory.mktemp(request.param)
    shard = "30KB" if request.param in SHARDED else "5GB"
    hf.save_pretrained(folder, max_shard_size=shard)
    config = EngineConfig(
        model=str(folder), device="cpu", dtype="float32", page_size=8, num_pages=64
    )
    return hf, ModelRunner(config, load_model(config))


def hf_greedy(hf, prompt: list[int], new_tokens: int) -> list[int]:
    out = hf.generate(
        torch.tensor([prompt]),
        attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
        max_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=0,
    )
    return out[0, len(prompt) :].tolist()


def prompts(vocab: int, lengths: list[int], seed: int) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(1, vocab, (n,), generator=generator).tolist() for n in lengths]


def test_single_sequence_matches_transformers(pair):
    hf, runner = pair
    [prompt] = prompts(hf.config.vocab_size, [19], seed=1)
    assert greedy(runner, [prompt], NEW_TOKENS) == [hf_greedy(hf, prompt, NEW_TOKENS)]


@pytest.mark.parametrize("prefill_chunk", [0, 6])
def test_ragged_batch_matches_transformers(pair, prefill_chunk):
    hf, runner = pair
    batch = prompts(hf.config.vocab_size, [3, 30, 9, 17], seed=2)
    expected = [hf_greedy(hf, p, NEW_TOKENS) for p in batch]
    assert greedy(runner, batch, NEW_TOKENS, prefill_chunk=prefill_chunk) == expected


def test_logits_match_transformers_at_every_position(pair):
    hf, runner = pair
    [prompt] = prompts(hf.config.vocab_size, [21], seed=3)
    batch = make_batch([prompt], [0], [[5, 9, 2]], runner.page_size)
    batch.logits_indices = torch.arange(len(prompt))
    ours = runner.forward(batch)
    with torch.no_grad():
        theirs = hf(torch.tensor([prompt])).logits[0]
    assert ours.dtype == torch.float32 and ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=2e-5, rtol=1e-4)


@pytest.fixture(scope="module")
def default_runner(default_loaded):
    config = EngineConfig(device="cpu", dtype="float32", page_size=16, num_pages=48)
    return ModelRunner(config, default_loaded)


def chat(tokenizer, text: str) -> list[int]:
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
    )
    return tokenizer(prompt, add_special_tokens=False).input_ids


def test_default_model_logits_match_transformers(default_runner, default_loaded, hf_model):
    prompt = chat(default_loaded.tokenizer, "Name three rivers in Europe and their lengths.")
    batch = make_batch([prompt], [0], [[7, 3, 11, 1]], default_runner.page_size)
    batch.logits_indices = torch.arange(len(prompt))
    ours = default_runner.forward(batch)
    with torch.no_grad():
        theirs = hf_model(torch.tensor([prompt])).logits[0].float()
    torch.testing.assert_close(ours, theirs, atol=1e-4, rtol=1e-4)


def test_default_model_answers_like_transformers(default_runner, default_loaded, hf_model):
    tokenizer = default_loaded.tokenizer
    prompt = chat(tokenizer, "What is the capital of France?")
    expected = hf_model.generate(
        torch.tensor([prompt]),
        attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
        max_new_tokens=16,
        do_sample=False,
        eos_token_id=list(default_loaded.eos_token_ids),
        pad_token_id=default_loaded.eos_token_ids[0],
    )[0, len(prompt) :].tolist()
    [ours] = greedy(default_runner, [prompt], len(expected))
    assert ours == expected
    assert ours[-1] in default_loaded.eos_token_ids
    assert tokenizer.decode(ours, skip_special_tokens=True).strip() == (
        "The capital of France is Paris."
    )
