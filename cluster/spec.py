"""What every replica of a pool is made of: the same model, seed, tools and schedule, so a run
gives the same outputs on whichever replica serves it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReplicaSpec:
    model: str = "default"  # as EngineConfig.model
    tokenizer: str | None = None  # a tokenizer folder for a dummy:<shape> model
    device: str = "auto"  # "cpu" | "cuda" | "auto": one GPU per replica when on GPUs
    seed: int = 0
    prefix_cache: bool = True
    schedule: str = "planned"  # executor.Schedule value
    tool_files: tuple[str, ...] = ()
    allow_http: tuple[str, ...] = ()

    def engine_options(self) -> dict[str, object]:
        # a replica sees only the GPU Ray gave it, as cuda:0
        device = "cuda" if self.device.startswith("cuda") else self.device
        options: dict[str, object] = {"model": self.model, "device": device,
                                      "seed": self.seed,
                                      "enable_prefix_cache": self.prefix_cache}
        if self.tokenizer is not None:
            options["tokenizer"] = self.tokenizer
        return options
