"""ModelConfig: the few numbers a Llama-family model is made of, read from a Hugging Face
config (config.json or a transformers PretrainedConfig)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUPPORTED_ARCHITECTURES = ("llama", "mistral", "qwen2", "qwen3")


class UnsupportedArchitectureError(ValueError):
    pass


@dataclass(frozen=True)
class ModelConfig:
    architecture: str  # a model_type in SUPPORTED_ARCHITECTURES
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    rms_norm_eps: float
    rope_theta: float
    rope_scaling: dict[str, Any] | None = None  # rope parameters beyond theta (type, factor…)
    max_position_embeddings: int = 4096
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    qk_norm: bool = False  # Qwen3: RMSNorm over each head of q and k before RoPE
    sliding_window: int | None = None  # recorded only; attention is full
    bos_token_id: int | None = None
    eos_token_ids: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"num_heads {self.num_heads} is not a multiple of num_kv_heads {self.num_kv_heads}"
            )

    @property
    def q_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.head_dim

    @classmethod
    def from_hf(cls, hf_config: Any) -> ModelConfig:
        """From a transformers config object or the dict of a config.json."""
        get = _getter(hf_config)
        architecture = get("model_type")
        if architecture not in SUPPORTED_ARCHITECTURES:
            names = get("architectures") or []
            raise UnsupportedArchitectureError(
                f"unknown architecture {architecture!r} {list(names) or ''}".rstrip()
                + f"; flowc supports: {', '.join(SUPPORTED_ARCHITECTURES)}"
            )
        act = get("hidden_act", "silu")
        if act != "silu":
            raise UnsupportedArchitectureError(f"unsupported hidden_act {act!r}; only silu")
        num_heads = get("num_attention_heads")
        hidden = get("hidden_size")
        theta, scaling = _rope_parameters(get)
        attention_bias = bool(get("attention_bias", False))
        return cls(
            architecture=architecture,
            vocab_size=get("vocab_size"),
            hidden_size=hidden,
            intermediate_size=get("intermediate_size"),
            num_layers=get("num_hidden_layers"),
            num_heads=num_heads,
            num_kv_heads=get("num_key_value_heads") or num_heads,
            head_dim=get("head_dim") or hidden // num_heads,
            rms_norm_eps=float(get("rms_norm_eps", 1e-6)),
            rope_theta=theta,
            rope_scaling=scaling,
            max_position_embeddings=get("max_position_embeddings", 4096),
            tie_word_embeddings=bool(get("tie_word_embeddings", False)),
            qkv_bias=architecture == "qwen2" or attention_bias,
            o_bias=architecture in ("llama", "qwen3") and attention_bias,
            mlp_bias=architecture == "llama" and bool(get("mlp_bias", False)),
            qk_norm=architecture == "qwen3",
            sliding_window=_sliding_window(get),
            bos_token_id=get("bos_token_id"),
            eos_token_ids=_as_ids(get("eos_token_id")),
        )


def _getter(hf_config: Any):
    if isinstance(hf_config, dict):
        return lambda key, default=None: hf_config.get(key, default)
    return lambda key, default=None: getattr(hf_config, key, default)


def _rope_parameters(get) -> tuple[float, dict[str, Any] | None]:
    params = dict(get("rope_parameters") or {})
    legacy = get("rope_scaling")
    if isinstance(legacy, dict):
        params = {**legacy, **params}
    theta = params.pop("rope_theta", None) or get("rope_theta", 10000.0)
    rope_type = params.get("rope_type", params.get("type", "default"))
    if rope_type in (None, "default") and set(params) <= {"rope_type", "type"}:
        return float(theta), None
    params["rope_type"] = rope_type
    params.pop("type", None)
    if rope_type == "llama3":
        params.setdefault("original_max_position_embeddings", get("max_position_embeddings"))
    return float(theta), params


def _sliding_window(get) -> int | None:
    if get("model_type") == "mistral":
        return get("sliding_window")
    return get("sliding_window") if get("use_sliding_window", False) else None


def _as_ids(value: Any) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)
