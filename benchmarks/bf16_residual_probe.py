"""How far transformers' own bf16 run of the random Llama-3.2-1B-shaped model is from float32
at the first step, and how far it is when the residual stream between layers stays in float32
(every matrix product, norm output and attention still in bf16): does the 1e-2 logits goal
fail because of the residual adds, or because of bf16 activations as such? Then the same
bf16-against-float32 distance for trained weights: the embedded default model (SmolLM2-135M,
30 layers), on random ids and on English text. Runs on the CPU.

    python benchmarks/bf16_residual_probe.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM
from transformers.models.llama import modeling_llama

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.config import EngineConfig  # noqa: E402
from engine.models.gguf_cache import converted_folder  # noqa: E402
from engine.models.loader import load_model  # noqa: E402
from engine.models.locations import default_model_file  # noqa: E402

CONFIG = dict(
    vocab_size=128256, hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
    num_attention_heads=32, num_key_value_heads=8, head_dim=64, rms_norm_eps=1e-5,
    max_position_embeddings=131072, tie_word_embeddings=True, initializer_range=0.02,
    rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0, "factor": 32.0,
                     "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                     "original_max_position_embeddings": 8192},
)


def last_logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(ids).logits[0, -1].float()


def norm_to_weight_dtype(self, x: torch.Tensor) -> torch.Tensor:
    """RMSNorm of a float32 residual, rounded to bf16 as the bf16 model rounds it."""
    h = x.to(torch.float32)
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.variance_epsilon)
    return self.weight * h.to(self.weight.dtype)


def float32_residual_logits(model, ids: torch.Tensor) -> torch.Tensor:
    embed, rotary = model.model.embed_tokens.forward, model.model.rotary_emb.forward
    norm = modeling_llama.LlamaRMSNorm.forward
    model.model.embed_tokens.forward = lambda x: embed(x).float()
    model.model.rotary_emb.forward = lambda x, *a, **k: rotary(x.to(torch.bfloat16), *a, **k)
    modeling_llama.LlamaRMSNorm.forward = norm_to_weight_dtype
    try:
        return last_logits(model, ids)
    finally:
        model.model.embed_tokens.forward, model.model.rotary_emb.forward = embed, rotary
        modeling_llama.LlamaRMSNorm.forward = norm


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def trained_weights_errors() -> None:
    model = AutoModelForCausalLM.from_pretrained(converted_folder(default_model_file()),
                                                 dtype=torch.float32).eval()
    tokenizer = load_model(EngineConfig(device="cpu")).tokenizer
    text = ("The engine compiles a workflow graph into a plan that prefills every shared "
            "prompt prefix once and runs the independent branches in parallel. ") * 12
    prompts = {
        "random ids": torch.randint(0, model.config.vocab_size, (1, 300),
                                    generator=torch.Generator().manual_seed(2)),
        "English text": torch.tensor([tokenizer.encode(text)[:300]]),
    }
    for name, ids in prompts.items():
        truth = last_logits(model.float(), ids)
        print(f"trained weights (embedded SmolLM2-135M), {name}: transformers bf16 vs "
              f"float32: {rel(last_logits(model.bfloat16(), ids), truth):.2e}")


def main() -> None:
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**CONFIG)).to(torch.bfloat16).eval()
    ids = torch.randint(0, CONFIG["vocab_size"], (1, 300),
                        generator=torch.Generator().manual_seed(2))
    bf16 = last_logits(model, ids)
    residual32 = float32_residual_logits(model, ids)
    truth = last_logits(model.float(), ids)
    print(f"transformers bf16 vs float32: {rel(bf16, truth):.2e}")
    print(f"bf16 with a float32 residual stream vs float32: {rel(residual32, truth):.2e}")
    trained_weights_errors()


if __name__ == "__main__":
    main()
