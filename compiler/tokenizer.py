"""Tokenizers for the compiler: the embedded default model's (converted from its GGUF file
once, then cached as a Hugging Face tokenizer folder) or any Hugging Face tokenizer folder.

Invariant: the compiler and the executor tokenize through the functions here, so a static
segment always yields the same token ids at compile time and at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from tokenizers import Tokenizer

from compiler.fast_tokenizer import (
    FastTokenizer,
    TokenizerLoadError,
    is_fast_folder,
    splitting_copy,
)
from compiler.token_cache import TokenCache
from engine import cache_root, default_model_file

__all__ = ["TokenizerLoadError", "apply_chat_template", "encode_dynamic", "encode_static",
           "load_compile_tokenizer", "load_tokenizer", "longest_token_chars", "tokenizer_name"]

T = TypeVar("T")

_SPLITTERS: weakref.WeakKeyDictionary[Any, Tokenizer] = weakref.WeakKeyDictionary()
_LONGEST: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_MEMO_LOCK = threading.Lock()

# Used only when a tokenizer has no chat template of its own.
FALLBACK_CHAT_TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }}: {{ message['content'] }}\n"
    "{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}"
)


def load_tokenizer(path: str | os.PathLike[str] | None = None) -> Any:
    """A Hugging Face tokenizer: the embedded default model's when `path` is None, else the
    tokenizer folder at `path`. Loaded once per process and path."""
    if path is None:
        return _load_folder(str(_default_tokenizer_folder()))
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"tokenizer folder not found: {folder}")
    return _load_folder(str(folder.resolve()))


def load_compile_tokenizer(path: str | os.PathLike[str] | None = None) -> Any:
    """Like `load_tokenizer`, but a folder with a `tokenizer.json` is read with the `tokenizers`
    library alone (`FastTokenizer`: the same ids and chat template, no transformers import)."""
    folder = _default_tokenizer_folder() if path is None else Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"tokenizer folder not found: {folder}")
    if is_fast_folder(folder):
        return _load_fast(str(folder.resolve()))
    return _load_folder(str(folder.resolve()))


def tokenizer_name(tokenizer: Any) -> str:
    """A short, machine-independent name for a tokenizer (the folder's base name)."""
    name = str(getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__)
    return Path(name).name or name


def apply_chat_template(
    tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool = True
) -> str:
    """The prompt text of `messages` under the tokenizer's chat template (a plain
    "role: content" template when the tokenizer has none)."""
    template = getattr(tokenizer, "chat_template", None) or FALLBACK_CHAT_TEMPLATE
    return tokenizer.apply_chat_template(
        messages,
        chat_template=template,
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
    )


def encode_static(tokenizer: Any, texts: list[str]) -> list[tuple[int, ...]]:
    """Token ids of compile-time texts (chat-template markup parses as special tokens)."""
    if not texts:
        return []
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [tuple(ids) for ids in encoded]


def encode_dynamic(tokenizer: Any, text: str) -> list[int]:
    """Token ids of a run-time value; special-token markup in values stays plain text."""
    if not text:
        return []
    splitter = _splitter(tokenizer)
    if splitter is not None:
        return splitter.encode(text, add_special_tokens=False).ids
    return list(tokenizer(text, add_special_tokens=False, split_special_tokens=True)["input_ids"])


def longest_token_chars(tokenizer: Any) -> int:
    """The most characters one token of `tokenizer` spells (its vocabulary read once per
    tokenizer: a 50K vocabulary takes tens of milliseconds)."""
    return _per_tokenizer(_LONGEST, tokenizer,
                          lambda: max(map(len, tokenizer.get_vocab()), default=1))


def _splitter(tokenizer: Any) -> Tokenizer | None:
    """For a transformers tokenizer backed by the `tokenizers` library, a copy of its backend
    that reads special-token markup as plain text. transformers would instead flip a flag on
    the shared backend for the length of the call, and a static segment encoded on another
    thread meanwhile would have its markup spelled out (prompts render on worker threads).
    None for flowc's own `FastTokenizer` (it keeps such a copy itself) and for tokenizers
    that take the option per call."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if isinstance(tokenizer, FastTokenizer) or not isinstance(backend, Tokenizer):
        return None
    return _per_tokenizer(_SPLITTERS, tokenizer, lambda: splitting_copy(backend))


def _per_tokenizer(table: weakref.WeakKeyDictionary[Any, T], tokenizer: Any,
                   make: Callable[[], T]) -> T:
    """`table`'s value for `tokenizer`, made once (while the tokenizer lives)."""
    with _MEMO_LOCK:
        value = table.get(tokenizer)
        if value is None:
            value = table[tokenizer] = make()
    return value


def _default_tokenizer_folder() -> Path:
    model_file = default_model_file()
    folder = cache_root() / "tokenizers" / model_file.stem
    if not (folder / "tokenizer_config.json").is_file():
        _convert_gguf_tokenizer(model_file, folder)
    return folder


def _convert_gguf_tokenizer(model_file: Path, folder: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_file.parent), gguf_file=model_file.name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=folder.name, dir=folder.parent))
    tokenizer.save_pretrained(str(staging))
    try:
        staging.rename(folder)  # atomic: concurrent converters never see half a folder
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)


@cache
def _load_fast(folder: str) -> FastTokenizer:
    try:
        return FastTokenizer(Path(folder), _token_cache(Path(folder)))
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot load a tokenizer from {folder}: {exc}") from exc


def _token_cache(folder: Path) -> TokenCache | None:
    """The on-disk cache of this tokenizer's encoded texts, under flowc's cache folder (none
    when FLOWC_TOKEN_CACHE=0)."""
    if os.environ.get("FLOWC_TOKEN_CACHE") == "0":
        return None
    return TokenCache(cache_root() / "tokens", folder / "tokenizer.json")


@cache
def _load_folder(folder: str) -> Any:
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot load a tokenizer from {folder}: {exc}") from exc
