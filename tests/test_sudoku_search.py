"""The exact solver: known answers, zero and several solutions, node limits and guided orders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks.sudoku import codec, search

CLASSIC = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
CLASSIC_SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
# First puzzle of magictour top95 (Norvig's "hard" set): needs real search, not just singles.
HARD = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
HARD_SOLUTION = "417369825632158947958724316825437169791586432346912758289643571573291684164875293"


def csv_pairs(path: Path, n: int) -> list[tuple[str, str]]:
    rows = path.read_text().splitlines()[1 : n + 1]  # skip the puzzle,solution header
    return [tuple(row.split(",")) for row in rows]  # type: ignore[misc]


def test_classic_puzzle() -> None:
    result = search.solve(CLASSIC)
    assert len(result.solutions) == 1 and result.complete and result.unique
    assert codec.to_string(result.solutions[0]) == CLASSIC_SOLUTION
    assert result.solutions[0].dtype == np.int8 and result.solutions[0].shape == (9, 9)
    assert result.nodes == 0  # singles alone solve it
    np.testing.assert_array_equal(search.solution(CLASSIC), codec.parse(CLASSIC_SOLUTION))
    assert search.count_solutions(CLASSIC) == 1


def test_hard_puzzle_needs_branching() -> None:
    result = search.solve(HARD, limit=2)
    assert result.nodes > 5
    assert [codec.to_string(s) for s in result.solutions] == [HARD_SOLUTION]


def test_accepts_every_codec_form() -> None:
    grid = codec.parse(CLASSIC)
    for form in (grid, grid.tolist(), grid.reshape(81).tolist(), codec.format_grid(grid)):
        assert codec.to_string(search.solution(form)) == CLASSIC_SOLUTION


def test_does_not_modify_input() -> None:
    grid = codec.parse(HARD)
    before = grid.copy()
    search.solve(grid)
    np.testing.assert_array_equal(grid, before)


def test_norvig_sets_match_given_solutions(shared_data: Callable[[str], Path]) -> None:
    for name in ("top95", "hardest"):
        for puzzle, answer in csv_pairs(shared_data(f"sudoku/norvig/{name}.csv"), 30):
            result = search.solve(puzzle)
            assert len(result.solutions) == 1, puzzle
            assert codec.to_string(result.solutions[0]) == answer


def test_forum_hardest_sample(shared_data: Callable[[str], Path]) -> None:
    for puzzle, answer in csv_pairs(shared_data("sudoku/tdoku/puzzles6_forum_hardest_1106.csv"), 8):
        result = search.solve(puzzle, limit=2)
        assert result.unique
        assert codec.to_string(result.solutions[0]) == answer
        assert codec.is_solution(result.solutions[0], puzzle)


def test_no_solution_without_visible_clash() -> None:
    grid = codec.parse(CLASSIC)
    assert grid[0, 2] == 0 and CLASSIC_SOLUTION[2] == "4"
    grid[0, 2] = 1  # allowed by its row, column and box, but wrong: the puzzle had a unique answer
    assert codec.conflicts(grid) == []
    result = search.solve(grid)
    assert result.solutions == [] and result.complete
    assert search.count_solutions(grid) == 0
    assert search.solution(grid) is None


def test_clashing_givens_have_zero_solutions() -> None:
    grid = codec.parse(CLASSIC)
    grid[0, 6] = 5  # second 5 in row 1
    assert search.count_solutions(grid) == 0


def test_several_solutions() -> None:
    empty = np.zeros((9, 9), dtype=np.int8)
    assert search.count_solutions(empty, limit=2) == 2
    result = search.solve(empty, limit=5)
    assert len(result.solutions) == 5 and not result.unique
    assert len({s.tobytes() for s in result.solutions}) == 5
    assert all(codec.is_solution(s, empty) for s in result.solutions)
    assert search.solution(empty) is None


def test_serg_benchmark_has_several_solutions(shared_data: Callable[[str], Path]) -> None:
    path = shared_data("sudoku/tdoku/puzzles7_serg_benchmark.txt")
    for line in path.read_text().splitlines()[:3]:
        result = search.solve(line, limit=3)
        assert len(result.solutions) >= 2
        assert len({s.tobytes() for s in result.solutions}) == len(result.solutions)
        assert all(codec.is_solution(s, line) for s in result.solutions)
        assert search.solution(line) is None


def test_limit_one_stops_early() -> None:
    result = search.solve(np.zeros((9, 9), dtype=np.int8), limit=1)
    assert len(result.solutions) == 1 and result.complete
    assert not search.solve(CLASSIC, limit=1).unique  # one found, uniqueness not proven
    with pytest.raises(ValueError, match="limit"):
        search.solve(CLASSIC, limit=0)


def test_max_nodes_marks_incomplete() -> None:
    cut = search.solve(HARD, limit=2, max_nodes=1)
    assert not cut.complete and not cut.unique
    assert cut.nodes == 1
    assert len(search.solve(HARD, limit=2, max_nodes=10_000).solutions) == 1


def test_forbid() -> None:
    grid = codec.parse(CLASSIC)
    # The only solution has 4 at r1c3; forbidding it leaves none.
    assert search.solve(grid, forbid=[(0, 2, 4)]).solutions == []
    # Forbidding a digit that is not in the solution changes nothing.
    assert len(search.solve(grid, forbid=[(0, 2, 1)]).solutions) == 1
    with pytest.raises(ValueError, match="forbid"):
        search.solve(grid, forbid=[(9, 0, 1)])


def test_prob_order_guides_search() -> None:
    answer = codec.parse(HARD_SOLUTION)
    probs = np.full((9, 9, 9), 0.01)
    probs[np.arange(9)[:, None], np.arange(9)[None, :], answer - 1] = 0.9
    guided = search.solve(HARD, limit=1, order=search.prob_order(probs))
    plain = search.solve(HARD, limit=1)
    assert codec.to_string(guided.solutions[0]) == HARD_SOLUTION
    assert guided.nodes <= plain.nodes
    with pytest.raises(ValueError, match="9, 9, 9"):
        search.prob_order(np.zeros((9, 9)))


def test_bad_order_never_loses_a_candidate() -> None:
    calls = []

    def worst_first(row: int, col: int, digits: list[int]) -> list[int]:
        calls.append((row, col, list(digits)))
        assert 0 <= row < 9 and 0 <= col < 9 and digits == sorted(digits)
        return [42, *reversed(digits[1:])]  # junk, and the first candidate left out

    result = search.solve(HARD, limit=2, order=worst_first)
    assert calls
    assert [codec.to_string(s) for s in result.solutions] == [HARD_SOLUTION]


def test_rng_shuffles_grids() -> None:
    empty = np.zeros((9, 9), dtype=np.int8)
    a = search.solve(empty, limit=1, rng=np.random.default_rng(1)).solutions[0]
    b = search.solve(empty, limit=1, rng=np.random.default_rng(2)).solutions[0]
    a2 = search.solve(empty, limit=1, rng=np.random.default_rng(1)).solutions[0]
    assert codec.is_solution(a, empty) and codec.is_solution(b, empty)
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, a2)


def test_rejects_malformed_input() -> None:
    with pytest.raises(InvalidPuzzleError, match="81"):
        search.solve(CLASSIC[:-1])


def test_deadline_stops_a_search_undecided() -> None:
    import time

    cut = search.solve(HARD, limit=2, deadline=time.monotonic() - 1.0)  # already past
    assert not cut.complete and cut.solutions == [] and cut.first_nodes is None
    full = search.solve(HARD, limit=2, deadline=time.monotonic() + 60.0)
    assert full.complete and full.unique
    assert codec.to_string(full.solutions[0]) == HARD_SOLUTION


def test_first_nodes_counts_branches_to_the_first_solution() -> None:
    result = search.solve(HARD, limit=2)
    assert result.first_nodes is not None and 0 < result.first_nodes <= result.nodes
    assert search.solve(CLASSIC, limit=2).first_nodes == 0  # singles alone solve it
