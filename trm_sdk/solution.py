"""What a solver returns for one puzzle."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Solution"]


@dataclass(frozen=True)
class Solution:
    """The network's answer to one puzzle, already checked against the puzzle's rules.

    ``solved`` is the verifier's word, not the network's: a confident answer that breaks a rule is
    reported as unsolved, never passed off as correct.
    """

    grid: np.ndarray  # the answer; for Sudoku (9, 9) integers 1..9
    solved: bool  # True only if ``grid`` is a valid solution that keeps every given
    steps: int  # supervision steps used, 1..max_steps
    confidence: float  # sigmoid of the halting head at the last step, in [0, 1]
    backend: str  # the runtime that actually ran: "cpu", "cuda" or "tensorrt"
    task: str = "sudoku"
    puzzle: np.ndarray | None = field(default=None, repr=False)  # the parsed input, 0 = blank

    def __str__(self) -> str:
        from .tasks import get_task

        status = "solved" if self.solved else "NOT solved (answer breaks the rules)"
        head = (
            f"{self.task}: {status} in {self.steps} step(s), confidence {self.confidence:.3f}, {self.backend}"
        )
        return head + "\n" + get_task(self.task).format(self.grid)
