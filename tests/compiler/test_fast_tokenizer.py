"""`flowc compile` reads the tokenizer with the `tokenizers` library alone: the plans equal those
compiled with the transformers tokenizer of the same folder, and a fresh compile process
imports neither transformers nor torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from compiler_graphs import ALL

import compiler
from compiler.fast_tokenizer import FastTokenizer
from compiler.graphapi import load
from graph.model import Workflow

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "graphs").glob("*.json"))
VALUES = ["The", " The", "<|im_end|> not a turn end", "héllo wörld 👋", "  two  spaces\n\n"]


@pytest.fixture(scope="module")
def fast() -> FastTokenizer:
    tokenizer = compiler.load_compile_tokenizer()
    assert isinstance(tokenizer, FastTokenizer)
    return tokenizer


@pytest.mark.parametrize("source", [*EXAMPLES, *ALL.values()],
                         ids=[p.stem for p in EXAMPLES] + list(ALL))
def test_plans_equal_the_transformers_tokenizers(source, fast, tokenizer) -> None:
    workflow = load(source) if isinstance(source, Path) else Workflow.model_validate(source)
    assert compiler.compile(workflow, fast).to_json() == compiler.compile(
        workflow, tokenizer).to_json()


def test_ids_equal_the_transformers_tokenizers(fast, tokenizer) -> None:
    for split in (False, True):
        ours = fast(VALUES, add_special_tokens=False, split_special_tokens=split)["input_ids"]
        theirs = tokenizer(VALUES, add_special_tokens=False,
                           split_special_tokens=split)["input_ids"]
        assert ours == [list(ids) for ids in theirs]


def test_the_vocabulary_equals_the_transformers_tokenizers(fast, tokenizer) -> None:
    assert fast.get_vocab() == tokenizer.get_vocab()


def test_a_fresh_compile_imports_neither_transformers_nor_torch() -> None:
    code = ("import sys\nfrom flowc.cli import main\n"
            "try:\n    main(['compile', 'examples/graphs/soar_triage.json'])\n"
            "except SystemExit as exit:\n    assert exit.code == 0\n"
            "print(sorted(m for m in ('transformers', 'torch') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
