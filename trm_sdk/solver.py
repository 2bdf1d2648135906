"""``Solver``: load once (model, task, backend), then solve one puzzle or many with choices made per call."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from . import backends, rating, recursion
from .errors import InvalidPuzzleError, ModelError, TRMError
from .limits import MAX_BATCH_SIZE, MAX_THREADS
from .manifest import PRECISIONS, Manifest, load_manifest
from .options import LIBRARY_DEFAULTS, SolveOptions, check_int
from .shipped import model_dir
from .solution import Hint, Prediction, Rating, Solution
from .tasks import get_task, task_for_model
from .views import run_views

__all__ = ["Solver"]

log = logging.getLogger("trm_sdk")


_ROWS_PER_RUN = 1024  # rows (puzzle views) one recursion run holds: about 70 MB of state at hidden 96
# The choices that read as attributes of a Solver (solver.views): SolveOptions' fields.
_CHOICES = frozenset(f.name for f in dataclasses.fields(SolveOptions))
_NO_SEARCH = ("fallback", "search_time_limit")  # choices predict and rate refuse: they never search
_NOTHING = SolveOptions()  # a call that chose nothing
_T = TypeVar("_T")


class Solver:
    """A trained TRM for one task on one runtime: load once, then solve with choices made per call.

    ``backend`` is "auto" (TensorRT, else CUDA, else CPU), or "cpu", "cuda", "tensorrt" explicitly; an
    explicit backend that cannot run raises BackendUnavailableError. ``model`` is an exported model
    directory (default: the model shipped for ``task``). ``threads``, ``precision`` ("fp32", "fp16",
    "bf16"; the CPU backend runs fp32, or bf16 through OpenVINO) and ``engine`` (the CPU backend's:
    None picks, "onnxruntime" or "openvino"; see :mod:`trm_sdk.backends.cpu_engines`) shape the loaded
    runtime, so they are fixed here; ``batch_size`` is how many puzzles ``solve_batch`` runs at once.

    The per-call choices are :class:`~trm_sdk.options.SolveOptions`' fields (max_steps, halt_threshold,
    stop_on_verified, views, seed, fallback, search_time_limit, time_budget; each documented there). Given
    here, as ``options=`` or as keywords (``Solver("sudoku", views=4)``), they become this Solver's
    defaults, which every call can override the same way (``solve(p, max_steps=2)``,
    ``solve(p, EVERY_STEP)``); keywords win over ``options``. What neither gives comes from the model's
    manifest, else from :data:`~trm_sdk.options.LIBRARY_DEFAULTS`. The result is ``solver.options``,
    every field set; each field also reads as an attribute (``solver.max_steps``; ``solver.fallback`` is
    None for "none").
    """

    options: SolveOptions  # the defaults of every call, every field set

    def __init__(
        self,
        task: str | None = None,
        *,
        backend: str = "auto",
        model: str | Path | None = None,
        threads: int | None = None,
        batch_size: int = 256,
        precision: str | None = None,
        engine: str | None = None,
        options: SolveOptions | None = None,
        **choices: Any,
    ) -> None:
        """``task``: an installed task's name, or ``module:Class``; None means the task ``model``'s
        manifest names, or "sudoku" without a model. ``choices``: SolveOptions' fields as keywords; an
        unknown one is a TypeError naming them."""
        if model is not None:
            self.manifest: Manifest = load_manifest(model)
            self.task = task_for_model(self.manifest) if task is None else get_task(task)
        else:
            self.task = get_task("sudoku" if task is None else task)
            self.manifest = load_manifest(model_dir("sudoku" if task is None else task))
        given = self._chosen("Solver()", options, choices)
        self.batch_size: int = check_int("batch_size", batch_size, MAX_BATCH_SIZE)
        if threads is not None:
            threads = check_int("threads", threads, MAX_THREADS)
        self._check_manifest()
        self.options = given.merged_over(
            SolveOptions.from_manifest(self.manifest).merged_over(LIBRARY_DEFAULTS)
        )
        if precision is not None and precision not in PRECISIONS:
            raise ValueError(f"precision must be None or one of {', '.join(PRECISIONS)}, got {precision!r}")
        if backend == "cpu" and precision not in (None, "fp32", "bf16"):
            raise ValueError("the cpu backend runs in fp32, or bf16 through OpenVINO; fp16 is for the GPUs")
        if engine is not None and backend not in ("auto", "cpu"):
            raise ValueError(f"engine chooses among the cpu backend's engines; backend {backend!r} has none")
        loading: dict[str, Any] = {} if precision is None else {"precision": precision}
        if engine is not None:
            loading["engine"] = engine
        self._backend: backends.Backend = backends.create(backend, self.manifest, threads, **loading)
        log.info(
            "trm_sdk: %s model %s on backend %s", self.task.name, self.manifest.directory, self._backend.name
        )

    def __getattr__(self, name: str) -> Any:
        """``solver.max_steps`` and the other SolveOptions fields: this Solver's defaults, read from
        ``self.options``, so the list of choices is written once. ``fallback`` reads None for "none"."""
        if name in _CHOICES and "options" in self.__dict__:
            value = getattr(self.options, name)
            return None if name == "fallback" and value == "none" else value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _check_manifest(self) -> None:
        m = self.manifest
        if m.task != self.task.name:
            raise ModelError(f"model {m.directory} is for task {m.task!r}, not {self.task.name!r}")
        expected = self.task.encoding()
        differing = {k: (m.encoding.get(k), v) for k, v in expected.items() if m.encoding.get(k) != v}
        if differing:
            detail = ", ".join(f"{k}: model {a!r} vs task {b!r}" for k, (a, b) in differing.items())
            raise ModelError(f"model {m.directory} uses a different token encoding ({detail})")

    def _chosen(
        self,
        caller: str,
        options: SolveOptions | None,
        choices: dict[str, Any],
        refused: Sequence[str] = (),
    ) -> SolveOptions:
        """What a call (or the constructor) chose, checked: its keywords over its ``options``. Merged over
        ``self.options``, it is the call's every choice."""
        if options is None and not choices:
            return _NOTHING
        if options is not None and not isinstance(options, SolveOptions):
            raise TypeError(
                f"{caller}: options must be a SolveOptions, got {type(options).__name__}; "
                "pass a dict as keywords (**choices) or as SolveOptions(**choices)"
            )
        given = SolveOptions.from_keywords(choices, caller, refused=refused)
        if options is not None:
            given = given.merged_over(options)
        if given.fallback == "search" and not self.task.has_search:
            raise TRMError(
                f"task {self.task.name!r} has no exact search, so fallback='search' is not available"
            )
        return given

    @property
    def backend(self) -> str:
        """The runtime that runs this solver's puzzles: "cpu", "cuda" or "tensorrt"."""
        return self._backend.name

    @property
    def engine(self) -> str:
        """What runs each step, in words: the CPU backend's engines and precisions ("onnxruntime fp32",
        "onnxruntime fp32 + openvino bf16 from 2 rows"), or the backend's name."""
        return str(getattr(self._backend, "engine", self._backend.name))

    def solve(self, puzzle: Any, options: SolveOptions | None = None, **choices: Any) -> Solution:
        """Solve one puzzle (any form the task accepts); raises InvalidPuzzleError for bad input.

        ``options`` and the keywords ``choices`` (SolveOptions' fields) override this Solver's defaults
        for this call only; ``fallback="none"`` turns off a Solver's search.
        """
        start = time.perf_counter()
        opts = self._chosen("solve()", options, choices).merged_over(self.options)
        return self._solve_parsed([self.task.parse(puzzle)], opts, _deadline(start, opts))[0]

    def solve_batch(
        self,
        puzzles: Iterable[Any],
        options: SolveOptions | None = None,
        *,
        batch_size: int | None = None,
        **choices: Any,
    ) -> list[Solution]:
        """Solve many puzzles in batches of ``batch_size``; results come back in input order.

        Every puzzle is parsed before any is solved, so one bad entry fails fast and names its index.
        ``options`` and ``choices`` as for :meth:`solve`. A ``time_budget`` is the whole call's: each
        batch may run until its share of it has passed (batch k of n: k/n of the budget from the start),
        so time an easy batch leaves goes to the next, and the last batch is not starved by the first.
        """
        began = time.perf_counter()
        opts = self._chosen("solve_batch()", options, choices).merged_over(self.options)
        size = self.batch_size if batch_size is None else check_int("batch_size", batch_size, MAX_BATCH_SIZE)
        parsed = self._parse_all(puzzles)
        results: list[Solution] = []
        budget = _set(opts.time_budget)
        for start in range(0, len(parsed), size):
            end = min(start + size, len(parsed))
            deadline = None if budget == math.inf else began + budget * end / len(parsed)
            results.extend(self._solve_parsed(parsed[start:end], opts, deadline))
        return results

    def predict(
        self, puzzles: Iterable[Any], options: SolveOptions | None = None, **choices: Any
    ) -> Prediction:
        """The network alone on a batch: per-cell probabilities, answers, verdicts, steps (no search).

        The puzzles run as one batch; split very large sets as ``solve_batch`` does. ``options`` and
        ``choices`` as for :meth:`solve`, but there is no search to choose: ``options``' fallback is not
        used, and ``fallback`` or ``search_time_limit`` as a keyword is a TypeError.
        """
        start = time.perf_counter()
        opts = self._chosen("predict()", options, choices, _NO_SEARCH).merged_over(self.options)
        parsed = self._parse_all(puzzles)
        if not parsed:
            raise InvalidPuzzleError("predict needs at least one puzzle")
        return self._predict(np.stack(parsed), opts, _deadline(start, opts))

    def hint(self, puzzle: Any, options: SolveOptions | None = None, **choices: Any) -> Hint:
        """The next cell to reveal: the empty cell the network is surest of (see :class:`Hint`).

        When the network's full answer verifies (or, with ``fallback="search"``, the search finds one),
        the digit comes from that answer and ``verified`` is True; otherwise it is the network's best
        digit that does not clash with the givens. A verified answer from any view counts. ``options``
        and ``choices`` as for :meth:`solve`.
        """
        start = time.perf_counter()
        opts = self._chosen("hint()", options, choices).merged_over(self.options)
        grids = self.task.parse(puzzle)[None]
        deadline = _deadline(start, opts)
        pred = self._predict(grids, opts, deadline)
        answer = pred.answers[0] if pred.solved[0] else None
        if answer is None and opts.fallback == "search":
            answer = self.task.search(grids[0], pred.logits[0], _search_limit(opts, deadline)).answer
        return self.task.hint(grids[0], pred.logits[0], answer)

    def rate(self, puzzle: Any, options: SolveOptions | None = None, **choices: Any) -> Rating:
        """How hard the network finds ``puzzle``: its halting step and confidence, and the views it needed
        (see :class:`Rating`). Measured on the evaluation sets, the score orders them as their curators do
        (docs: How it solves, "Difficulty ratings"). ``options`` and ``choices`` as for :meth:`predict`:
        the rating is the network's alone.
        """
        start = time.perf_counter()
        chosen = self._chosen("rate()", options, choices, _NO_SEARCH)
        opts = dataclasses.replace(chosen.merged_over(self.options), fallback="none")
        r = self._solve_parsed([self.task.parse(puzzle)], opts, _deadline(start, opts))[0]
        return rating.rate_solution(r, _set(opts.max_steps))

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

    def _predict(self, grids: np.ndarray, opts: SolveOptions, deadline: float | None = None) -> Prediction:
        def recurse(
            tokens: np.ndarray, stop: recursion.Stop | None
        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            # Views multiply the batch; runs of at most _ROWS_PER_RUN rows keep the state's memory bounded.
            parts = [
                recursion.run(
                    self._backend,
                    tokens[i : i + _ROWS_PER_RUN],
                    _set(opts.max_steps),
                    _set(opts.halt_threshold),
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
            min(_set(opts.views), self.task.max_views),
            _set(opts.seed),
            recurse,
            verify,
            self.task.draw_views,
            stop_on_verified=_set(opts.stop_on_verified),
            deadline=deadline,
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

    def _solve_parsed(
        self, parsed: Sequence[np.ndarray], opts: SolveOptions, deadline: float | None = None
    ) -> list[Solution]:
        if not parsed:
            return []
        grids = np.stack(parsed)
        pred = self._predict(grids, opts, deadline)
        results = []
        for i in range(len(grids)):
            fields: dict[str, Any] = {"grid": pred.answers[i], "solved": bool(pred.solved[i])}
            if opts.fallback == "search":
                fields.update(
                    self._finish(
                        grids[i], pred.logits[i], pred.answers[i], bool(pred.solved[i]), opts, deadline
                    )
                )
            fields.update(self.task.details(fields["grid"], grids[i]))  # may reshape grid (maze padding)
            fields["grid_text"] = self.task.format(fields["grid"])
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
        self,
        grid: np.ndarray,
        logits: np.ndarray,
        answer: np.ndarray,
        ok: bool,
        opts: SolveOptions,
        deadline: float | None = None,
    ) -> dict[str, Any]:
        """The exact search's verdict on one puzzle; a verified network answer is kept, not replaced."""
        outcome = self.task.search(grid, logits, _search_limit(opts, deadline))
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


def _deadline(start: float, opts: SolveOptions) -> float | None:
    """When a call that began at ``start`` must be done (a ``time.perf_counter`` time); None: no budget."""
    budget = _set(opts.time_budget)
    return None if budget == math.inf else start + budget


# The least the search gets once a budget is spent: it then reports "search_timeout" at once, honestly.
_LEAST_SEARCH_SECONDS = 1e-3


def _search_limit(opts: SolveOptions, deadline: float | None) -> float:
    """The search's time limit for one puzzle: ``search_time_limit``, and no more than the budget left."""
    limit = _set(opts.search_time_limit)
    if deadline is None:
        return limit
    return min(limit, max(deadline - time.perf_counter(), _LEAST_SEARCH_SECONDS))


def _offset(stop: recursion.Stop, first: int) -> recursion.Stop:
    """``stop`` for a run that starts at row ``first`` of the batch ``stop`` was written for."""
    return lambda rows, logits: stop(rows + first, logits)


def _set(value: _T | None) -> _T:
    """A field of options merged over the Solver's: every one is set (an internal invariant)."""
    assert value is not None
    return value
