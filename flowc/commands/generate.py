"""`flowc generate PROMPT`: one chat reply from a model, streamed to stdout.

PROMPT becomes the single user message of the model's chat template. Only the completion
goes to stdout; loading progress and messages go to stderr.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Annotated, NoReturn

import typer

from flowc.errors import fail

MODEL_HELP = "default (the embedded model), a Hugging Face folder, a .gguf file or dummy:SHAPE."


def register(app: typer.Typer) -> None:
    app.command(name="generate")(generate_command)


def generate_command(
    prompt: Annotated[str, typer.Argument(help="The user message.")],
    model: Annotated[str, typer.Option(help=MODEL_HELP)] = "default",
    max_tokens: Annotated[int, typer.Option("--max-tokens", help="Most tokens to generate.")]
    = 256,
    temperature: Annotated[float, typer.Option(help="0 is greedy.")] = 0.0,
    seed: Annotated[int | None, typer.Option(help="Seed for sampling.")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
) -> None:
    """Generate a reply to PROMPT and print it."""
    from rich.console import Console

    from engine.api import SamplingParams

    console = Console(stderr=True)
    if not prompt.strip():
        _fail(console, "the prompt is empty", code=2)
    sampling = SamplingParams(max_tokens=max_tokens, temperature=temperature, seed=seed)
    engine, ids = _load(console, model, device, prompt, max_tokens)
    try:
        request_id = engine.add_request(ids, sampling)
    except ValueError as error:
        _fail(console, str(error))
    _stream(engine, request_id)


def _load(console, model: str, device: str, prompt: str, max_tokens: int):
    """The engine, with a KV cache just large enough for this one request, and the prompt's
    token ids."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from engine import EngineConfig, LLMEngine, load_model

    try:
        config = EngineConfig(model=model, device=device)
    except ValueError as error:
        _fail(console, str(error), code=2)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task(f"Loading {model}", total=1.0)

        def report(stage: str, fraction: float) -> None:
            progress.update(task, description=f"Loading {model}: {stage}", completed=fraction)

        try:
            loaded = load_model(config, progress=report)
            if loaded.tokenizer is None:
                _fail(console, f"model {model!r} has no tokenizer to read the prompt with")
            ids = _chat_prompt(loaded.tokenizer, prompt)
            tokens = len(ids) + max(0, max_tokens)
            config = replace(config, num_pages=-(-tokens // config.page_size) + 2)
            progress.update(task, description="Allocating the KV cache", completed=1.0)
            return LLMEngine(config, loaded=loaded), ids
        except (ValueError, FileNotFoundError, OSError) as error:
            _fail(console, f"cannot load model {model!r}: {error}")


def _chat_prompt(tokenizer, prompt: str) -> list[int]:
    from compiler.tokenizer import apply_chat_template, encode_static

    text = apply_chat_template(tokenizer, [{"role": "user", "content": prompt}])
    return list(encode_static(tokenizer, [text])[0])


def _stream(engine, request_id: str) -> None:
    while engine.has_unfinished():
        for out in engine.step():
            if out.request_id != request_id:
                continue
            sys.stdout.write(out.text)
            sys.stdout.flush()
            if out.finished is not None:
                sys.stdout.write("\n")
                return


def _fail(console, message: str, code: int = 1) -> NoReturn:
    fail(message, code)
