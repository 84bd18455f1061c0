"""Named shapes for the dummy load format: the real dimensions of public models, so that
benchmarks run at true size with random weights and no download."""

from __future__ import annotations

from engine.models.config import ModelConfig

_LLAMA3_ROPE = {
    "rope_type": "llama3",
    "factor": 32.0,
    "low_freq_factor": 1.0,
    "high_freq_factor": 4.0,
    "original_max_position_embeddings": 8192,
}

DUMMY_SHAPES: dict[str, ModelConfig] = {
    "llama-3.2-1b": ModelConfig(
        architecture="llama", vocab_size=128256, hidden_size=2048, intermediate_size=8192,
        num_layers=16, num_heads=32, num_kv_heads=8, head_dim=64, rms_norm_eps=1e-5,
        rope_theta=500000.0, rope_scaling=_LLAMA3_ROPE, max_position_embeddings=131072,
        tie_word_embeddings=True, bos_token_id=128000, eos_token_ids=(128001, 128008, 128009),
    ),
    "llama-3-8b": ModelConfig(
        architecture="llama", vocab_size=128256, hidden_size=4096, intermediate_size=14336,
        num_layers=32, num_heads=32, num_kv_heads=8, head_dim=128, rms_norm_eps=1e-5,
        rope_theta=500000.0, max_position_embeddings=8192, tie_word_embeddings=False,
        bos_token_id=128000, eos_token_ids=(128001, 128009),
    ),
    "qwen2.5-0.5b": ModelConfig(
        architecture="qwen2", vocab_size=151936, hidden_size=896, intermediate_size=4864,
        num_layers=24, num_heads=14, num_kv_heads=2, head_dim=64, rms_norm_eps=1e-6,
        rope_theta=1000000.0, max_position_embeddings=32768, tie_word_embeddings=True,
        qkv_bias=True, bos_token_id=151643, eos_token_ids=(151645, 151643),
    ),
    "qwen3-0.6b": ModelConfig(
        architecture="qwen3", vocab_size=151936, hidden_size=1024, intermediate_size=3072,
        num_layers=28, num_heads=16, num_kv_heads=8, head_dim=128, rms_norm_eps=1e-6,
        rope_theta=1000000.0, max_position_embeddings=40960, tie_word_embeddings=True,
        qk_norm=True, bos_token_id=151643, eos_token_ids=(151645, 151643),
    ),
}


def dummy_shape(name: str) -> ModelConfig:
    try:
        return DUMMY_SHAPES[name]
    except KeyError:
        raise ValueError(
            f"unknown dummy shape {name!r}; known shapes: {', '.join(DUMMY_SHAPES)}"
        ) from None
