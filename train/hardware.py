"""What the machine offers a training run: bf16 matrix units, cores for puzzle generation, a name for the
record.

Asked once when a run starts. Kept apart from the loop because the answers differ between machines while
the loop must not: a run resumed on other hardware takes the same steps, only at another speed.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import torch

__all__ = ["bf16_forward", "cpu_has_bf16_units", "data_workers", "describe"]


def bf16_forward(precision: str, device: torch.device) -> bool:
    """Whether the forward runs under bf16 autocast, for ``TrainConfig.precision``."""
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', not {precision!r}")
    if precision != "auto":
        return precision == "bf16"
    return device.type == "cuda" or cpu_has_bf16_units()


def cpu_has_bf16_units() -> bool:
    """AMX or AVX512-BF16 in this CPU's flags (Linux; elsewhere: False, which keeps fp32)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    flags = next(
        (line.split(":", 1)[1].split() for line in text.splitlines() if line.startswith("flags")), []
    )
    return "amx_bf16" in flags or "avx512_bf16" in flags


def data_workers(requested: int, device: torch.device, local_processes: int = 1) -> int:
    """Generating processes (rank 0's): on a GPU, all cores but one per training process on the machine
    and one for the system; on a CPU, none, since the network's own threads need every core there."""
    if requested >= 0:
        return requested
    if device.type != "cuda":
        return 0
    return max(1, min(14, (os.cpu_count() or 2) - 1 - local_processes))


def describe(device: torch.device) -> str:
    """The device a run trained on, as its checkpoint records it: the GPU's name, or the CPU's."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
