"""The default tokenizer (embedded GGUF, converted once) and tokenizer folders."""

from __future__ import annotations

import pytest

from compiler.tokenizer import apply_chat_template, load_tokenizer, tokenizer_name
from engine.models.locations import default_model_file


def test_default_tokenizer_is_cached_as_a_folder_and_matches_the_gguf(tokenizer):
    from transformers import AutoTokenizer

    model = default_model_file()
    direct = AutoTokenizer.from_pretrained(str(model.parent), gguf_file=model.name)
    text = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n"
    assert tokenizer(text)["input_ids"] == direct(text)["input_ids"]
    assert tokenizer_name(tokenizer) == model.stem


def test_chat_template_is_the_models(tokenizer):
    messages = [{"role": "user", "content": "Hi"}]
    expected = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert apply_chat_template(tokenizer, messages) == expected
    assert expected.endswith("<|im_start|>assistant\n")


def test_folder_without_chat_template_uses_a_plain_one(tiny_tokenizer_dir):
    tiny = load_tokenizer(str(tiny_tokenizer_dir))
    text = apply_chat_template(tiny, [{"role": "user", "content": "label the alert"}])
    assert text == "user: label the alert\nassistant: "


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="tokenizer folder not found"):
        load_tokenizer(str(tmp_path / "absent"))


def test_folder_without_tokenizer_files_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot load a tokenizer"):
        load_tokenizer(str(tmp_path))

