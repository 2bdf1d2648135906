"""``Solver``: load once (model, task, backend), then solve one puzzle or many with choices made per call."""

from __future__ import annotations

import logging
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import backends, rating, recursion
from .errors import InvalidPuzzleError, ModelError, TRMError
from .limits import MAX_BATCH_SIZE, MAX_SEARCH_SECONDS, MAX_STEPS, MAX_THREADS, MAX_VIEWS
from .manifest import PRECISIONS, Manifest, load_manifest
from .solution import Hint, Prediction, Rating, Solution
from .tasks import get_task
from .views import run_views

__all__ = ["Solver"]

log = logging.getLogger("trm_sdk")


def _shipped_model(task: str) -> Path:
    from . import __version__
    from .shipped import available, model_dir

    if task not in available():
        raise ModelError(
            f"trm-sdk {__version__} ships no {task} model yet; pass model=<folder made by trm-export>"
        )
    return model_dir(task)


FALLBACKS = ("none", "search")
# The per-call choices of the paper's evaluation: every puzzle runs max_steps steps and is read at the
# last, with neither the halting head nor the verifier ending it early.
EVERY_STEP: dict[str, Any] = {"halt_threshold": 1.0, "stop_on_verified": False}
_ROWS_PER_RUN = 1024  # rows (puzzle views) one recursion run holds: about 70 MB of state at hidden 96


@dataclass(frozen=True)
class _Choices:
    """The per-call choices of one solve, after the Solver's defaults have filled the gaps."""

    max_steps: int
    halt_threshold: float
    fallback: str | None
    search_time_limit: float
    views: int = 1
    seed: int = 0
    stop_on_verified: bool = False


