"""``Solver``: build once (model, task, backend), then solve one puzzle or many."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import backends, recursion
from .errors import InvalidPuzzleError, ModelError
from .manifest import Manifest, load_manifest
from .solution import Solution
from .tasks import get_task

__all__ = ["Solver"]

log = logging.getLogger("trm_sdk")


def _shipped_model(task: str) -> Path:
    from .models import model_dir

    return model_dir(task)


class Solver:
    """A trained TRM for one task on one runtime.

    ``backend`` is "auto" (TensorRT, else CUDA, else CPU), or "cpu", "cuda", "tensorrt" explicitly; an
    explicit backend that cannot run raises BackendUnavailableError. ``model`` is an exported model
    directory (default: the model shipped for ``task``). Each puzzle stops at the first supervision step
    where sigmoid(q_halt) > ``halt_threshold``, or at ``max_steps``; ``halt_threshold=1.0`` always runs
    ``max_steps`` steps (the paper's evaluation). Steps beyond the trained N_sup are allowed and simply
    continue the recursion.
    """

    def __init__(
        self,
        task: str = "sudoku",
        *,
        backend: str = "auto",
        model: str | Path | None = None,
        max_steps: int = 16,
        halt_threshold: float = 0.5,
        threads: int | None = None,
        batch_size: int = 256,
    ) -> None:
        self.task = get_task(task)
        self.max_steps = _check_int("max_steps", max_steps)
        self.batch_size = _check_int("batch_size", batch_size)
        if (
            isinstance(halt_threshold, bool)
            or not isinstance(halt_threshold, numbers.Real)
            or not (0.0 <= float(halt_threshold) <= 1.0)
        ):
            raise ValueError(f"halt_threshold must be a number in [0, 1], got {halt_threshold!r}")
        self.halt_threshold: float = float(halt_threshold)
        self.manifest: Manifest = load_manifest(model if model is not None else _shipped_model(task))
        self._check_manifest()
        self._backend: backends.Backend = backends.create(backend, self.manifest, threads)
        log.info("trm_sdk: %s model %s on backend %s", task, self.manifest.directory, self._backend.name)

    def _check_manifest(self) -> None:
        m = self.manifest
        if m.task != self.task.name:
            raise ModelError(f"model {m.directory} is for task {m.task!r}, not {self.task.name!r}")
        expected = self.task.encoding()
        differing = {k: (m.encoding.get(k), v) for k, v in expected.items() if m.encoding.get(k) != v}
        if differing:
            detail = ", ".join(f"{k}: model {a!r} vs task {b!r}" for k, (a, b) in differing.items())
            raise ModelError(f"model {m.directory} uses a different token encoding ({detail})")

    @property
    def backend(self) -> str:
        """The runtime that runs this solver's puzzles: "cpu", "cuda" or "tensorrt"."""
        return self._backend.name

    def solve(self, puzzle: Any) -> Solution:
        """Solve one puzzle (any form the task accepts); raises InvalidPuzzleError for bad input."""
        return self._solve_parsed([self.task.parse(puzzle)])[0]

    def solve_batch(self, puzzles: Iterable[Any]) -> list[Solution]:
        """Solve many puzzles in batches of ``batch_size``; results come back in input order.

        Every puzzle is parsed before any is solved, so one bad entry fails fast and names its index.
        """
        if isinstance(puzzles, (str, bytes)):
            raise InvalidPuzzleError("solve_batch takes a list of puzzles; for one puzzle use solve()")
        parsed = []
        for i, puzzle in enumerate(puzzles):
            try:
                parsed.append(self.task.parse(puzzle))
            except InvalidPuzzleError as exc:
                raise InvalidPuzzleError(f"puzzle #{i}: {exc}") from exc
        results: list[Solution] = []
        for start in range(0, len(parsed), self.batch_size):
            results.extend(self._solve_parsed(parsed[start : start + self.batch_size]))
        return results

    def _solve_parsed(self, parsed: Sequence[np.ndarray]) -> list[Solution]:
        if not parsed:
            return []
        grids = np.stack(parsed)
        run = recursion.run(self._backend, self.task.encode(grids), self.max_steps, self.halt_threshold)
        answers = self.task.decode(run.logits)
        ok = self.task.verify(answers, grids)
        conf = recursion.confidence(run.q_halt)
        return [
            Solution(
                grid=answers[i],
                solved=bool(ok[i]),
                steps=int(run.steps[i]),
                confidence=float(conf[i]),
                backend=self._backend.name,
                task=self.task.name,
                puzzle=grids[i],
            )
            for i in range(len(grids))
        ]

    def __repr__(self) -> str:
        return (
            f"Solver({self.task.name!r}, backend={self.backend!r}, model={str(self.manifest.directory)!r}, "
            f"max_steps={self.max_steps}, halt_threshold={self.halt_threshold})"
        )


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
