"""The difficulty score: monotone in steps, penalises doubt, and puts unsolved puzzles at the top."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk import rating
from trm_sdk.solution import Solution


def test_score_grows_with_steps_and_doubt() -> None:
    assert (
        rating.score(1, 0.99, True, 16) < rating.score(2, 0.99, True, 16) < rating.score(16, 0.99, True, 16)
    )
    assert rating.score(3, 0.9, True, 16) < rating.score(3, 0.6, True, 16)
    assert rating.score(1, 1.0, True, 16) == 0.0
    assert rating.score(16, 0.0, True, 16) == 1.0
    assert rating.score(1, 0.99, False, 16) == 1.0  # beyond the model, however quickly it gave up


@pytest.mark.parametrize(
    ("steps", "confidence", "solved", "level"),
    [(1, 0.95, True, "easy"), (3, 0.9, True, "medium"), (8, 0.9, True, "hard"), (16, 0.9, True, "extreme")],
)
def test_levels(steps: int, confidence: float, solved: bool, level: str) -> None:
    r = rating.rate(steps, confidence, solved, 16)
    assert r.level == level and r.steps == steps and r.solved == solved
    assert level in str(r)


def test_levels_are_ordered_bounds() -> None:
    bounds = [b for _, b in rating.LEVELS]
    assert bounds == sorted(bounds) and 0 < bounds[0] and bounds[-1] < 1


def test_an_answer_the_search_finished_counts_as_unsolved_by_the_network() -> None:
    grid = np.ones((9, 9), np.int8)
    by_search = Solution(grid, True, 16, 0.1, "cpu", method="trm+search")
    by_network = Solution(grid, True, 2, 0.9, "cpu")
    assert rating.rate_solution(by_search, 16).score == 1.0
    assert not rating.rate_solution(by_search, 16).solved
    assert rating.rate_solution(by_network, 16).score == pytest.approx((2 - 0.9) / 16, abs=1e-4)
    assert "did not solve" in str(rating.rate_solution(by_search, 16))
