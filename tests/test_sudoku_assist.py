"""Hints and the network-guided exact search, driven by hand-made logits so the network's mood is known."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks.sudoku import assist, codec

CLASSIC = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
CLASSIC_SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
HARD = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
HARD_SOLUTION = "417369825632158947958724316825437169791586432346912758289643571573291684164875293"


def logits_for(grid: np.ndarray, strength: float = 5.0) -> np.ndarray:
    """(81, VOCAB) logits that put ``strength`` on each cell's digit in ``grid``."""
    out = np.zeros((codec.CELLS, codec.VOCAB_SIZE), np.float32)
    out[np.arange(codec.CELLS), grid.reshape(-1).astype(np.int64) + codec.DIGIT_OFFSET] = strength
    return out


def test_candidates_match_the_givens() -> None:
    g = codec.parse(CLASSIC)
    cand = assist.candidates(g)
    assert cand.shape == (9, 9, 9)
    assert not cand[0, 2, 4]  # 5 is given in row 1
    assert not cand[0, 2, 7]  # 8 is given in column 3 (row 3)
    assert not cand[0, 2, 8]  # 9 is given in the top-left box
    assert cand[0, 2, 0] and cand[0, 2, 3]  # 1 and 4 are open
    solution = codec.parse(CLASSIC_SOLUTION)
    empty = g == 0
    assert cand[empty, solution[empty] - 1].all()  # the true digit is always a candidate


def test_verified_hint_reveals_the_surest_empty_cell() -> None:
    g, solution = codec.parse(CLASSIC), codec.parse(CLASSIC_SOLUTION)
    logits = logits_for(solution, strength=1.0)
    logits[4 * 9 + 4, solution[4, 4] + codec.DIGIT_OFFSET] = 9.0  # centre cell: most certain
    h = assist.hint(g, logits, solution)
    assert (h.row, h.col, h.digit) == (4, 4, 5) and h.verified and h.confidence > 0.9


def test_unverified_hint_never_clashes_with_the_givens() -> None:
    g = codec.parse(CLASSIC)
    wrong = np.full((9, 9), 5, np.int8)  # the network insists on 5 everywhere
    h = assist.hint(g, logits_for(wrong), None)
    assert not h.verified and g[h.row, h.col] == 0
    assert assist.candidates(g)[h.row, h.col, h.digit - 1]


def test_hint_on_a_full_grid_is_an_error() -> None:
    full = codec.parse(CLASSIC_SOLUTION)
    with pytest.raises(InvalidPuzzleError, match="no empty cell"):
        assist.hint(full, logits_for(full), None)


def test_unverified_hint_skips_cells_where_nothing_fits() -> None:
    g = np.zeros((9, 9), np.int8)
    g[0, 1:] = np.arange(1, 9)  # cell (0, 0) can only be 9 ...
    g[1, 0] = 9  # ... which its column already holds: it is dead
    assert codec.conflicts(g) == []
    assert not assist.candidates(g)[0, 0].any()
    favour_dead = logits_for(np.full((9, 9), 9, np.int8))
    h = assist.hint(g, favour_dead, None)
    assert (h.row, h.col) != (0, 0) and g[h.row, h.col] == 0
    assert assist.candidates(g)[h.row, h.col, h.digit - 1]


def test_guided_search_follows_a_right_network_to_the_answer_at_once() -> None:
    g, solution = codec.parse(HARD), codec.parse(HARD_SOLUTION)
    right = assist.guided_search(g, logits_for(solution), time_limit=10.0)
    assert right.status == "solved" and codec.to_string(right.answer) == HARD_SOLUTION
    assert right.nodes > 0  # it did branch, and every first choice was right
    wrong = np.roll(solution, 1, axis=1)  # a network that is wrong everywhere
    misled = assist.guided_search(g, logits_for(wrong), time_limit=10.0)
    assert misled.status == "solved" and codec.to_string(misled.answer) == HARD_SOLUTION
    assert right.nodes < misled.nodes


def test_guided_search_reports_no_solution_several_and_timeouts() -> None:
    g = codec.parse(CLASSIC)
    g[0, 2] = 1  # breaks the unique answer without a visible clash
    none = assist.guided_search(g, logits_for(codec.parse(CLASSIC_SOLUTION)), 10.0)
    assert none.status == "no_solution" and none.answer is None
    empty = np.zeros((9, 9), np.int8)
    several = assist.guided_search(empty, logits_for(codec.parse(CLASSIC_SOLUTION)), 10.0)
    assert several.status == "multiple_solutions"
    assert codec.to_string(several.answer) == CLASSIC_SOLUTION  # the one the network believed in
    late = assist.guided_search(codec.parse(HARD), logits_for(codec.parse(HARD_SOLUTION)), 1e-9)
    assert late.status == "search_timeout" and late.answer is None
