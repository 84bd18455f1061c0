"""Loading a model for the engine: the embedded default, a Hugging Face folder, a GGUF file
(converted once and cached, see engine/models/gguf_cache.py) or `dummy:<shape>` random weights."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from engine.attention import get_backend
from engine.attention.base import AttentionBackend
from engine.config import EngineConfig
from engine.models.config import SUPPORTED_ARCHITECTURES, ModelConfig, UnsupportedArchitectureError
from engine.models.gguf_cache import Progress, converted_folder, default_tokenizer_or_none
from engine.models.llama import LlamaForCausalLM
from engine.models.locations import DEFAULT_MODEL_NAME, default_model_file
from engine.models.shapes import dummy_shape
from engine.models.weights import (
    CorruptWeightsError,
    checkpoint_files,
    init_random_weights,
    iter_checkpoint,
    load_weights,
)

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")


@dataclass
class LoadedModel:
    model: LlamaForCausalLM
    model_config: ModelConfig
    tokenizer: Any | None  # a Hugging Face tokenizer; None when the model ships none
    eos_token_ids: tuple[int, ...]
    name: str
    folder: Path | None = None  # the Hugging Face folder the weights came from (None: dummy)

    @property
    def device(self) -> torch.device:
        return self.model.embed_tokens.weight.device

    @property
    def dtype(self) -> torch.dtype:
        return self.model.embed_tokens.weight.dtype


def load_model(config: EngineConfig, progress: Progress | None = None) -> LoadedModel:
    """The model named by `config.model` on `config`'s device and dtype, in eval mode.
    `progress(stage, fraction)` is told what happens (conversion, weights)."""
    device, dtype = config.resolved_device(), config.resolved_dtype()
    backend = get_backend(config.attention, device)
    spec = config.model
    if spec.startswith("dummy:"):
        return _load_dummy(spec, backend, device, dtype, config.seed, config.tokenizer)
    folder, name = resolve_folder(spec, progress)
    model_config = read_model_config(folder)
    model = build_model(model_config, backend, device, dtype)
    if progress:
        progress("loading weights", 0.5)
    load_weights(model, iter_checkpoint(checkpoint_files(folder)))
    tokenizer = _tokenizer(folder)
    if progress:
        progress("model ready", 1.0)
    return LoadedModel(
        model=model,
        model_config=model_config,
        tokenizer=tokenizer,
        eos_token_ids=_eos_token_ids(folder, model_config, tokenizer),
        name=name,
        folder=folder,
    )


def resolve_folder(spec: str, progress: Progress | None = None) -> tuple[Path, str]:
    """(Hugging Face folder, display name) for "default", a .gguf file or a folder."""
    if spec == "default":
        return converted_folder(default_model_file(), progress), DEFAULT_MODEL_NAME
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise FileNotFoundError(f"GGUF file not found: {path}")
        return converted_folder(path, progress), path.stem
    if not path.exists():
        raise FileNotFoundError(
            f"model not found: {spec!r} (expected 'default', a Hugging Face folder, a .gguf "
            "file or dummy:<shape>)"
        )
    if not path.is_dir():
        raise ValueError(f"model {spec!r} is neither a folder nor a .gguf file")
    return path, path.name


def read_model_config(folder: Path) -> ModelConfig:
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise FileNotFoundError(f"no config.json in {folder}")
    try:
        raw = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise CorruptWeightsError(f"corrupt {config_file}: {exc}") from exc
    model_type = raw.get("model_type")
    if model_type not in SUPPORTED_ARCHITECTURES:
        raise UnsupportedArchitectureError(
            f"unknown architecture {model_type!r} {raw.get('architectures') or ''} in "
            f"{config_file}; flowc supports: {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    from transformers import AutoConfig

    return ModelConfig.from_hf(AutoConfig.from_pretrained(str(folder)))


def build_model(
    model_config: ModelConfig,
    backend: AttentionBackend,
    device: torch.device,
    dtype: torch.dtype,
) -> LlamaForCausalLM:
    """The model with uninitialised parameters allocated directly on `device` in `dtype`."""
    with torch.device("meta"):
        model = LlamaForCausalLM(model_config, backend)
    model = model.to(dtype=dtype).to_empty(device=device)
    return model.eval().requires_grad_(False)


def _load_dummy(spec, backend, device, dtype, seed, tokenizer_folder: str | None
                ) -> LoadedModel:
    """Random weights of a named shape; the tokenizer of `tokenizer_folder` (as written by
    `flowc export-tokenizer`), else the default model's when it is installed, else none."""
    model_config = dummy_shape(spec.removeprefix("dummy:"))
    if tokenizer_folder is None:
        tokenizer = default_tokenizer_or_none()
    else:
        tokenizer = _tokenizer(Path(tokenizer_folder))
        if tokenizer is None:
            raise FileNotFoundError(f"no tokenizer in {tokenizer_folder}: write one with "
                                    "`flowc export-tokenizer DIR`")
    model = build_model(model_config, backend, device, dtype)
    init_random_weights(model, seed)
    return LoadedModel(
        model=model,
        model_config=model_config,
        tokenizer=tokenizer,
        eos_token_ids=model_config.eos_token_ids,
        name=spec,
    )


def _tokenizer(folder: Path) -> Any | None:
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        return None
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


def _eos_token_ids(folder: Path, model_config: ModelConfig, tokenizer) -> tuple[int, ...]:
    """What ends a generation, as transformers' generate decides: the generation config's
    eos ids, else the model config's, else the tokenizer's."""
    generation_file = folder / "generation_config.json"
    if generation_file.is_file():
        value = json.loads(generation_file.read_text()).get("eos_token_id")
        if value is not None:
            return (value,) if isinstance(value, int) else tuple(value)
    if model_config.eos_token_ids:
        return model_config.eos_token_ids
    eos = getattr(tokenizer, "eos_token_id", None)
    return (eos,) if eos is not None else ()
