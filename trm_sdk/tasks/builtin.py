"""What the built-in tasks share: their knowledge kept in modules beside the codec, not in the class.

Sudoku and Maze each keep ``datasets`` (their data files and which are evaluation-only), ``training``
(MODEL_DEFAULTS, CURRICULA, WITHOUT_FILES, STREAM_TUNING, generate_pairs, eval_set) and ``augment``
(random_augment), so training's worker processes can import them without the runtime. Internal: a plugin
subclasses :class:`~trm_sdk.tasks.base.Task` and overrides the members it needs.
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np

from .base import Pair, PuzzleFile, Task

__all__ = ["BuiltinTask"]


class BuiltinTask(Task):
    """A task whose files, training recipe and augmentation live in its package's modules."""

    datasets: ModuleType
    training: ModuleType
    augmentation: ModuleType

    def load(self, path: str | os.PathLike[str], limit: int | None = None) -> PuzzleFile:
        return self.datasets.load(path, limit=limit)

    def is_eval_only(self, path: str | os.PathLike[str]) -> bool:
        """True for a file the data's SOURCES.md reserves for evaluation: never trained or tuned on."""
        return bool(self.datasets.is_eval_only(path))

    @property
    def model_defaults(self) -> dict[str, Any]:
        return dict(self.training.MODEL_DEFAULTS)

    @property
    def curricula(self) -> dict[str, list[dict[str, float]]]:
        return self.training.CURRICULA

    @property
    def without_files(self) -> str:
        return self.training.WITHOUT_FILES

    @property
    def stream_tuning(self) -> dict[str, Any]:
        return dict(self.training.STREAM_TUNING)

    def generate_pairs(self, rng: np.random.Generator, source: str, count: int) -> Pair:
        return self.training.generate_pairs(rng, source, count)

    def augment(self, puzzles: np.ndarray, answers: np.ndarray, rng: np.random.Generator) -> Pair:
        return self.augmentation.random_augment(puzzles, answers, rng)

    def eval_set(self, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        return self.training.eval_set(seed, n)
