"""The on-disk token cache of the compile tokenizer: the same ids as encoding afresh, a warm
compile that never parses `tokenizer.json`, and a cache that cannot hurt (a bad entry is a miss,
an unwritable folder only costs the encode)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import flowc
from compiler.fast_tokenizer import FastTokenizer
from compiler.render import render
from compiler.token_cache import TokenCache
from compiler.tokenizer import load_compile_tokenizer

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ["", "Hello, world!", "<|im_start|>system\nYou triage alerts.<|im_end|>\n",
         "naïve café — 東京 🚀", "  leading and trailing spaces  ", "a" * 5000,
         "IP 203.0.113.7 port 22\n\tTabs and\r\nCRLF"]


@pytest.fixture(scope="module")
def folder() -> Path:
    return Path(load_compile_tokenizer().name_or_path)


def _encode(tokenizer: FastTokenizer, split: bool) -> list[list[int]]:
    return tokenizer(TEXTS, add_special_tokens=False, split_special_tokens=split)["input_ids"]


@pytest.mark.parametrize("split", [False, True])
def test_cached_ids_equal_fresh_ones(folder: Path, tmp_path: Path, split: bool) -> None:
    fresh = _encode(FastTokenizer(folder), split)
    cache = TokenCache(tmp_path, folder / "tokenizer.json")
    cold = FastTokenizer(folder, cache)
    assert _encode(cold, split) == fresh and cold.parsed
    warm = FastTokenizer(folder, cache)
    assert _encode(warm, split) == fresh
    assert not warm.parsed  # every text came from the cache
    other = _encode(warm, not split)  # the other option is its own entry
    assert other == _encode(FastTokenizer(folder), not split) and warm.parsed


def test_a_warm_compile_reads_no_tokenizer_file(folder: Path, tmp_path: Path) -> None:
    graph = flowc.load(ROOT / "examples" / "graphs" / "soar_triage.json")
    cache = TokenCache(tmp_path, folder / "tokenizer.json")
    cold_text = render(flowc.compile(graph, FastTokenizer(folder, cache)))
    warm = FastTokenizer(folder, cache)
    assert render(flowc.compile(graph, warm)) == cold_text
    assert not warm.parsed
    assert render(flowc.compile(graph, FastTokenizer(folder))) == cold_text


def test_a_damaged_entry_is_encoded_again(folder: Path, tmp_path: Path) -> None:
    cache = TokenCache(tmp_path, folder / "tokenizer.json")
    fresh = _encode(FastTokenizer(folder, cache), False)
    for entry in (p for p in cache.folder.rglob("*") if p.is_file()):
        entry.write_bytes(entry.read_bytes() + b"\x01")
    again = FastTokenizer(folder, cache)
    assert _encode(again, False) == fresh and again.parsed


def test_an_unwritable_cache_still_encodes(folder: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder would be")
    cache = TokenCache(blocker, folder / "tokenizer.json")
    tokenizer = FastTokenizer(folder, cache)
    assert _encode(tokenizer, False) == _encode(FastTokenizer(folder), False)
    assert not cache.has_entries()


def test_another_tokenizer_file_has_its_own_entries(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    (copy / "tokenizer.json").write_text((folder / "tokenizer.json").read_text() + "\n")
    first = TokenCache(tmp_path / "cache", folder / "tokenizer.json")
    second = TokenCache(tmp_path / "cache", copy / "tokenizer.json")
    assert first.folder != second.folder
    _encode(FastTokenizer(folder, first), False)
    assert first.has_entries() and not second.has_entries()


def test_decoded_texts_are_cached_too(folder: Path, tmp_path: Path) -> None:
    cache = TokenCache(tmp_path, folder / "tokenizer.json")
    ids = [_encode(FastTokenizer(folder), False)[i] for i in (2, 3)]
    fresh = [FastTokenizer(folder).decode(i) for i in ids]
    assert [FastTokenizer(folder, cache).decode(i) for i in ids] == fresh
    warm = FastTokenizer(folder, cache)
    assert [warm.decode(i) for i in ids] == fresh and not warm.parsed
