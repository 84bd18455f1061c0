"""The checkpoint file of `flowc run --checkpoint FILE` / `--resume FILE`: the run's inputs and
seed, the workflow file's digest, and the run's state after its last finished node
(`executor.Checkpoint`), replaced atomically after every node so a killed run leaves the last
whole one."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from executor import Checkpoint

FORMAT = "flowc-checkpoint/1"


@dataclass(frozen=True)
class CheckpointFile:
    path: Path
    workflow_digest: str  # of the workflow file's bytes: a resume needs the same graph
    inputs: dict[str, Any]
    seed: int

    def write(self, checkpoint: Checkpoint) -> None:
        data = {"format": FORMAT, "workflow_sha256": self.workflow_digest,
                "inputs": self.inputs, "seed": self.seed, "state": checkpoint.to_dict()}
        partial = self.path.with_name(f".{self.path.name}.partial")
        partial.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
        os.replace(partial, self.path)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)


def digest(workflow_file: Path) -> str:
    return hashlib.sha256(workflow_file.read_bytes()).hexdigest()


def read(path: Path, workflow_file: Path) -> tuple[CheckpointFile, Checkpoint]:
    """The file and the state to resume from; ValueError naming what is wrong."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"--resume {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"--resume {path}: not a readable checkpoint ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"--resume {path}: not a flowc checkpoint file ({FORMAT})")
    if data.get("workflow_sha256") != digest(workflow_file):
        raise ValueError(f"--resume {path}: written by a run of another version of "
                         f"{workflow_file}: resume with the workflow file it ran")
    try:
        state = Checkpoint.from_dict(data["state"])
        inputs, seed = dict(data["inputs"]), int(data["seed"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"--resume {path}: {exc}") from None
    return CheckpointFile(path, data["workflow_sha256"], inputs, seed), state
