"""Evaluation: how well a model solves files of puzzle,answer pairs, and what its rating is worth.

Every accuracy figure the project reports comes from here: ``trm eval`` (and the ``evaluation.sets`` it
records in a manifest, which ``trm info`` and ``trm compare`` read), the step budgets and views
``trm calibrate --stop-on-verified`` chooses from, and the experiments. One home keeps them equal to the
last digit, and keeps the commands thin. Functions take a progress callback (called with the number of
puzzles just finished) and never print.

What counts is the network's answer **exact** against the file's answer and verified by the rules (the
task's :meth:`~trm_sdk.tasks.Task.is_exact`), with the Solver's own stopping rule ("halting") and with
every supervision step ("all_steps", the paper's evaluation); the exact search behind it is measured on
its own (:func:`score_search`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from . import manifest
from .options import EVERY_STEP
from .rating import LEVELS, rate_solution
from .solution import Prediction, Rating, Solution
from .solver import Solver
from .views import waves

__all__ = [
    "MODES",
    "STEP_BUDGETS",
    "FileScore",
    "accuracy_by_budget",
    "average_ranks",
    "budget_table",
    "level_counts",
    "load_scored",
    "predict_all",
    "rank_correlation",
    "record",
    "score",
    "score_file",
    "score_search",
    "score_set",
    "score_work",
    "set_name",
    "solve_all",
    "spearman",
]

Progress = Callable[[int], None]  # called with the number of puzzles (or searches) just finished


def _no_progress(n: int) -> None:
    """The default progress callback: library calls report to nobody unless asked."""


# The two ways every figure is measured (``trm bench`` times the same two): the model's own stopping
# rule, and every supervision step. Both without search, which :func:`score_search` measures apart.
MODES: dict[str, dict[str, Any]] = {"halting": {}, "all_steps": EVERY_STEP.chosen()}
# The step budgets read off one stop-on-verified run (each puzzle's first verified step).
STEP_BUDGETS = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256)


class _Counted(Protocol):
    """What the budget tables read of a result: the steps it ran and the views it needed."""

    @property
    def steps(self) -> int: ...

    @property
    def views(self) -> int: ...


# -- running a whole file ---------------------------------------------------------------------------------


def solve_all(
    solver: Solver, puzzles: np.ndarray, progress: Progress = _no_progress, **choices: Any
) -> list[Solution]:
    """``solver.solve_batch`` over a whole file, one batch of the Solver's ``batch_size`` at a time, so a
    progress bar can follow it; the batches are the ones ``solve_batch`` would make, so are the answers."""
    results: list[Solution] = []
    for i in range(0, len(puzzles), solver.batch_size):
        chunk = list(puzzles[i : i + solver.batch_size])
        results.extend(solver.solve_batch(chunk, **choices))
        progress(len(chunk))
    return results


def predict_all(
    solver: Solver, puzzles: np.ndarray, progress: Progress = _no_progress, **choices: Any
) -> Prediction:
    """``solver.predict`` over a whole file in the batches :func:`solve_all` uses, joined into one.

    The network's own view (logits of the kept view, probabilities pooled over every view) is what a
    search is guided by; with no search, its answers and verdicts are :func:`solve_all`'s.
    """
    if not len(puzzles):
        raise ValueError("predict_all needs at least one puzzle")
    parts = []
    for i in range(0, len(puzzles), solver.batch_size):
        chunk = list(puzzles[i : i + solver.batch_size])
        parts.append(solver.predict(chunk, **choices))
        progress(len(chunk))
    return Prediction(
        **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Prediction)}
    )


def _exact(solver: Solver, results: Sequence[Solution], solutions: np.ndarray) -> list[bool]:
    return [solver.task.is_exact(r, s) for r, s in zip(results, solutions, strict=True)]


def _share(values: Sequence[bool] | np.ndarray) -> float:
    return round(float(np.mean(values)), 4)


def _ms_per_puzzle(seconds: float, puzzles: int, digits: int = 2) -> float:
    return round(1000 * seconds / max(puzzles, 1), digits)


# -- accuracy within budgets ------------------------------------------------------------------------------


def _budgets(max_steps: int) -> list[int]:
    return [k for k in STEP_BUDGETS if k < max_steps] + [max_steps]


def accuracy_by_budget(
    exact: Sequence[bool] | np.ndarray,
    results: Sequence[_Counted] | Prediction,
    max_steps: int,
    views: int,
) -> dict[str, dict[str, float]]:
    """From one run with views: the accuracy at each wave total of views ("by_views": 1, 4, 16, 64, ...
    up to ``views``) and the first view's within each step budget ("by_steps").

    ``results`` are Solutions, or the Prediction of :func:`predict_all`. A puzzle counts within ``w``
    views when it is exact and ran at most ``w`` views: a run with fewer views runs exactly the first
    waves of this one. "by_steps" means something only for a run that
    stopped on verified answers with no halting head, where a puzzle's steps are its first verified step.
    """
    solved = np.asarray(exact, bool)
    if len(solved) != len(results) or not len(solved):
        raise ValueError(
            f"accuracy_by_budget needs one verdict per result, got {len(solved)} and {len(results)}"
        )
    if isinstance(results, Prediction):  # a whole file's network output, as predict_all gives it
        steps, ran = np.asarray(results.steps), np.asarray(results.views)
    else:
        steps = np.array([r.steps for r in results])
        ran = np.array([r.views for r in results])
    first = solved & (ran == 1)
    return {
        "by_steps": {str(k): _share(first & (steps <= k)) for k in _budgets(max_steps)},
        "by_views": {str(w): _share(solved & (ran <= w)) for w in np.cumsum(waves(views)).tolist()},
    }


def budget_table(
    solver: Solver,
    path: str | os.PathLike[str],
    max_steps: int,
    views: int,
    limit: int | None = None,
    progress: Progress = _no_progress,
) -> dict[str, Any]:
    """Accuracy on one file within every step budget and every wave total of views, from one run.

    Every puzzle runs with stop-on-verified and no halting head, up to ``max_steps``, so it ends at its
    first verified step: it counts as solved within k steps when that step is k or less (read on the
    first view; the others run to ``max_steps``). A puzzle the first view leaves unsolved runs the other
    views in waves, and the accuracy at each wave total is read off the views each puzzle ran.
    """
    if not solver.stop_on_verified:
        raise ValueError(
            "budget_table needs a Solver(stop_on_verified=True): steps must be first verified ones"
        )
    puzzles, answers = load_scored(solver, path, limit)
    t0 = time.perf_counter()
    results = solve_all(
        solver, puzzles, progress, max_steps=max_steps, halt_threshold=1.0, views=views, fallback="none"
    )
    seconds = time.perf_counter() - t0
    solved = _exact(solver, results, answers)
    return {
        "puzzles": len(results),
        "max_steps": max_steps,
        "views": views,
        "solved": _share(solved),
        **accuracy_by_budget(solved, results, max_steps, views),
        "mean_views": round(float(np.mean([r.views for r in results])), 2),
        "ms_per_puzzle": _ms_per_puzzle(seconds, len(results), 1),
    }


# -- scoring a file ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileScore:
    """One file's figures, and each puzzle's rating from the run with halting.

    ``row`` holds the keys a manifest's ``evaluation.sets`` records and ``trm eval --json`` prints:
    ``puzzles``, ``exact_halting``, ``ms_per_puzzle_halting``, ``mean_steps``, ``views``, ``mean_views``,
    ``exact_by_views``, ``exact_by_steps_view_1`` (a stop-on-verified run at threshold 1.0 only),
    ``mean_rating``, ``exact_all_steps`` and ``ms_per_puzzle_all_steps`` (unless every step was skipped),
    and with a search fallback ``exact_with_search``, ``ms_per_puzzle_with_search`` and ``search_gain``.
    The ratings are kept for :func:`rank_correlation`; the row holds only their mean.
    """

    name: str  # "folder/stem", as set_name gives it
    row: dict[str, Any]
    ratings: list[Rating] = field(repr=False)


def set_name(path: str | os.PathLike[str]) -> str:
    """A file's name in an evaluation record: ``folder/stem``, which tells apart sets of the same name."""
    p = Path(path)
    return f"{p.parent.name}/{p.stem}"


