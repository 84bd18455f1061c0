"""Programmatic dependent launch (Hopper and later) for the decode path's Triton kernels.

A kernel launched with `launch_pdl` may start while the kernel before it on the stream is
still finishing: its programs are placed, and read constant data (weights), during that
kernel's tail. Invariant: such a kernel calls `gdc_wait` before it reads or writes anything a
kernel before it may touch; the wait returns once that kernel has completed and its writes are
visible. A kernel lets the next one start early by calling `gdc_launch_dependents`; both calls
are no-ops when the launch did not ask for it.

Off under the Triton interpreter, below compute capability 9, and with FLOWC_PDL=0.
"""

from __future__ import annotations

import functools
import os

import torch


def pdl_enabled(x: torch.Tensor) -> bool:
    """Whether kernels on x's device launch with programmatic dependent launch."""
    return (x.is_cuda and os.environ.get("FLOWC_PDL", "1") != "0"
            and os.environ.get("TRITON_INTERPRET", "0") != "1"
            and _capability(x.device.index or 0) >= 9)


@functools.cache
def _capability(device: int) -> int:
    return torch.cuda.get_device_capability(device)[0]


def launch_options(x: torch.Tensor) -> dict[str, bool]:
    """The PDL constexpr and launch option for a kernel working on x."""
    enabled = pdl_enabled(x)
    return {"PDL": enabled, "launch_pdl": True} if enabled else {"PDL": False}
