"""Token ids of texts encoded before, kept on disk so that compiling a graph whose texts were
all seen (a recompile, an edit elsewhere in the graph) need not parse `tokenizer.json` at all.

Entries live under `<root>/<digest of tokenizer.json>/`, one file per text and encode options
(named by their digest) holding the ids as 32-bit unsigned integers, and one per decoded id
sequence holding its text as UTF-8. A different tokenizer file is a different folder, so an
entry is never read for the wrong tokenizer.

Invariant: an entry holds exactly the ids the tokenizer gave; it is written whole (to a
temporary name, then renamed), and one that cannot be read is a miss. The cache is an
optimisation only: when its folder cannot be written, texts are simply encoded again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from array import array
from collections.abc import Sequence
from pathlib import Path

_DIGEST_BYTES = 16


class TokenCache:
    def __init__(self, root: Path, tokenizer_file: Path) -> None:
        self.folder = root / _digest(tokenizer_file.read_bytes())

    def has_entries(self) -> bool:
        """Whether any text of this tokenizer was stored (a compile then likely needs no
        parse of the tokenizer file)."""
        try:
            return any(self.folder.iterdir())
        except OSError:
            return False

    def get(self, options: str, text: str) -> list[int] | None:
        """The ids of `text` encoded with `options`, when stored."""
        data = self._read(self._ids_path(options, text))
        if data is None or len(data) % 4:
            return None
        ids = array("I")
        ids.frombytes(data)
        return ids.tolist()

    def put(self, options: str, text: str, ids: Sequence[int]) -> None:
        try:
            data = array("I", ids).tobytes()
        except OverflowError:
            return
        self._write(self._ids_path(options, text), data)

    def get_text(self, ids: Sequence[int]) -> str | None:
        """The text `ids` decode to, when stored."""
        data = self._read(self._text_path(ids))
        return data.decode("utf-8", "surrogatepass") if data is not None else None

    def put_text(self, ids: Sequence[int], text: str) -> None:
        self._write(self._text_path(ids), text.encode("utf-8", "surrogatepass"))

    def _ids_path(self, options: str, text: str) -> Path:
        return self._path(f"{options}\0{text}")

    def _text_path(self, ids: Sequence[int]) -> Path:
        return self._path(f"decode\0{','.join(map(str, ids))}")

    def _path(self, entry: str) -> Path:
        name = _digest(entry.encode("utf-8", "surrogatepass"))
        return self.folder / name[:2] / name

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except OSError:
            return None

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, staging = tempfile.mkstemp(dir=path.parent, prefix=".entry")
        except OSError:
            return
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(staging, path)
        except OSError:
            Path(staging).unlink(missing_ok=True)


def _digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=_DIGEST_BYTES).hexdigest()
