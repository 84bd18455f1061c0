"""The decoder the detokenizer uses is exactly the tokenizer's own `decode`."""

from __future__ import annotations

import random

from engine.detokenize import TextStream, decoder_for


def test_the_fast_decoder_equals_tokenizer_decode(default_loaded):
    tokenizer = default_loaded.tokenizer
    decode = decoder_for(tokenizer)
    rng = random.Random(0)
    special = list(tokenizer.all_special_ids)
    for _ in range(300):
        ids = [rng.randrange(tokenizer.vocab_size) for _ in range(rng.randint(1, 12))]
        ids += rng.sample(special, k=min(len(special), rng.randint(0, 2)))
        rng.shuffle(ids)
        assert decode(ids) == tokenizer.decode(ids, skip_special_tokens=True)


def test_text_with_spaces_before_punctuation_decodes_as_transformers_decodes(default_loaded):
    tokenizer = default_loaded.tokenizer
    text = "Wait , what ? It is n't so . I 'm sure ; they 've said ' yes ' !"
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert decoder_for(tokenizer)(ids) == tokenizer.decode(ids, skip_special_tokens=True)


def test_streamed_text_is_the_decoded_output(default_loaded):
    tokenizer = default_loaded.tokenizer
    ids = tokenizer.encode("Déjà vu: naïve café ☕ — 東京, 42 %.", add_special_tokens=False)
    stream = TextStream(tokenizer)
    shown = ""
    for token in ids:
        stream.push(token)
        shown += stream.delta()
    shown += stream.delta(final=True)
    assert shown == tokenizer.decode(ids, skip_special_tokens=True)
    assert decoder_for(None)(ids) == ""
