"""Constraints against the real tokenizer: random logits under the grammar's mask must still
produce a full match (the model-driven check is in test_engine.py)."""

import json
import re

import jsonschema
import pytest
import torch

from compiler.tokenizer import load_tokenizer
from engine.api import ConstraintError, SamplingParams
from engine.constraints import Constraint, GrammarCompiler, allowed_tokens
from engine.sampling import Sampler, row_key

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 8},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
        "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def setup():
    tokenizer = load_tokenizer()
    stop = tokenizer.convert_tokens_to_ids("<|im_end|>")
    return tokenizer, stop, GrammarCompiler(tokenizer, len(tokenizer), (stop,))


def run_constrained(setup, params, seed, max_steps=80):
    tokenizer, stop, compiler = setup
    constraint = Constraint(compiler.compile(params))
    noise = torch.Generator().manual_seed(seed + 1000)
    ids = []
    for step in range(max_steps):
        logits = torch.randn(1, len(tokenizer), generator=noise) * 4
        allowed = allowed_tokens([constraint], len(tokenizer))
        token = Sampler()(logits, [SamplingParams(temperature=1.0)], [row_key(seed, step)],
                          allowed).token_ids[0]
        assert constraint.accept(token)
        if constraint.is_terminated:
            assert token == stop
            return tokenizer.decode(ids)
        ids.append(token)
    raise AssertionError(f"no complete match in {max_steps} tokens: {tokenizer.decode(ids)!r}")


@pytest.mark.parametrize("seed", range(12))
def test_regex_outputs_fullmatch(setup, seed):
    pattern = r"[0-9]{3}-[a-z]{2,4}( ok)?"
    assert re.fullmatch(pattern, run_constrained(setup, SamplingParams(regex=pattern), seed))


@pytest.mark.parametrize("seed", range(12))
def test_json_outputs_validate_against_the_schema(setup, seed):
    text = run_constrained(setup, SamplingParams(json_schema=SCHEMA), seed, max_steps=200)
    jsonschema.validate(json.loads(text), SCHEMA)


@pytest.mark.parametrize("seed", range(6))
def test_choices_give_one_of_the_choices(setup, seed):
    choices = ("benign", "suspicious", "malicious \"quoted\"")
    assert run_constrained(setup, SamplingParams(choices=choices), seed) in choices


@pytest.mark.parametrize(("params", "message"), [
    (SamplingParams(regex="([a-"), "invalid regex"),
    (SamplingParams(json_schema={"type": "objectx"}), "invalid json_schema"),
    (SamplingParams(json_schema="not a dict"), "must be a JSON object"),  # type: ignore[arg-type]
    (SamplingParams(choices=()), "at least one"),
    (SamplingParams(choices=("a", "")), "non-empty"),
    (SamplingParams(regex="a", choices=("a",)), "at most one constraint"),
])
def test_bad_constraints_raise_a_clear_value_error(setup, params, message):
    with pytest.raises(ConstraintError, match=message) as info:
        setup[2].compile(params)
    assert isinstance(info.value, ValueError) and "/project/" not in str(info.value)


def test_no_constraint_compiles_to_nothing(setup):
    assert setup[2].compile(SamplingParams()) is None
    assert allowed_tokens([None, None], 10) is None


def structural_tag(forced: bool) -> dict:
    tag = {"type": "tag", "begin": '<call>{"name": "f", "arguments": ',
           "content": {"type": "json_schema", "json_schema": SCHEMA, "max_whitespace_cnt": 1},
           "end": "}</call>"}
    body = ({"type": "tags_with_separator", "tags": [tag], "separator": "\n",
             "at_least_one": True, "stop_after_first": True} if forced else
            {"type": "triggered_tags", "triggers": ["<call>"], "tags": [tag],
             "at_least_one": False, "stop_after_first": True})
    return {"type": "structural_tag", "format": body}


@pytest.mark.parametrize("seed", range(3))
def test_forced_structural_tag_outputs_one_valid_call(setup, seed):
    text = run_constrained(setup, SamplingParams(structural_tag=structural_tag(True)), seed,
                           max_steps=200)
    match = re.fullmatch(r'<call>\{"name": "f", "arguments": (.*)\}</call>', text, re.S)
    assert match, text
    jsonschema.validate(json.loads(match.group(1)), SCHEMA)


def test_bad_structural_tag_is_a_constraint_error(setup):
    _, _, compiler = setup
    with pytest.raises(ConstraintError, match="structural_tag"):
        compiler.compile(SamplingParams(structural_tag={"type": "structural_tag",
                                                        "format": {"type": "nope"}}))
    with pytest.raises(ConstraintError, match="at most one"):
        compiler.compile(SamplingParams(regex="a", structural_tag=structural_tag(False)))