def score_work(puzzles: int, every_step: bool = True, search: bool = False) -> int:
    """How many progress units :func:`score_file` reports for a file of ``puzzles``: one per puzzle per
    mode run, and two per puzzle for the search (the search, then its guided-against-unguided count)."""
    return puzzles * (2 if every_step else 1) + (2 * puzzles if search else 0)


def score(
    solver: Solver,
    puzzles: np.ndarray,
    solutions: np.ndarray,
    every_step: bool = True,
    progress: Progress = _no_progress,
) -> tuple[dict[str, Any], list[Rating]]:
    """Exact accuracy of the network (no search) with halting and, if ``every_step``, with every step.

    The halting run also gives the mean steps and views, the accuracy within views and step budgets
    (:func:`accuracy_by_budget`; the step budgets only where every puzzle stopped at its first verified
    step), and each puzzle's rating. Returns the row (see :class:`FileScore`) and the ratings.
    """
    if len(puzzles) != len(solutions) or not len(puzzles):
        raise ValueError(
            f"score needs as many answers as puzzles, and some: {len(puzzles)}, {len(solutions)}"
        )
    row: dict[str, Any] = {"puzzles": len(puzzles)}
    ratings: list[Rating] = []
    for key, choices in MODES.items():
        if not every_step and key != "halting":
            continue
        start = time.perf_counter()
        results = solve_all(solver, puzzles, progress, **choices, fallback="none")
        elapsed = time.perf_counter() - start
        exact = _exact(solver, results, solutions)
        row[f"exact_{key}"] = _share(exact)
        row[f"ms_per_puzzle_{key}"] = _ms_per_puzzle(elapsed, len(puzzles))
        if key != "halting":
            continue
        row["mean_steps"] = round(float(np.mean([r.steps for r in results])), 2)
        row["views"] = solver.views
        row["mean_views"] = round(float(np.mean([r.views for r in results])), 2)
        read = accuracy_by_budget(exact, results, solver.max_steps, min(solver.views, solver.task.max_views))
        row["exact_by_views"] = read["by_views"]
        if solver.stop_on_verified and solver.halt_threshold >= 1.0:  # each puzzle's first verified step
            row["exact_by_steps_view_1"] = read["by_steps"]
        ratings = [rate_solution(r, solver.max_steps) for r in results]
        row["mean_rating"] = round(float(np.mean([g.score for g in ratings])), 4)
    return row, ratings


