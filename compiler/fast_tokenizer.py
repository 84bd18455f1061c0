"""A tokenizer folder read with the `tokenizers` library alone, for compiling: the token ids and
the chat template of the Hugging Face tokenizer of the same folder, without importing
transformers or torch (seconds of start-up a `flowc compile` does not need).

Parsing `tokenizer.json` (a tenth of a second for a 50K vocabulary) runs on a background thread;
the `tokenizers` library releases the GIL meanwhile, so a caller that constructs it first
overlaps the parse with its own imports. The first encode or decode that needs it waits for it;
a file that does not parse raises `TokenizerLoadError` there. With a `TokenCache`, texts encoded
before are read from disk, and the parse starts only when a text is not there (or at once, when
the cache holds nothing of this tokenizer yet).

Invariant: no encode changes a tokenizer object another thread may be encoding with (prompts
are rendered on worker threads, many at once). Texts whose special-token markup must stay
plain text go through a second copy of the tokenizer that always reads it so.

It answers the calls the compiler makes (`tokenizer(texts, ...)["input_ids"]`,
`apply_chat_template(..., tokenize=False)`, `chat_template`, `name_or_path`); the executor and
the engine keep the transformers tokenizer.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

from compiler.token_cache import TokenCache

_SPECIAL_TOKEN_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token")


class TokenizerLoadError(ValueError):
    """A tokenizer folder whose files cannot be read or parsed."""


class FastTokenizer:
    def __init__(self, folder: Path, cache: TokenCache | None = None) -> None:
        self.name_or_path = str(folder)
        self._file = folder / "tokenizer.json"
        self._cache = cache
        self._parsed: Future[Tokenizer] | None = None
        self._splitter: Tokenizer | None = None
        self._splitter_lock = threading.Lock()
        if cache is None or not cache.has_entries():
            self._parsed = _parse_in_background(self._file)
        config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        template_file = folder / "chat_template.jinja"
        template = config.get("chat_template")
        if template_file.is_file():
            template = template_file.read_text(encoding="utf-8")
        self.chat_template: str | None = template if isinstance(template, str) else None
        self._special = {k: _token_text(config.get(k)) for k in _SPECIAL_TOKEN_KEYS}

    @property
    def parsed(self) -> bool:
        """Whether `tokenizer.json` was read (every text so far may have come from the cache)."""
        return self._parsed is not None

    @property
    def _tokenizer(self) -> Tokenizer:
        if self._parsed is None:
            self._parsed = _parse_in_background(self._file)
        try:
            return self._parsed.result()
        except Exception as exc:  # the library raises a bare Exception for a bad file
            raise TokenizerLoadError(
                f"cannot load a tokenizer from {self.name_or_path}: {exc}") from exc

    def get_vocab(self) -> dict[str, int]:
        """Every token's text (in the tokenizer's own byte-level spelling) and id."""
        return self._tokenizer.get_vocab(with_added_tokens=True)

    def __call__(self, text: str | Sequence[str], add_special_tokens: bool = True,
                 split_special_tokens: bool = False) -> dict[str, Any]:
        texts = [text] if isinstance(text, str) else list(text)
        options = f"special={add_special_tokens:d},split={split_special_tokens:d}"
        cache = self._cache
        ids = [cache.get(options, t) if cache is not None else None for t in texts]
        missing = [i for i, found in enumerate(ids) if found is None]
        if missing:
            encoded = self._encode([texts[i] for i in missing], add_special_tokens,
                                   split_special_tokens)
            for i, found in zip(missing, encoded, strict=True):
                ids[i] = found
                if cache is not None:
                    cache.put(options, texts[i], found)
        return {"input_ids": ids[0] if isinstance(text, str) else ids}

    def _encode(self, texts: list[str], add_special_tokens: bool, split_special_tokens: bool
                ) -> list[list[int]]:
        tokenizer = self._splitting() if split_special_tokens else self._tokenizer
        encoded = tokenizer.encode_batch(texts, add_special_tokens=add_special_tokens)
        return [e.ids for e in encoded]

    def _splitting(self) -> Tokenizer:
        """The copy of the tokenizer that spells special-token markup out as plain text."""
        with self._splitter_lock:
            if self._splitter is None:
                self._splitter = splitting_copy(self._tokenizer)
            return self._splitter

    def decode(self, ids: Sequence[int], clean_up_tokenization_spaces: bool = False) -> str:
        if clean_up_tokenization_spaces:
            raise ValueError("FastTokenizer decodes without clean-up only")
        cache = self._cache
        text = cache.get_text(ids) if cache is not None else None
        if text is None:
            text = self._tokenizer.decode(list(ids), skip_special_tokens=False)
            if cache is not None:
                cache.put_text(ids, text)
        return text

    def apply_chat_template(self, messages: Sequence[dict[str, str]], chat_template: str,
                            tokenize: bool = False, add_generation_prompt: bool = True) -> str:
        if tokenize:
            raise ValueError("FastTokenizer renders chat templates as text only")
        return _environment().from_string(chat_template).render(
            messages=list(messages), add_generation_prompt=add_generation_prompt,
            tools=None, documents=None, **self._special)


def is_fast_folder(folder: Path) -> bool:
    return (folder / "tokenizer.json").is_file() and (folder / "tokenizer_config.json").is_file()


def splitting_copy(tokenizer: Tokenizer) -> Tokenizer:
    """A copy of `tokenizer` that reads special-token markup as plain text."""
    copy = Tokenizer.from_str(tokenizer.to_str())
    copy.encode_special_tokens = True
    return copy


def _parse_in_background(file: Path) -> Future[Tokenizer]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tokenizer")
    future = pool.submit(Tokenizer.from_file, str(file))
    pool.shutdown(wait=False)  # the parse goes on; the pool takes no more work
    return future


def _token_text(value: Any) -> str | None:
    if isinstance(value, dict):
        return value.get("content")
    return value if isinstance(value, str) else None


def _raise(message: str) -> None:
    raise ValueError(f"chat template: {message}")


def _environment() -> ImmutableSandboxedEnvironment:
    """The environment transformers renders chat templates in."""
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[loopcontrols])
    env.filters["tojson"] = lambda value, indent=None: json.dumps(
        value, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = _raise
    return env
