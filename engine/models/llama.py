"""The Llama family in one implementation (SmolLM2, Llama 3.x, Qwen2/2.5, Qwen3, Mistral),
running on paged KV through an AttentionBackend.

Parameter layout: q/k/v fused as `qkv_proj` (rows q, then k, then v) and gate/up fused as
`gate_up_proj` (rows gate, then up); `engine/models/weights.py` maps Hugging Face names onto it.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from engine.attention.base import AttentionBackend
from engine.forward import ForwardBatch
from engine.models.config import ModelConfig
from engine.models.layers import GatedMLP, RMSNorm, streamed_linear
from engine.models.rope import RotaryEmbedding, RotaryTable, apply_rotary
from engine.ops import fused_ops_enabled

KVCache = tuple[torch.Tensor, torch.Tensor]
Rope = tuple[torch.Tensor, torch.Tensor] | RotaryTable


class Attention(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        self.num_kv_heads = config.num_kv_heads
        self.head_dim = config.head_dim
        self.q_size = config.q_size
        self.kv_size = config.kv_size
        self.scale = config.head_dim**-0.5
        self.qkv_proj = nn.Linear(
            config.hidden_size, config.q_size + 2 * config.kv_size, bias=config.qkv_bias
        )
        self.o_proj = nn.Linear(config.q_size, config.hidden_size, bias=config.o_bias)
        if config.qk_norm:
            self.q_norm = RMSNorm(config.head_dim, config.rms_norm_eps)
            self.k_norm = RMSNorm(config.head_dim, config.rms_norm_eps)
        else:
            self.q_norm = self.k_norm = None

    def forward(
        self,
        x: torch.Tensor,
        rope: Rope,
        kv_cache: KVCache,
        batch: ForwardBatch,
        backend: AttentionBackend,
    ) -> torch.Tensor:
        """rope: cos/sin [T, head_dim] for the torch path, or the table of the fused kernel,
        which rotates and writes K/V in one launch (CUDA)."""
        q, k, v = self._project(x)
        k_cache, v_cache = kv_cache
        if isinstance(rope, RotaryTable):
            from engine.ops.triton_rotary_kv import rotary_write_kv_

            rotary_write_kv_(
                q, k, v, batch.positions, rope.cos, rope.sin, k_cache, v_cache, batch.slot_mapping
            )
        else:
            cos, sin = rope
            q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
            backend.write_kv(k_cache, v_cache, k, v, batch.slot_mapping)
        out = backend.attend(q, k_cache, v_cache, batch, self.scale)
        return streamed_linear(self.o_proj, out.reshape(x.shape[0], self.q_size))

    def _project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q [T, heads, head_dim] and k, v [T, kv_heads, head_dim]: views of the fused
        projection, q and k normed first where the model has q/k norms."""
        tokens = x.shape[0]
        q, k, v = self.qkv_proj(x).split([self.q_size, self.kv_size, self.kv_size], dim=-1)
        q = q.view(tokens, self.num_heads, self.head_dim)
        k = k.view(tokens, self.num_kv_heads, self.head_dim)
        v = v.view(tokens, self.num_kv_heads, self.head_dim)
        if self.q_norm is not None:
            q = self.q_norm(q)
            k = self.k_norm(k)
        return q, k, v


class DecoderLayer(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.input_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.self_attn = Attention(config)
        self.post_attention_layernorm = RMSNorm(config.hidden_size, config.rms_norm_eps)
        self.mlp = GatedMLP(config.hidden_size, config.intermediate_size, config.mlp_bias)

    def forward(self, x, rope, kv_cache, batch, backend) -> torch.Tensor:
        x = x + self.self_attn(self.input_layernorm(x), rope, kv_cache, batch, backend)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaForCausalLM(nn.Module):
    def __init__(self, model_config: ModelConfig, attention_backend: AttentionBackend) -> None:
        super().__init__()
        self.config = model_config
        self.attention_backend = attention_backend
        self.embed_tokens = nn.Embedding(model_config.vocab_size, model_config.hidden_size)
        self.layers = nn.ModuleList(
            DecoderLayer(model_config) for _ in range(model_config.num_layers)
        )
        self.norm = RMSNorm(model_config.hidden_size, model_config.rms_norm_eps)
        if model_config.tie_word_embeddings:
            self.lm_head = None
        else:
            self.lm_head = nn.Linear(model_config.hidden_size, model_config.vocab_size, bias=False)
        self.rotary = RotaryEmbedding(
            model_config.head_dim, model_config.rope_theta, model_config.rope_scaling
        )

    @property
    def lm_head_weight(self) -> torch.Tensor:
        return self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight

    def forward(self, batch: ForwardBatch, kv_caches: list[KVCache]) -> torch.Tensor:
        """Logits [len(batch.logits_indices), vocab] in the model's dtype; writes the new
        tokens' K/V into `kv_caches` (one (k_cache, v_cache) pair per layer)."""
        hidden = self.hidden_states(batch, kv_caches)
        return F.linear(hidden[batch.logits_indices], self.lm_head_weight)

    def hidden_states(self, batch: ForwardBatch, kv_caches: list[KVCache]) -> torch.Tensor:
        x = self.embed_tokens(batch.input_ids)
        if fused_ops_enabled(x):
            return self._fused_hidden_states(x, batch, kv_caches)
        cos_sin = self.rotary.cos_sin(batch.positions, x.dtype)
        for layer, kv_cache in zip(self.layers, kv_caches, strict=True):
            x = layer(x, cos_sin, kv_cache, batch, self.attention_backend)
        return self.norm(x)

    def rotary_table(self, device: torch.device, dtype: torch.dtype) -> RotaryTable:
        """cos/sin for every position the model takes, built on first use (before any CUDA
        graph capture: capture follows eager warm-up forwards)."""
        return self.rotary.table(device, dtype, self.config.max_position_embeddings)

    def _fused_hidden_states(self, x, batch, kv_caches) -> torch.Tensor:
        """The same layers on CUDA with rotary + K/V write fused, and each residual add fused
        into the RMSNorm after it: `residual` carries x between layers, `h` the normed input
        of the next block."""
        from engine.ops.triton_norm import add_rms_norm, rms_norm

        table = self.rotary_table(x.device, x.dtype)
        first = self.layers[0].input_layernorm
        h, residual = rms_norm(x, first.weight, first.eps), x
        norms = [layer.input_layernorm for layer in self.layers[1:]] + [self.norm]
        for layer, kv_cache, next_norm in zip(self.layers, kv_caches, norms, strict=True):
            h = layer.self_attn(h, table, kv_cache, batch, self.attention_backend)
            post = layer.post_attention_layernorm
            h, residual = add_rms_norm(h, residual, post.weight, post.eps)
            h, residual = add_rms_norm(layer.mlp(h), residual, next_norm.weight, next_norm.eps)
        return h