def score_search(
    solver: Solver, puzzles: np.ndarray, solutions: np.ndarray, progress: Progress = _no_progress
) -> dict[str, Any]:
    """Exact accuracy with the search behind the network, and what the network's guidance saves it.

    ``search_gain`` (where the task's search branches: Sudoku) counts the search's branch points guided
    by the probabilities the network gave against the same search unguided; a maze's breadth-first
    search never branches, so it has none. Reports ``2 * len(puzzles)`` progress units.
    """
    start = time.perf_counter()
    results = solve_all(solver, puzzles, progress, fallback="search")
    elapsed = time.perf_counter() - start
    pred = predict_all(solver, puzzles)  # the probabilities that search saw
    gain = solver.task.search_gain(puzzles, pred.logits, pred.solved, progress)
    out: dict[str, Any] = {
        "exact_with_search": _share(_exact(solver, results, solutions)),
        "ms_per_puzzle_with_search": _ms_per_puzzle(elapsed, len(puzzles)),
    }
    if gain is not None:
        out["search_gain"] = gain
    return out


def load_scored(
    solver: Solver, path: str | os.PathLike[str], limit: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A file's puzzles and answers; a file without answers, or without puzzles, has nothing to score."""
    data = solver.task.load(path, limit=limit)
    if data.solutions is None:
        raise ValueError(f"{path} has no solutions to score against: give a file of puzzle,answer pairs")
    if not len(data.puzzles):
        raise ValueError(f"{path} holds no puzzles to score")
    return data.puzzles, data.solutions


def score_file(
    solver: Solver,
    path: str | os.PathLike[str],
    limit: int | None = None,
    every_step: bool = True,
    progress: Progress = _no_progress,
) -> FileScore:
    """:func:`score` on the first ``limit`` puzzles of a file, and :func:`score_search` where the Solver
    has a search fallback: the row ``trm eval`` prints and records. Progress: :func:`score_work` units."""
    puzzles, answers = load_scored(solver, path, limit)
    return score_set(solver, set_name(path), puzzles, answers, every_step, progress)


def score_set(
    solver: Solver,
    name: str,
    puzzles: np.ndarray,
    solutions: np.ndarray,
    every_step: bool = True,
    progress: Progress = _no_progress,
) -> FileScore:
    """:func:`score_file` on puzzles already loaded (:func:`load_scored`), as ``name``."""
    row, ratings = score(solver, puzzles, solutions, every_step, progress)
    if solver.fallback:
        row.update(score_search(solver, puzzles, solutions, progress))
    return FileScore(name, row, ratings)


# -- the rating against curated difficulty ------------------------------------------------------------------


def level_counts(ratings: Sequence[Rating]) -> dict[str, int]:
    """How many puzzles fall in each rating level, easiest first (every level named, zeros too)."""
    names = [name for name, _ in LEVELS] + ["extreme"]
    return {name: sum(g.level == name for g in ratings) for name in names}


def average_ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """0-based ranks of ``values``, ties sharing the mean of the ranks they span (Spearman's convention)."""
    x = np.asarray(values, float)
    order = np.argsort(x, kind="mergesort")
    ordered = x[order]
    ranks = np.empty(len(x))
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and ordered[j + 1] == ordered[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2
        i = j + 1
    return ranks


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float | None:
    """Spearman's rank correlation (Pearson's on average ranks), or None where it is undefined: fewer
    than two values, or one side constant (every puzzle rated the same has no order to compare)."""
    if len(x) != len(y):
        raise ValueError(f"spearman needs two sequences of one length, got {len(x)} and {len(y)}")
    rx, ry = average_ranks(x), average_ranks(y)
    if len(rx) < 2 or np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None
    return float(np.corrcoef(rx, ry)[0, 1])


def rank_correlation(ratings_by_file: Sequence[tuple[str, Sequence[Rating]]]) -> dict[str, Any]:
    """How well the rating orders puzzles that curators ranked by file: files come easiest first, and
    each puzzle's rank is its file's position. Ties (every puzzle of a file shares a rank; scores repeat)
    get average ranks. Returns the files, each one's puzzles, mean score and level counts, and
    ``spearman`` (None when undefined: every puzzle got the same score)."""
    if len(ratings_by_file) < 2:
        raise ValueError("a rank correlation needs at least two files, given easiest first")
    scores = [g.score for _, ratings in ratings_by_file for g in ratings]
    ranks = [rank for rank, (_, ratings) in enumerate(ratings_by_file) for _ in ratings]
    rho = spearman(scores, ranks)
    return {
        "files": [
            {
                "set": name,
                "puzzles": len(ratings),
                "mean_score": round(float(np.mean([g.score for g in ratings])), 4) if ratings else None,
                "levels": level_counts(ratings),
            }
            for name, ratings in ratings_by_file
        ],
        "spearman": None if rho is None else round(rho, 4),
    }


# -- recording ----------------------------------------------------------------------------------------------


def record(solver: Solver, rows: dict[str, dict[str, Any]], command: str) -> Path:
    """Add ``rows`` (set name -> :class:`FileScore` row) to the model's manifest under ``evaluation``,
    beside the sets recorded before, with the backend, the command that measured them and the date, so
    a figure can be redone. Writes through :func:`trm_sdk.manifest.update`; returns the manifest's path."""
    evaluation = solver.manifest.raw.get("evaluation", {})
    return manifest.update(
        solver.manifest.directory,
        {
            "evaluation": {
                "sets": {**evaluation.get("sets", {}), **rows},
                "backend": solver.backend,
                "command": command,
                "measured": time.strftime("%Y-%m-%d", time.gmtime()),
            }
        },
    )
