"""``Solver``: build once (model, task, backend), then solve one puzzle or many."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import backends, rating, recursion
from .errors import InvalidPuzzleError, ModelError, TRMError
from .manifest import Manifest, load_manifest
from .solution import Hint, Rating, Solution
from .tasks import Task, get_task

__all__ = ["Solver"]

log = logging.getLogger("trm_sdk")


def _shipped_model(task: str) -> Path:
    from . import __version__
    from .models import available, model_dir

    if task not in available():
        raise ModelError(
            f"trm-sdk {__version__} ships no {task} model yet; pass model=<folder made by trm-export>"
        )
    return model_dir(task)


class Solver:
    """A trained TRM for one task on one runtime.

    ``backend`` is "auto" (TensorRT, else CUDA, else CPU), or "cpu", "cuda", "tensorrt" explicitly; an
    explicit backend that cannot run raises BackendUnavailableError. ``model`` is an exported model
    directory (default: the model shipped for ``task``). Each puzzle stops at the first supervision step
    where sigmoid(q_halt) > ``halt_threshold``, or at ``max_steps``; ``halt_threshold=1.0`` always runs
    ``max_steps`` steps (the paper's evaluation), and None (the default) takes the threshold recorded in the
    model's manifest, calibrated for that model (0.5 if it records none). Steps beyond the trained N_sup
    are allowed and simply continue the recursion.

    ``fallback="search"`` makes every answer exact: an exact search, guided by the network's per-cell
    probabilities and bounded by ``search_time_limit`` seconds per puzzle, finishes any answer that fails
    verification (``method="trm+search"``) and reports puzzles with no solution or several
    (``Solution.status``). The default ``fallback=None`` is the pure network.

    ``precision`` ("fp32", "fp16", "bf16") applies to the GPU backends; None takes each backend's default.
    """

    def __init__(
        self,
        task: str = "sudoku",
        *,
        backend: str = "auto",
        model: str | Path | None = None,
        max_steps: int = 16,
        halt_threshold: float | None = None,
        threads: int | None = None,
        batch_size: int = 256,
        fallback: str | None = None,
        search_time_limit: float = 10.0,
        precision: str | None = None,
    ) -> None:
        self.task = get_task(task)
        if fallback not in (None, "search"):
            raise ValueError(f"fallback must be None or 'search', got {fallback!r}")
        if fallback == "search" and type(self.task).search is Task.search:
            raise TRMError(f"task {task!r} has no exact search, so fallback='search' is not available")
        self.fallback: str | None = fallback
        if (
            isinstance(search_time_limit, bool)
            or not isinstance(search_time_limit, numbers.Real)
            or not float(search_time_limit) > 0
        ):
            raise ValueError(
                f"search_time_limit must be a positive number of seconds, got {search_time_limit!r}"
            )
        self.search_time_limit: float = float(search_time_limit)
        self.max_steps: int = _check_int("max_steps", max_steps)
        self.batch_size: int = _check_int("batch_size", batch_size)
        if halt_threshold is not None:
            _check_threshold("halt_threshold", halt_threshold)
        self.manifest: Manifest = load_manifest(model if model is not None else _shipped_model(task))
        self._check_manifest()
        if halt_threshold is None:  # the threshold the model was calibrated with, recorded at export
            halt_threshold = self.manifest.halting.get("threshold", 0.5)
            try:
                _check_threshold("halting.threshold", halt_threshold)
            except ValueError as exc:
                raise ModelError(f"{self.manifest.directory}/manifest.json: {exc}") from exc
        self.halt_threshold: float = float(halt_threshold)
        if precision not in (None, "fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be None, 'fp32', 'fp16' or 'bf16', got {precision!r}")
        if backend == "cpu" and precision not in (None, "fp32"):
            raise ValueError("the cpu backend runs in fp32 only; precision applies to 'cuda' and 'tensorrt'")
        options = {} if precision is None or backend == "cpu" else {"precision": precision}
        self._backend: backends.Backend = backends.create(backend, self.manifest, threads, **options)
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

    def hint(self, puzzle: Any) -> Hint:
        """The next cell to reveal: the empty cell the network is surest of (see :class:`Hint`).

        When the network's full answer verifies (or, with ``fallback="search"``, the search finds one),
        the digit comes from that answer and ``verified`` is True; otherwise it is the network's best
        digit that does not clash with the givens.
        """
        grids = self.task.parse(puzzle)[None]
        run, answers, ok = self._network(grids)
        answer = answers[0] if ok[0] else None
        if answer is None and self.fallback == "search":
            answer = self.task.search(grids[0], run.logits[0], self.search_time_limit).answer
        return self.task.hint(grids[0], run.logits[0], answer)

    def rate(self, puzzle: Any) -> Rating:
        """How hard the network finds ``puzzle``, from its halting step and confidence (see :class:`Rating`).

        Measured on the evaluation sets, the score orders them as their curators do (README).
        """
        r = self._solve_parsed([self.task.parse(puzzle)], search=False)[0]
        return rating.rate_solution(r, self.max_steps)

    def _network(self, grids: np.ndarray) -> tuple[recursion.RecursionResult, np.ndarray, np.ndarray]:
        run = recursion.run(self._backend, self.task.encode(grids), self.max_steps, self.halt_threshold)
        answers = self.task.decode(run.logits)
        return run, answers, self.task.verify(answers, grids)

    def _solve_parsed(self, parsed: Sequence[np.ndarray], search: bool = True) -> list[Solution]:
        if not parsed:
            return []
        grids = np.stack(parsed)
        run, answers, ok = self._network(grids)
        conf = recursion.confidence(run.q_halt)
        results = []
        for i in range(len(grids)):
            fields: dict[str, Any] = {"grid": answers[i], "solved": bool(ok[i])}
            if search and self.fallback == "search":
                fields.update(self._finish(grids[i], run.logits[i], answers[i], bool(ok[i])))
            fields.update(self.task.details(fields["grid"], grids[i]))  # may reshape grid (maze padding)
            results.append(
                Solution(
                    steps=int(run.steps[i]),
                    confidence=float(conf[i]),
                    backend=self._backend.name,
                    task=self.task.name,
                    puzzle=grids[i],
                    **fields,
                )
            )
        return results

    def _finish(self, grid: np.ndarray, logits: np.ndarray, answer: np.ndarray, ok: bool) -> dict[str, Any]:
        """The exact search's verdict on one puzzle; a verified network answer is kept, not replaced."""
        outcome = self.task.search(grid, logits, self.search_time_limit)
        fields: dict[str, Any] = {"status": outcome.status, "search_nodes": outcome.nodes}
        if ok:  # the search only adds whether the puzzle has other solutions
            if outcome.status != "multiple_solutions":
                fields["status"] = "solved"
            return fields
        fields["method"] = "trm+search"
        if outcome.answer is not None:
            fields.update(grid=outcome.answer, solved=True)
        return fields

    def __repr__(self) -> str:
        return (
            f"Solver({self.task.name!r}, backend={self.backend!r}, model={str(self.manifest.directory)!r}, "
            f"max_steps={self.max_steps}, halt_threshold={self.halt_threshold}, fallback={self.fallback!r})"
        )


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _check_threshold(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
