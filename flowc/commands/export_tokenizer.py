"""`flowc export-tokenizer DIR`: write the embedded default model's tokenizer to a folder, so a
machine without the model package can run `dummy:SHAPE` models with `--tokenizer DIR`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    app.command(name="export-tokenizer")(export_tokenizer)


def export_tokenizer(
    folder: Annotated[Path, typer.Argument(help="The folder to write (created if missing).")],
) -> None:
    """Write the default model's tokenizer (with its chat template) as a Hugging Face
    tokenizer folder of a few MB."""
    from compiler import load_tokenizer

    if folder.exists() and not folder.is_dir():
        print(f"error: {folder} exists and is not a folder", file=sys.stderr)
        raise typer.Exit(1)
    try:
        tokenizer = load_tokenizer()
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise typer.Exit(1) from exc
    folder.mkdir(parents=True, exist_ok=True)
    written = tokenizer.save_pretrained(str(folder))
    size = sum(Path(f).stat().st_size for f in written if Path(f).is_file())
    print(f"wrote {len(written)} files ({size / 1e6:.1f} MB) to {folder}", file=sys.stderr)