class Solver:
    """A trained TRM for one task on one runtime: load once, then solve with choices made per call.

    ``backend`` is "auto" (TensorRT, else CUDA, else CPU), or "cpu", "cuda", "tensorrt" explicitly; an
    explicit backend that cannot run raises BackendUnavailableError. ``model`` is an exported model
    directory (default: the model shipped for ``task``). ``threads`` and ``precision`` ("fp32", "fp16",
    "bf16"; the GPU backends only) shape the loaded runtime, so they are fixed here.

    The other keywords are defaults that every call can override (``solve(p, max_steps=2)``):
    each puzzle stops at the first supervision step where sigmoid(q_halt) > ``halt_threshold``, or at
    ``max_steps``. ``max_steps=None`` takes the N_sup the model was trained with (its manifest); steps
    beyond it are allowed and simply continue the recursion. ``halt_threshold=1.0`` always runs
    ``max_steps`` steps (the paper's evaluation, with ``stop_on_verified=False``), and None takes the
    threshold calibrated for the model and recorded in its manifest (0.5 if it records none).

    ``fallback="search"`` makes every answer exact: an exact search, guided by the network's per-cell
    probabilities and bounded by ``search_time_limit`` seconds per puzzle, finishes any answer that fails
    verification (``method="trm+search"``) and reports puzzles with no solution or several
    (``Solution.status``). The default, None (or "none"), is the pure network.

    ``views`` is the most symmetric views of a puzzle the network may try (:mod:`trm_sdk.views`): a
    puzzle whose answer fails verification runs again as relabelled, reflected and shuffled copies, in
    growing waves, until one verifies. None takes the number chosen for the model and recorded in its
    manifest (``inference.views``; 1 if it records none); 1 is the single pass. ``seed`` fixes which views
    a puzzle gets. Views need no search: an answer found by a view is the network's (``method="trm"``),
    checked by the rules like any other. ``fallback="search"`` starts only after every view has failed.

    ``stop_on_verified`` also ends a puzzle at the first step whose answer verifies, whatever the halting
    head says (and so, with ``halt_threshold=1.0``, runs the network until its answer verifies or
    ``max_steps``). None takes the model's rule (``halting.stop_on_verified`` in its manifest). Both
    shipped models set it, with the threshold at 1.0: a verified answer is right, so later steps can only
    cost time or undo it, and an unverified one is known wrong however sure the head is (the Sudoku head
    stopped easy puzzles on such answers; the maze head, trained on small mazes, cannot judge a 30x30
    route).
    """

    def __init__(
        self,
        task: str = "sudoku",
        *,
        backend: str = "auto",
        model: str | Path | None = None,
        max_steps: int | None = None,
        halt_threshold: float | None = None,
        threads: int | None = None,
        batch_size: int = 256,
        fallback: str | None = None,
        search_time_limit: float = 10.0,
        precision: str | None = None,
        views: int | None = None,
        seed: int = 0,
        stop_on_verified: bool | None = None,
    ) -> None:
        self.task = get_task(task)
        self.fallback: str | None = self._check_fallback(fallback)
        self.search_time_limit: float = _check_seconds(search_time_limit)
        self.batch_size: int = _check_int("batch_size", batch_size, MAX_BATCH_SIZE)
        if threads is not None:
            threads = _check_int("threads", threads, MAX_THREADS)
        if max_steps is not None:
            max_steps = _check_int("max_steps", max_steps)
        if halt_threshold is not None:
            _check_threshold("halt_threshold", halt_threshold)
        self.manifest: Manifest = load_manifest(model if model is not None else _shipped_model(task))
        self._check_manifest()
        if max_steps is None:  # the model's own N_sup
            try:
                raw = self.manifest.halting.get("max_steps", self.manifest.model.get("N_sup"))
                max_steps = _check_int("halting.max_steps", raw)
            except ValueError as exc:
                raise ModelError(f"{self.manifest.directory}/manifest.json: {exc}") from exc
        self.max_steps: int = max_steps
        if halt_threshold is None:  # the threshold the model was calibrated with, recorded at export
            halt_threshold = self.manifest.halting.get("threshold", 0.5)
            try:
                _check_threshold("halting.threshold", halt_threshold)
            except ValueError as exc:
                raise ModelError(f"{self.manifest.directory}/manifest.json: {exc}") from exc
        self.halt_threshold: float = float(halt_threshold)
        if views is None:  # the number chosen for the model by measurement, recorded at release
            try:
                recorded = self.manifest.raw.get("inference", {}).get("views", 1)
                views = _check_int("inference.views", recorded, MAX_VIEWS)
            except (ValueError, AttributeError) as exc:
                raise ModelError(f"{self.manifest.directory}/manifest.json: {exc}") from exc
        self.views: int = _check_int("views", views, MAX_VIEWS)
        self.seed: int = _check_seed(seed)
        if stop_on_verified is None:  # the model's rule, recorded at release (halting.stop_on_verified)
            stop_on_verified = self.manifest.halting.get("stop_on_verified", False)
            if not isinstance(stop_on_verified, bool):
                raise ModelError(
                    f"{self.manifest.directory}/manifest.json: halting.stop_on_verified must be true or "
                    f"false, got {stop_on_verified!r}"
                )
        else:
            _check_flag(stop_on_verified)
        self.stop_on_verified: bool = stop_on_verified
        if precision is not None and precision not in PRECISIONS:
            raise ValueError(f"precision must be None or one of {', '.join(PRECISIONS)}, got {precision!r}")
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

    def _check_fallback(self, fallback: str | None) -> str | None:
        if fallback not in (None, *FALLBACKS):
            raise ValueError(f"fallback must be None, 'none' or 'search', got {fallback!r}")
        if fallback == "search" and not self.task.has_search:
            raise TRMError(
                f"task {self.task.name!r} has no exact search, so fallback='search' is not available"
            )
        return None if fallback == "none" else fallback

    def _choices(
        self,
        max_steps: int | None = None,
        halt_threshold: float | None = None,
        fallback: str | None = None,
        search_time_limit: float | None = None,
        views: int | None = None,
        seed: int | None = None,
        stop_on_verified: bool | None = None,
    ) -> _Choices:
        """One call's choices: what it passed, else the Solver's defaults."""
        if halt_threshold is not None:
            _check_threshold("halt_threshold", halt_threshold)
        if stop_on_verified is not None:
            _check_flag(stop_on_verified)
        return _Choices(
            max_steps=self.max_steps if max_steps is None else _check_int("max_steps", max_steps),
            halt_threshold=self.halt_threshold if halt_threshold is None else float(halt_threshold),
            fallback=self.fallback if fallback is None else self._check_fallback(fallback),
            search_time_limit=(
                self.search_time_limit if search_time_limit is None else _check_seconds(search_time_limit)
            ),
            views=self.views if views is None else _check_int("views", views, MAX_VIEWS),
            seed=self.seed if seed is None else _check_seed(seed),
            stop_on_verified=self.stop_on_verified if stop_on_verified is None else stop_on_verified,
        )

    @property
    def backend(self) -> str:
        """The runtime that runs this solver's puzzles: "cpu", "cuda" or "tensorrt"."""
        return self._backend.name

    def solve(
        self,
        puzzle: Any,
        *,
        max_steps: int | None = None,
        halt_threshold: float | None = None,
        fallback: str | None = None,
        search_time_limit: float | None = None,
        views: int | None = None,
        seed: int | None = None,
        stop_on_verified: bool | None = None,
    ) -> Solution:
        """Solve one puzzle (any form the task accepts); raises InvalidPuzzleError for bad input.

        Keywords left at None take the Solver's defaults (see the class); ``fallback="none"`` turns off
        a Solver's search for this call.
        """
        choices = self._choices(
            max_steps, halt_threshold, fallback, search_time_limit, views, seed, stop_on_verified
        )
        return self._solve_parsed([self.task.parse(puzzle)], choices)[0]

    def solve_batch(
        self,
        puzzles: Iterable[Any],
        *,
        batch_size: int | None = None,
        max_steps: int | None = None,
        halt_threshold: float | None = None,
        fallback: str | None = None,
        search_time_limit: float | None = None,
        views: int | None = None,
        seed: int | None = None,
        stop_on_verified: bool | None = None,
    ) -> list[Solution]:
        """Solve many puzzles in batches of ``batch_size``; results come back in input order.

        Every puzzle is parsed before any is solved, so one bad entry fails fast and names its index.
        """
        choices = self._choices(
            max_steps, halt_threshold, fallback, search_time_limit, views, seed, stop_on_verified
        )
        size = self.batch_size if batch_size is None else _check_int("batch_size", batch_size, MAX_BATCH_SIZE)
        parsed = self._parse_all(puzzles)
        results: list[Solution] = []
        for start in range(0, len(parsed), size):
            results.extend(self._solve_parsed(parsed[start : start + size], choices))
        return results

    def predict(
        self,
        puzzles: Iterable[Any],
        *,
        max_steps: int | None = None,
        halt_threshold: float | None = None,
        views: int | None = None,
        seed: int | None = None,
        stop_on_verified: bool | None = None,
    ) -> Prediction:
        """The network alone on a batch: per-cell probabilities, answers, verdicts, steps (no search).

        The puzzles run as one batch; split very large sets as ``solve_batch`` does.
        """
        choices = self._choices(
            max_steps, halt_threshold, views=views, seed=seed, stop_on_verified=stop_on_verified
        )
        parsed = self._parse_all(puzzles)
        if not parsed:
            raise InvalidPuzzleError("predict needs at least one puzzle")
        return self._predict(np.stack(parsed), choices)

    def hint(
        self,
        puzzle: Any,
        *,
        max_steps: int | None = None,
        halt_threshold: float | None = None,
        fallback: str | None = None,
        search_time_limit: float | None = None,
        views: int | None = None,
        seed: int | None = None,
        stop_on_verified: bool | None = None,
    ) -> Hint:
        """The next cell to reveal: the empty cell the network is surest of (see :class:`Hint`).

        When the network's full answer verifies (or, with ``fallback="search"``, the search finds one),
        the digit comes from that answer and ``verified`` is True; otherwise it is the network's best
        digit that does not clash with the givens. A verified answer from any view counts.
        """
        choices = self._choices(
            max_steps, halt_threshold, fallback, search_time_limit, views, seed, stop_on_verified
        )
        grids = self.task.parse(puzzle)[None]
        pred = self._predict(grids, choices)
        answer = pred.answers[0] if pred.solved[0] else None
        if answer is None and choices.fallback == "search":
            answer = self.task.search(grids[0], pred.logits[0], choices.search_time_limit).answer
        return self.task.hint(grids[0], pred.logits[0], answer)

    def rate(
        self,
        puzzle: Any,
        *,
        max_steps: int | None = None,
        halt_threshold: float | None = None,
        views: int | None = None,
        seed: int | None = None,
        stop_on_verified: bool | None = None,
    ) -> Rating:
        """How hard the network finds ``puzzle``: its halting step and confidence, and the views it needed
        (see :class:`Rating`). Measured on the evaluation sets, the score orders them as their curators do
        (README).
        """
        choices = self._choices(max_steps, halt_threshold, "none", None, views, seed, stop_on_verified)
        r = self._solve_parsed([self.task.parse(puzzle)], choices)[0]
        return rating.rate_solution(r, choices.max_steps)

    def _parse_all(self, puzzles: Iterable[Any]) -> list[np.ndarray]:
        if isinstance(puzzles, (str, bytes)):
            raise InvalidPuzzleError("this takes a list of puzzles; for one puzzle use solve()")
        if isinstance(puzzles, np.ndarray):  # rows of a 2-D array (np.matrix too) are puzzles
            if puzzles.ndim == 0:
                raise InvalidPuzzleError(
                    "this takes a list of puzzles, got a 0-d array; for one puzzle use solve()"
                )
            puzzles = list(np.asarray(puzzles))
        elif not isinstance(puzzles, Iterable):
            raise InvalidPuzzleError(
                f"this takes a list (or other iterable) of puzzles, got {type(puzzles).__name__}"
            )
        parsed = []
        for i, puzzle in enumerate(puzzles):
            try:
                parsed.append(self.task.parse(puzzle))
            except InvalidPuzzleError as exc:
                raise InvalidPuzzleError(f"puzzle #{i}: {exc}") from exc
        return parsed

    def _predict(self, grids: np.ndarray, choices: _Choices) -> Prediction:
        def recurse(
            tokens: np.ndarray, stop: recursion.Stop | None
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            # Views multiply the batch; runs of at most _ROWS_PER_RUN rows keep the state's memory bounded.
            parts = [
                recursion.run(
                    self._backend,
                    tokens[i : i + _ROWS_PER_RUN],
                    choices.max_steps,
                    choices.halt_threshold,
                    None if stop is None else _offset(stop, i),
                )
                for i in range(0, len(tokens), _ROWS_PER_RUN)
            ]
            return (
                np.concatenate([p.logits for p in parts]),
                np.concatenate([p.q_halt for p in parts]),
                np.concatenate([p.steps for p in parts]),
            )

        def verify(logits: np.ndarray, rows: np.ndarray) -> np.ndarray:
            return self.task.verify(self.task.decode(logits), grids[rows])

        run = run_views(
            self.task.encode(grids),
            min(choices.views, self.task.max_views),
            choices.seed,
            recurse,
            verify,
            self.task.draw_views,
            stop_on_verified=choices.stop_on_verified,
        )
        return Prediction(
            answers=self.task.decode(run.logits),
            solved=run.verified,
            steps=run.steps,
            confidence=recursion.confidence(run.q_halt),
            logits=run.logits,
            views=run.views_run,
            view=run.view,
            pooled=run.pooled,
        )

    def _solve_parsed(self, parsed: Sequence[np.ndarray], choices: _Choices) -> list[Solution]:
        if not parsed:
            return []
        grids = np.stack(parsed)
        pred = self._predict(grids, choices)
        results = []
        for i in range(len(grids)):
            fields: dict[str, Any] = {"grid": pred.answers[i], "solved": bool(pred.solved[i])}
            if choices.fallback == "search":
                fields.update(
                    self._finish(grids[i], pred.logits[i], pred.answers[i], bool(pred.solved[i]), choices)
                )
            fields.update(self.task.details(fields["grid"], grids[i]))  # may reshape grid (maze padding)
            results.append(
                Solution(
                    steps=int(pred.steps[i]),
                    confidence=float(pred.confidence[i]),
                    views=int(pred.views[i]),
                    backend=self._backend.name,
                    task=self.task.name,
                    puzzle=grids[i],
                    **fields,
                )
            )
        return results

    def _finish(
        self, grid: np.ndarray, logits: np.ndarray, answer: np.ndarray, ok: bool, choices: _Choices
    ) -> dict[str, Any]:
        """The exact search's verdict on one puzzle; a verified network answer is kept, not replaced."""
        outcome = self.task.search(grid, logits, choices.search_time_limit)
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
            f"max_steps={self.max_steps}, halt_threshold={self.halt_threshold}, "
            f"stop_on_verified={self.stop_on_verified}, fallback={self.fallback!r})"
        )


def _offset(stop: recursion.Stop, first: int) -> recursion.Stop:
    """``stop`` for a run that starts at row ``first`` of the batch ``stop`` was written for."""
    return lambda rows, logits: stop(rows + first, logits)


def _check_int(name: str, value: Any, bound: int = MAX_STEPS) -> int:
    """A positive integer up to ``bound`` (numpy integers too; bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 1 <= int(value) <= bound:
        raise ValueError(f"{name} must be an integer from 1 to {bound}, got {value!r}")
    return int(value)


def _check_seed(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"seed must be a non-negative integer, got {value!r}")
    return int(value)


def _check_seconds(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0 < float(value) <= MAX_SEARCH_SECONDS
    ):
        raise ValueError(
            f"search_time_limit must be a number of seconds above 0 and at most {MAX_SEARCH_SECONDS:g}, "
            f"got {value!r}"
        )
    return float(value)


def _check_flag(value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"stop_on_verified must be None, True or False, got {value!r}")


def _check_threshold(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0.0 <= float(value) <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
