"""Difficulty as the network experiences it: how many supervision steps it needs before it halts.

TRM halts when its halting head trusts the answer, so easy puzzles stop after one step and hard ones
run long; an answer that fails verification means the puzzle is beyond the model. That is a rating a
game can use without any hand-written solving techniques, and it is free: it falls out of solving.
"""

from __future__ import annotations

from .solution import Rating, Solution

__all__ = ["LEVELS", "rate", "rate_solution", "score"]

# Upper score bounds of each level, chosen on the evaluation sets (docs, "How it solves": ratings).
# `trm eval --rank-correlation` measures how well the score orders sets that curators ranked.
LEVELS = (("easy", 0.1), ("medium", 0.3), ("hard", 0.75))  # anything above: "extreme"


def score(steps: int, confidence: float, solved: bool, max_steps: int, views: int = 1) -> float:
    """In [0, 1]: (steps - confidence) / max_steps for a puzzle solved as given, 1.0 when no answer verified.

    Needing views moves a puzzle towards "beyond the network": its distance from 1 is divided by the
    views run, so the same steps score 1 - (1 - s) / views (a puzzle that halted at once but needed 4
    views scores about 0.75, at the "extreme" bound; with 16 views about 0.94).
    """
    if not solved:
        return 1.0
    base = min(1.0, max(0.0, (steps - confidence) / max_steps))
    return 1.0 - (1.0 - base) / max(1, views)


def rate(steps: int, confidence: float, solved: bool, max_steps: int, views: int = 1) -> Rating:
    s = score(steps, confidence, solved, max_steps, views)
    level = next((name for name, bound in LEVELS if s <= bound), "extreme")
    return Rating(round(s, 4), level, steps, confidence, solved, views)


def rate_solution(solution: Solution, max_steps: int) -> Rating:
    """The rating of an answer already computed; one the exact search had to finish counts as unsolved."""
    network_solved = solution.solved and solution.method == "trm"
    return rate(solution.steps, solution.confidence, network_solved, max_steps, solution.views)
