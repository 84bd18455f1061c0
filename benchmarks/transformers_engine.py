"""`TransformersEngine`: an `EngineAPI` over Hugging Face transformers `model.generate`.

This is the workflow benchmark's mode (C), "each node in turn with transformers `generate`":
what a LangGraph-plus-transformers user gets. It runs one request at a time, in arrival order
(an asyncio lock; `generate` runs in a worker thread so the event loop stays free). Each call
builds its own dense KV cache and computes its whole prompt, so nothing is shared between
requests and `cached_tokens` is always 0. It supports greedy decoding and seeded sampling
(`torch.manual_seed` under the lock), stop tokens, eos, `ignore_eos`, stop strings
(transformers' `stop_strings`, then the text is cut before the first one), `choices`
(`prefix_allowed_tokens_fn` over a trie of the choices' token ids) and raw-logit `logprobs`.

Limits, compared with flowc's engine:
- regex and json_schema raise `ConstraintError`, because a plain transformers user has no
  grammar engine.
- `choices` follow each choice's own tokenization, not every tokenization of its text.
- `priority` is ignored and `prefill` pins nothing: it returns a handle with
  `cached_tokens` 0, and `release` does nothing.
- `stream` yields a single chunk once the generation has finished.
- Sampled tokens come from torch's generator, so they differ from flowc's for the same seed.
- Timings: `first_token_s` runs from the call (queueing included) to the first new token
  that generate hands its streamer. `decode_s` runs from there to the end of the call.
- `stats().steps` counts forward passes: one per generated token, where the first is the
  prompt's forward, plus one per scored continuation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoTokenizer,
    DynamicCache,
    GenerationConfig,
    PretrainedConfig,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from engine.api import (
    ChoiceScores,
    ConstraintError,
    EmptyPromptError,
    EngineAPI,
    EngineOverloadedError,
    EngineStats,
    Generation,
    PrefixHandle,
    PromptTooLongError,
    RequestError,
    SamplingParams,
    StreamChunk,
)
from engine.config import DTYPES
from engine.models.config import ModelConfig
from engine.models.gguf_cache import default_tokenizer_or_none
from engine.models.shapes import dummy_shape
from engine.sampling import check_sampling

_END = -1  # the trie key marking a complete choice


def hf_config(shape: ModelConfig) -> PretrainedConfig:
    """The transformers config of a flowc `ModelConfig` (a `dummy:<shape>`), same dimensions."""
    rope = {"rope_type": "default", **(shape.rope_scaling or {}), "rope_theta": shape.rope_theta}
    extra = {"attention_bias": shape.qkv_bias, "mlp_bias": shape.mlp_bias} \
        if shape.architecture == "llama" else {}
    return AutoConfig.for_model(
        shape.architecture,
        vocab_size=shape.vocab_size,
        hidden_size=shape.hidden_size,
        intermediate_size=shape.intermediate_size,
        num_hidden_layers=shape.num_layers,
        num_attention_heads=shape.num_heads,
        num_key_value_heads=shape.num_kv_heads,
        head_dim=shape.head_dim,
        rms_norm_eps=shape.rms_norm_eps,
        rope_parameters=rope,
        max_position_embeddings=shape.max_position_embeddings,
        tie_word_embeddings=shape.tie_word_embeddings,
        bos_token_id=shape.bos_token_id,
        eos_token_id=list(shape.eos_token_ids),
        **extra,
    )


class _ChoiceTrie:
    """The choices' token ids as a trie. Before each token, the allowed tokens are those that
    keep the output a prefix of some choice, plus the end tokens once it is a whole choice."""

    def __init__(self, choices: list[list[int]], end_ids: Sequence[int]) -> None:
        self.root: dict[int, dict] = {}
        self.end_ids = list(end_ids)
        for ids in choices:
            node = self.root
            for token in ids:
                node = node.setdefault(token, {})
            node[_END] = {}

    def allowed_after(self, prompt_len: int) -> Callable[[int, torch.Tensor], list[int]]:
        """generate's `prefix_allowed_tokens_fn` for a prompt of `prompt_len` tokens."""

        def allowed(batch_id: int, input_ids: torch.Tensor) -> list[int]:
            node: dict[int, dict] | None = self.root
            for token in input_ids[prompt_len:].tolist():
                node = node.get(token) if node is not None else None
            if node is None:  # off the trie (only after an end token): end
                return self.end_ids
            return [t for t in node if t != _END] + (self.end_ids if _END in node else [])

        return allowed


