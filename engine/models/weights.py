"""Weights: reading Hugging Face checkpoints (safetensors, sharded or not, or PyTorch .bin)
and copying them into a LlamaForCausalLM's fused parameter layout; random weights for the
dummy format."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import torch
from safetensors import safe_open

from engine.models.llama import LlamaForCausalLM

_QKV = re.compile(r"layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)$")
_GATE_UP = re.compile(r"layers\.(\d+)\.mlp\.(gate|up)_proj\.(weight|bias)$")


class CorruptWeightsError(ValueError):
    pass


def checkpoint_files(folder: Path) -> list[Path]:
    """The weight files of a Hugging Face folder, in load order."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError) as exc:
            raise CorruptWeightsError(f"corrupt weights index {index}: {exc}") from exc
        files = [folder / name for name in sorted(set(weight_map.values()))]
    elif (folder / "model.safetensors").is_file():
        files = [folder / "model.safetensors"]
    else:
        files = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("pytorch_model*.bin"))
    if not files:
        raise FileNotFoundError(f"no weights (*.safetensors or pytorch_model*.bin) in {folder}")
    for path in files:
        if not path.is_file():
            raise FileNotFoundError(f"weights file missing: {path} (listed in {index.name})")
    return files


def iter_checkpoint(files: list[Path]) -> Iterator[tuple[str, torch.Tensor]]:
    """(name, tensor) pairs, one file at a time; errors name the broken file."""
    for path in files:
        if path.suffix == ".bin":
            yield from _iter_bin(path)
            continue
        try:
            with safe_open(str(path), framework="pt") as handle:
                for name in handle.keys():  # noqa: SIM118 (safe_open is not a dict)
                    yield name, handle.get_tensor(name)
        except Exception as exc:  # safetensors raises its own error types
            if isinstance(exc, CorruptWeightsError):
                raise
            raise CorruptWeightsError(f"corrupt weights file {path}: {exc}") from exc


def _iter_bin(path: Path) -> Iterator[tuple[str, torch.Tensor]]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CorruptWeightsError(f"corrupt weights file {path}: {exc}") from exc
    yield from state.items()


def load_weights(model: LlamaForCausalLM, named_tensors) -> None:
    """Copy HF-named tensors into `model` (fusing q/k/v and gate/up); every parameter must be
    filled exactly once, else a clear error lists what is missing."""
    params = dict(model.named_parameters())
    filled: set[str] = set()
    cfg = model.config
    for hf_name, tensor in named_tensors:
        target = _target(hf_name, cfg)
        if target is None:
            continue
        name, rows = target
        if name not in params:
            if name == "lm_head.weight" and model.lm_head is None:
                continue  # tied: the embedding is the head
            raise CorruptWeightsError(f"unexpected tensor {hf_name!r} for this model config")
        param = params[name]
        part = param.data if rows is None else param.data[rows[0] : rows[1]]
        if part.shape != tensor.shape:
            raise CorruptWeightsError(
                f"tensor {hf_name!r} has shape {tuple(tensor.shape)}, expected {tuple(part.shape)}"
            )
        part.copy_(tensor)
        filled.add(name if rows is None else f"{name}[{rows[0]}:{rows[1]}]")
    missing = _expected_parts(model) - filled
    if missing:
        shown = ", ".join(sorted(missing)[:8])
        raise CorruptWeightsError(f"weights lack {len(missing)} tensors: {shown}")


def _target(hf_name: str, cfg) -> tuple[str, tuple[int, int] | None] | None:
    name = hf_name.removeprefix("model.")
    if "rotary_emb" in name:
        return None
    match = _QKV.search(name)
    if match:
        layer, which, kind = match.groups()
        q, kv = cfg.q_size, cfg.kv_size
        rows = {"q": (0, q), "k": (q, q + kv), "v": (q + kv, q + 2 * kv)}[which]
        return f"layers.{layer}.self_attn.qkv_proj.{kind}", rows
    match = _GATE_UP.search(name)
    if match:
        layer, which, kind = match.groups()
        size = cfg.intermediate_size
        rows = (0, size) if which == "gate" else (size, 2 * size)
        return f"layers.{layer}.mlp.gate_up_proj.{kind}", rows
    return name, None


def _expected_parts(model: LlamaForCausalLM) -> set[str]:
    cfg = model.config
    q, kv, size = cfg.q_size, cfg.kv_size, cfg.intermediate_size
    parts: set[str] = set()
    for name, _ in model.named_parameters():
        if ".qkv_proj." in name:
            parts.update(f"{name}[{a}:{b}]" for a, b in ((0, q), (q, q + kv), (q + kv, q + 2 * kv)))
        elif ".gate_up_proj." in name:
            parts.update(f"{name}[{a}:{b}]" for a, b in ((0, size), (size, 2 * size)))
        else:
            parts.add(name)
    return parts


@torch.no_grad()
def init_random_weights(model: LlamaForCausalLM, seed: int, std: float = 0.02) -> None:
    """Random weights in place, on the model's device and dtype: normal(0, std) matrices,
    zero biases, unit norms."""
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    for name, param in model.named_parameters():
        if name.endswith("norm.weight"):
            param.fill_(1.0)
        elif name.endswith(".bias"):
            param.zero_()
        else:
            param.normal_(0.0, std, generator=generator)
