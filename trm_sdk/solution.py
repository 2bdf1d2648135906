"""What a solver returns: a checked answer, a hint, a difficulty rating, or the network's raw view."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["STATUSES", "Hint", "Prediction", "Rating", "Solution"]

STATUSES = {
    "solved": "solved",
    "unsolved": "NOT solved (answer breaks the rules)",
    "no_solution": "the puzzle has NO solution (proven by exact search)",
    "multiple_solutions": "solved, but the puzzle has SEVERAL solutions (this is one)",
    "search_timeout": "NOT solved (the search ran out of time)",
}


@dataclass(frozen=True)
class Solution:
    """The network's answer to one puzzle, already checked against the puzzle's rules.

    ``solved`` is the verifier's word, not the network's: a confident answer that breaks a rule is
    reported as unsolved, never passed off as correct. ``status`` says more where an exact search ran
    (``fallback="search"``): a puzzle can be proven to have no solution, or several.
    """

    grid: np.ndarray  # the answer; for Sudoku (9, 9) integers 1..9
    solved: bool  # True only if ``grid`` is a valid solution that keeps every given
    steps: int  # supervision steps the network used, 1..max_steps
    confidence: float  # sigmoid of the halting head at the last step, in [0, 1]
    backend: str  # the runtime that actually ran: "cpu", "cuda" or "tensorrt"
    task: str = "sudoku"
    puzzle: np.ndarray | None = field(default=None, repr=False)  # the parsed input, 0 = blank
    method: str = "trm"  # "trm": the network alone; "trm+search": exact search finished the network's answer
    path: list[tuple[int, int]] | None = (
        None  # tasks with a route (maze): (row, col) cells from start to goal
    )
    status: str = ""  # one of STATUSES; derived from ``solved`` when left empty
    search_nodes: int | None = None  # branch points the exact search visited, where it ran
    views: int = 1  # views of the puzzle the network ran (see Solver's ``views``); 1 is the puzzle as given
    # ``grid`` as its task draws it (``Task.format``), filled in by the Solver that knows the task, so that
    # printing a Solution needs no task registry; empty: printed as plain rows of numbers
    grid_text: str = field(default="", repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", "solved" if self.solved else "unsolved")
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}; one of {', '.join(STATUSES)}")

    def __str__(self) -> str:
        via = " + exact search" if self.method == "trm+search" else ""
        seen = f" ({self.views} views)" if self.views > 1 else ""
        head = (
            f"{self.task}: {STATUSES[self.status]} in {self.steps} step(s){seen}{via}, "
            f"confidence {self.confidence:.3f}, {self.backend}"
        )
        grid = self.grid_text or "\n".join(" ".join(str(v) for v in row) for row in np.atleast_2d(self.grid))
        return head + "\n" + grid

    def to_dict(self) -> dict[str, Any]:
        """The fields the repr shows, as JSON-ready values (``grid`` as nested lists, ``path`` as
        [row, col] pairs, numpy scalars as Python's): for ``trm solve --json``, a web service or a log.
        ``puzzle`` (the caller's own input) and the printed grid are left out, as in the repr."""
        return {f.name: _json_ready(getattr(self, f.name)) for f in fields(self) if f.repr}


def _json_ready(value: Any) -> Any:
    """``value`` with numpy arrays and scalars, and tuples, turned into what ``json.dumps`` takes."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    return value


@dataclass(frozen=True)
class Hint:
    """The next cell to reveal: the empty cell the network is surest of.

    ``verified`` is True when the digit comes from a full answer that passed verification (by the
    network alone or with ``fallback="search"``) and the puzzle has exactly one solution, so it is
    certainly right; otherwise it is the network's best digit that does not clash with the givens (or,
    on a puzzle with several solutions, a digit the solutions share).
    """

    row: int  # 0-based
    col: int  # 0-based
    digit: int  # 1..9
    confidence: float  # the network's probability for ``digit`` in that cell, in [0, 1]
    verified: bool

    def __str__(self) -> str:
        check = "verified" if self.verified else "not verified"
        return (
            f"hint: row {self.row + 1}, column {self.col + 1} is {self.digit} "
            f"(confidence {self.confidence:.3f}, {check})"
        )


@dataclass(frozen=True)
class Rating:
    """How hard the network found a puzzle: the steps it needed before it trusted its answer.

    ``score`` is ``s = (steps - confidence) / max_steps`` clipped to [0, 1] for a puzzle solved as given,
    ``1 - (1 - s) / views`` for one that needed more views, and 1.0 for a puzzle the network could not
    solve: a puzzle halted confidently after one step scores near 0. ``level`` buckets
    the score with thresholds chosen on the evaluation sets (docs: How it solves, "Difficulty ratings").
    """

    score: float  # 0 (trivial for the network) .. 1 (beyond it)
    level: str  # "easy", "medium", "hard" or "extreme"
    steps: int
    confidence: float
    solved: bool
    views: int = 1  # views the network ran before an answer verified (or in all, if none did)

    def __str__(self) -> str:
        seen = f", {self.views} views" if self.views > 1 else ""
        why = (
            f"{self.steps} step(s), confidence {self.confidence:.3f}{seen}"
            if self.solved
            else f"the network alone did not solve it{seen}"
        )
        return f"difficulty {self.level} (score {self.score:.2f}: {why})"


@dataclass(frozen=True)
class Prediction:
    """The network's own view of a batch, before any search: what ``Solver.predict`` returns.

    For tools built on the network (benchmarks, hints, a custom search): per-cell probabilities over
    the model's vocabulary, the decoded answers and the verifier's word on them, all at each puzzle's
    halting step.
    """

    answers: np.ndarray  # (B, ...) decoded answers in the task's canonical form
    solved: np.ndarray  # (B,) bool: the verifier's word on each answer
    steps: np.ndarray  # (B,) supervision steps each puzzle ran
    confidence: np.ndarray  # (B,) sigmoid of the halting head at that step
    logits: np.ndarray = field(repr=False)  # (B, seq_len, vocab) float32, about the puzzles as given
    views: np.ndarray  # (B,) views run for each puzzle
    view: np.ndarray  # (B,) 0-based index of the view whose answer was kept (0: as given)
    # (B, seq_len, vocab) log of the probabilities averaged over all the views a puzzle ran: the
    # belief of the whole ensemble, which the fallback search orders its guesses by
    pooled: np.ndarray = field(repr=False)

    @property
    def probabilities(self) -> np.ndarray:
        """(B, seq_len, vocab) softmax of the logits: the network's belief in each token of each cell."""
        shifted = self.logits - self.logits.max(axis=-1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=-1, keepdims=True)

    def __len__(self) -> int:
        return len(self.answers)