class _FirstTokenClock(BaseStreamer):
    """Notes when generate produces its first new token (its first `put` is the prompt)."""

    def __init__(self) -> None:
        self.puts = 0
        self.at: float | None = None

    def put(self, value: torch.Tensor) -> None:
        self.puts += 1
        if self.puts == 2:
            self.at = time.perf_counter()

    def end(self) -> None:
        pass


class _StopWhen(StoppingCriteria):
    """Ends generation once `stopped()` is true (an abort or close)."""

    def __init__(self, stopped: Callable[[], bool]) -> None:
        self.stopped = stopped

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any
                 ) -> torch.Tensor:
        return torch.full((input_ids.shape[0],), self.stopped(), dtype=torch.bool,
                          device=input_ids.device)


def _as_dtype(dtype: str | torch.dtype) -> torch.dtype:
    return DTYPES[dtype] if isinstance(dtype, str) else dtype


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """`text` up to its first stop string, and whether one was found."""
    ends = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[:min(ends)], True) if ends else (text, False)


class TransformersEngine(EngineAPI):
    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, name: str,
                 eos_token_ids: Sequence[int]) -> None:
        self._model: PreTrainedModel | None = model.eval()
        # every call passes its own settings; none of the checkpoint's defaults may leak in
        model.generation_config = GenerationConfig()
        self._tokenizer = tokenizer
        self._name = name
        self._eos = tuple(eos_token_ids)
        self._vocab_size: int = model.config.vocab_size
        self._max_context: int = model.config.max_position_embeddings
        self._device = model.device
        self._stats = EngineStats()
        self._ids = itertools.count()
        self._live: set[str] = set()  # submitted, not finished
        self._aborted: set[str] = set()
        self._closed = False
        self._lock_loop: asyncio.AbstractEventLoop | None = None
        self._lock_obj = asyncio.Lock()

    @classmethod
    def from_folder(cls, folder: str | Path, device: str | torch.device = "cpu",
                    dtype: str | torch.dtype = torch.float32, name: str | None = None
                    ) -> TransformersEngine:
        """A Hugging Face checkpoint folder, e.g. the embedded default model's converted one
        (`engine.models.loader.resolve_folder("default")[0]`)."""
        folder = Path(folder)
        model = AutoModelForCausalLM.from_pretrained(
            str(folder), dtype=_as_dtype(dtype), attn_implementation="sdpa").to(device)
        tokenizer = AutoTokenizer.from_pretrained(str(folder))
        eos = model.generation_config.eos_token_id  # what generate itself would stop on
        if eos is None:
            eos = tokenizer.eos_token_id
        eos_ids = () if eos is None else (eos,) if isinstance(eos, int) else tuple(eos)
        return cls(model, tokenizer, name or folder.name, eos_ids)

    @classmethod
    def from_dummy(cls, shape_name: str, device: str | torch.device = "cpu",
                   dtype: str | torch.dtype = torch.float32, tokenizer: str | Path | None = None,
                   seed: int = 0) -> TransformersEngine:
        """Random weights (transformers' own init) in the shape of flowc's `dummy:<shape>`,
        with the tokenizer flowc uses for it: `tokenizer`, a folder as written by
        `flowc export-tokenizer`, else the default model's."""
        shape_name = shape_name.removeprefix("dummy:")
        shape = dummy_shape(shape_name)
        loaded = default_tokenizer_or_none() if tokenizer is None \
            else AutoTokenizer.from_pretrained(str(tokenizer))
        if loaded is None:
            raise FileNotFoundError("no tokenizer for the dummy model: install the default "
                                    "model or pass a folder from `flowc export-tokenizer`")
        torch.manual_seed(seed)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(
                hf_config(shape), dtype=_as_dtype(dtype), attn_implementation="sdpa")
        return cls(model, loaded, f"dummy:{shape_name}", shape.eos_token_ids)

    # -- what the engine serves ---------------------------------------------------------------
    @property
    def model_name(self) -> str:
        return self._name

    @property
    def tokenizer(self) -> PreTrainedTokenizerBase:
        return self._tokenizer

    @property
    def eos_token_ids(self) -> tuple[int, ...]:
        return self._eos

    @property
    def page_size(self) -> int:
        return 1  # no pages: each call's cache is its own, nothing is shared

    @property
    def max_context(self) -> int:
        return self._max_context

    # -- checks -------------------------------------------------------------------------------
    def check(self, token_ids: Sequence[int], sampling: SamplingParams) -> None:
        ids = self._checked_prompt(token_ids)
        try:
            check_sampling(sampling, self._max_context, self._vocab_size)
        except ValueError as error:
            raise RequestError(str(error)) from None
        if len(ids) + sampling.max_tokens > self._max_context:
            raise PromptTooLongError(
                f"the prompt has {len(ids)} tokens and asks for {sampling.max_tokens} more, but "
                f"the model's context is {self._max_context} tokens")
        self._choice_ids(sampling)

    def _checked_prompt(self, token_ids: Sequence[int]) -> list[int]:
        if self._closed:
            raise EngineOverloadedError("the engine is closed")
        ids = self._checked_ids(token_ids)
        if not ids:
            raise EmptyPromptError("the prompt is empty: give at least one token")
        return ids

    def _checked_ids(self, token_ids: Sequence[int]) -> list[int]:
        if isinstance(token_ids, str | bytes):
            raise RequestError("token_ids must be a sequence of integer token ids")
        ids = list(token_ids)
        for i, t in enumerate(ids):
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t < self._vocab_size:
                raise RequestError(f"token id {t!r} at position {i} is outside the vocabulary "
                                   f"(0..{self._vocab_size - 1})")
        return ids

    def _choice_ids(self, sampling: SamplingParams) -> list[list[int]] | None:
        """Each choice's token ids (None without choices); `ConstraintError` for what this
        baseline cannot constrain."""
        for name in ("regex", "json_schema"):
            if getattr(sampling, name) is not None:
                raise ConstraintError(f"{name} constraints are not supported by the "
                                      "transformers baseline (only choices are)")
        if sampling.choices is None:
            return None
        if not sampling.choices or any(not isinstance(c, str) or not c
                                       for c in sampling.choices):
            raise ConstraintError("choices must be a non-empty list of non-empty strings")
        if not self._eos:
            raise ConstraintError("choices need an eos token to end on")
        return [self._tokenizer.encode(c, add_special_tokens=False) for c in sampling.choices]

    # -- one request at a time ----------------------------------------------------------------
    def _lock(self) -> asyncio.Lock:
        """The lock of the running event loop (each `asyncio.run` makes a new loop)."""
        loop = asyncio.get_running_loop()
        if self._lock_loop is not loop:
            self._lock_loop, self._lock_obj = loop, asyncio.Lock()
        return self._lock_obj

    def _stopped(self, request_id: str) -> bool:
        return self._closed or request_id in self._aborted

    async def generate(self, token_ids: Sequence[int], sampling: SamplingParams,
                       priority: int = 0, request_id: str | None = None) -> Generation:
        self.check(token_ids, sampling)
        ids = list(token_ids)
        request_id = request_id or f"hf-{next(self._ids)}"
        submitted = time.perf_counter()
        self._live.add(request_id)
        try:
            async with self._lock():
                if self._stopped(request_id):
                    return Generation([], "", "abort", len(ids), 0, None, 0.0, 0.0)
                if sampling.max_tokens == 0:
                    return Generation([], "", "length", len(ids), 0, None, 0.0, 0.0)
                return await asyncio.to_thread(self._generate, ids, sampling, request_id,
                                               submitted)
        finally:
            self._live.discard(request_id)
            self._aborted.discard(request_id)

    def _generate(self, ids: list[int], sampling: SamplingParams, request_id: str,
                  submitted: float) -> Generation:
        model = self._model
        if model is None:  # closed since the lock was taken
            return Generation([], "", "abort", len(ids), 0, None, 0.0, 0.0)
        prompt = torch.tensor([ids], device=self._device)
        clock = _FirstTokenClock()
        if sampling.temperature > 0 and sampling.seed is not None:
            torch.manual_seed(sampling.seed)
        with torch.inference_mode():
            out = model.generate(
                prompt, attention_mask=torch.ones_like(prompt), streamer=clock,
                stopping_criteria=StoppingCriteriaList(
                    [_StopWhen(lambda: self._stopped(request_id))]),
                return_dict_in_generate=True, **self._generate_options(len(ids), sampling))
        end = time.perf_counter()
        new = out.sequences[0, len(ids):].tolist()
        logprobs = None
        if sampling.logprobs:
            logprobs = [torch.log_softmax(step[0].float(), -1)[t].item()
                        for step, t in zip(out.logits, new, strict=True)]
        text, cut = _cut_at_stop(self._tokenizer.decode(new, skip_special_tokens=True),
                                 sampling.stop)
        if self._stopped(request_id):
            reason = "abort"
        elif cut or (new and new[-1] in self._end_ids(sampling)):
            reason = "stop"
        else:
            reason = "length"
        self._stats.prompt_tokens += len(ids)
        self._stats.generated_tokens += len(new)
        self._stats.steps += len(new)  # the prompt's forward yields the first token
        first = clock.at if clock.at is not None else end
        return Generation(new, text, reason, len(ids), 0, logprobs, first - submitted,
                          end - first)

    def _end_ids(self, sampling: SamplingParams) -> list[int]:
        """The tokens that end the generation: stop tokens, and eos unless ignored (a choice
        always ends on eos)."""
        ends = list(sampling.stop_token_ids)
        if not sampling.ignore_eos or sampling.choices is not None:
            ends += [t for t in self._eos if t not in ends]
        return ends

    def _generate_options(self, prompt_len: int, sampling: SamplingParams) -> dict[str, Any]:
        ends = self._end_ids(sampling)
        options: dict[str, Any] = {
            "max_new_tokens": sampling.max_tokens,
            "do_sample": sampling.temperature > 0,
            "eos_token_id": ends or None,
            "pad_token_id": (ends or list(self._eos) or [0])[0],
            "output_logits": sampling.logprobs,
        }
        if sampling.temperature > 0:
            options.update(temperature=sampling.temperature, top_p=sampling.top_p,
                           top_k=sampling.top_k)
        if sampling.stop:
            options.update(stop_strings=list(sampling.stop), tokenizer=self._tokenizer)
        choices = self._choice_ids(sampling)
        if choices is not None:
            trie = _ChoiceTrie(choices, self._eos)
            options["prefix_allowed_tokens_fn"] = trie.allowed_after(prompt_len)
        return options

    async def stream(self, token_ids: Sequence[int], sampling: SamplingParams,
                     priority: int = 0, request_id: str | None = None
                     ) -> AsyncIterator[StreamChunk]:
        """One chunk, once the whole generation is done."""
        generation = await self.generate(token_ids, sampling, priority, request_id)
        yield StreamChunk(generation.token_ids, generation.text, generation)

    # -- prefixes and scoring -----------------------------------------------------------------
    async def prefill(self, token_ids: Sequence[int], priority: int = 0) -> PrefixHandle:
        """Nothing to pin: a transformers user recomputes every prompt."""
        ids = self._checked_prompt(token_ids)
        return PrefixHandle(next(self._ids), tuple(ids), 0)

    def release(self, handle: PrefixHandle) -> None:
        pass

    async def score(self, token_ids: Sequence[int], continuations: Sequence[Sequence[int]],
                    priority: int = 0) -> ChoiceScores:
        """One forward over the prompt, then one over each continuation of more than one token
        on that prompt's cache (cropped back after each): what a transformers user scoring
        labels writes. Nothing is cached between calls."""
        prompt = self._checked_prompt(token_ids)
        conts = [self._checked_ids(c) for c in continuations]
        if any(len(prompt) + len(c) > self._max_context for c in conts):
            raise PromptTooLongError(f"prompt + continuation exceed the model's context of "
                                     f"{self._max_context} tokens")
        async with self._lock():
            sums = await asyncio.to_thread(self._logprobs, prompt, conts)
        return ChoiceScores(sums, 0)

    def _logprobs(self, prompt: list[int], continuations: list[list[int]]) -> list[float]:
        model = self._model
        if model is None or not any(continuations):
            return [0.0] * len(continuations)
        with torch.inference_mode():
            out = model(torch.tensor([prompt], device=self._device), use_cache=True,
                        logits_to_keep=1)
            cache = out.past_key_values
            first = torch.log_softmax(out.logits[0, -1].float(), -1)
            self._stats.prompt_tokens += len(prompt)
            self._stats.steps += 1
            return [self._continuation_logprob(model, cache, first, len(prompt), c)
                    for c in continuations]

    def _continuation_logprob(self, model: PreTrainedModel, cache: DynamicCache,
                              first: torch.Tensor,
                              prompt_len: int, continuation: list[int]) -> float:
        if not continuation:
            return 0.0
        total = first[continuation[0]].item()
        if len(continuation) > 1:
            ids = torch.tensor([continuation], device=self._device)
            logits = model(ids[:, :-1], past_key_values=cache, use_cache=True).logits[0]
            picked = torch.log_softmax(logits.float(), -1).gather(1, ids[0, 1:].unsqueeze(1))
            total += picked.sum().item()
            cache.crop(prompt_len)
            self._stats.prompt_tokens += len(continuation) - 1
            self._stats.steps += 1
        return total

    # -- control ------------------------------------------------------------------------------
    def abort(self, request_id: str) -> None:
        if request_id in self._live:
            self._aborted.add(request_id)

    def stats(self) -> EngineStats:
        live = len(self._live)
        running = 1 if live and self._lock_obj.locked() else 0
        return dataclasses.replace(self._stats, running=running, waiting=live - running,
                                   extra=dict(self._stats.extra))

    def close(self) -> None:
        """Running and queued requests end with "abort"; the model is freed."""
        if self._closed:
            return
        self._closed = True
        self._model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
