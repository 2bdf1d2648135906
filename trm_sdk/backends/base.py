"""The interface every runtime backend implements, so the halting loop is written once for all of them.

A backend owns the recursion state (y, z) in whatever memory suits it (host arrays for ONNX Runtime,
device buffers for CUDA and TensorRT) and hands back only what the loop needs each step: the halting
logits, and the answer logits of the puzzles that stop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from ..manifest import Manifest


def bucket_size(n: int) -> int:
    """The padded batch size for ``n`` puzzles: the smallest of 1, 2, 3, 4, 6, 8, 12, 16, 24, ... >= n.

    GPU backends keep device buffers (and CUDA graphs) per batch size; as puzzles halt the batch shrinks
    step by step, and these sizes let a handful of buffers serve every size, at most a third of them
    padding. TRM never mixes puzzles (no operation crosses the batch axis), so padding rows cost compute
    but cannot change an answer.
    """
    if n < 1:
        raise ValueError(f"batch size must be positive, got {n}")
    size = 1
    while size < n:
        if size >= 2 and size * 3 // 2 >= n:
            return size * 3 // 2
        size *= 2
    return size


class Backend(ABC):
    name: ClassVar[str]
    extra: ClassVar[str]  # the pip extra that brings this backend's dependencies
    requires: ClassVar[str] = ""  # what it needs beyond the extra, for error messages ("an NVIDIA GPU")

    @classmethod
    @abstractmethod
    def availability(cls) -> str | None:
        """None if this backend can run here, else a sentence saying what is missing."""

    @abstractmethod
    def __init__(self, manifest: Manifest, threads: int | None = None) -> None: ...

    @abstractmethod
    def start(self, tokens: np.ndarray) -> Any:
        """A fresh state for a batch of (B, S) int64 tokens; the first ``step`` starts from y_init, z_init."""

    @abstractmethod
    def step(self, state: Any) -> tuple[Any, np.ndarray]:
        """One supervision step: (new state, q_halt (B,) float32 on the host)."""

    @abstractmethod
    def logits(self, state: Any, rows: np.ndarray) -> np.ndarray:
        """Answer logits (len(rows), S, V) of the last step, for the given rows, on the host."""

    @abstractmethod
    def keep(self, state: Any, rows: np.ndarray) -> Any:
        """The state restricted to ``rows``, so halted puzzles stop costing compute."""
