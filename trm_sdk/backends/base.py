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


class Backend(ABC):
    name: ClassVar[str]
    extra: ClassVar[str]  # the pip extra that brings this backend's dependencies

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
