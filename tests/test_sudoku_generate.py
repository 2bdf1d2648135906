"""The generator: full grids are valid and varied, puzzles are unique, minimal ones are minimal."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk.tasks.sudoku import codec, generate, search

EMPTY = np.zeros((9, 9), dtype=np.int8)


def normalise(grid: np.ndarray) -> bytes:
    """Relabel digits so the first row reads 1..9: grids equal up to relabelling become equal."""
    lut = np.zeros(10, dtype=np.int8)
    lut[grid[0]] = np.arange(1, 10)
    return lut[grid].tobytes()


def rectangles(grid: np.ndarray) -> int:
    """Pairs of rows and columns whose four cells read ``a b / b a``.

    Unchanged by every Sudoku symmetry (relabelling, line and block shuffles, transposition), so
    two grids with different counts cannot be transforms of one another.
    """
    g = grid.astype(np.int64)
    same = (g[:, None, :, None] == g[None, :, None, :]) & (g[:, None, None, :] == g[None, :, :, None])
    return int(same.sum())


def check_pair(puzzle: np.ndarray, solution: np.ndarray) -> None:
    assert puzzle.shape == solution.shape == (9, 9)
    assert puzzle.dtype == solution.dtype == np.int8
    assert codec.is_solution(solution, puzzle)
    assert codec.conflicts(puzzle) == []
    found = search.solve(puzzle, limit=2).solutions
    assert len(found) == 1, "puzzle must have exactly one solution"
    np.testing.assert_array_equal(found[0], solution)


def test_random_grid_is_valid_and_varied() -> None:
    rng = np.random.default_rng(0)
    grids = [generate.random_grid(rng) for _ in range(12)]
    for grid in grids:
        assert grid.dtype == np.int8 and grid.shape == (9, 9)
        assert codec.is_solution(grid, EMPTY)
    assert len({g.tobytes() for g in grids}) == 12
    # Not one grid relabelled: distinct even after normalising the digit names away ...
    assert len({normalise(g) for g in grids}) == 12
    # ... nor one grid under any symmetry: an invariant of the whole symmetry group varies.
    assert len({rectangles(g) for g in grids}) >= 3


def test_seeded_generation_is_reproducible() -> None:
    a = generate.make_puzzle(np.random.default_rng(7), blanks=45)
    b = generate.make_puzzle(np.random.default_rng(7), blanks=45)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = generate.make_puzzle(np.random.default_rng(8), blanks=45)
    assert not np.array_equal(a[1], c[1])


@pytest.mark.parametrize("blanks", [0, 1, 20, 45, 52])
def test_make_puzzle_with_blank_count(blanks: int) -> None:
    puzzle, solution = generate.make_puzzle(np.random.default_rng(blanks), blanks=blanks)
    assert int((puzzle == 0).sum()) == blanks
    check_pair(puzzle, solution)
    givens = puzzle > 0
    np.testing.assert_array_equal(puzzle[givens], solution[givens])


def test_minimal_puzzles_are_minimal() -> None:
    rng = np.random.default_rng(3)
    for _ in range(2):
        puzzle, solution = generate.make_puzzle(rng, minimal=True)
        check_pair(puzzle, solution)
        clues = int((puzzle > 0).sum())
        assert 17 <= clues <= 32
        for r, c in zip(*np.nonzero(puzzle), strict=True):
            weaker = puzzle.copy()
            weaker[r, c] = 0
            assert search.count_solutions(weaker, limit=2) == 2, f"r{r + 1}c{c + 1} was removable"


def test_unreachable_blank_count_returns_what_was_reached() -> None:
    puzzle, solution = generate.make_puzzle(np.random.default_rng(5), blanks=81)
    blanks = int((puzzle == 0).sum())
    assert 50 <= blanks < 81  # no unique puzzle has fewer than 17 clues
    check_pair(puzzle, solution)


def test_make_puzzle_argument_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="either"):
        generate.make_puzzle(rng, blanks=40, minimal=True)
    with pytest.raises(ValueError, match="blanks"):
        generate.make_puzzle(rng, blanks=82)
    with pytest.raises(ValueError, match="blanks"):
        generate.make_puzzle(rng, blanks=-1)


def test_levels() -> None:
    assert {"easy", "medium", "hard", "minimal"} <= set(generate.LEVELS)
    assert generate.LEVELS["minimal"].minimal
    rng = np.random.default_rng(11)
    for name in ("easy", "medium", "hard"):
        level = generate.LEVELS[name]
        assert level.min_blanks <= level.max_blanks
        for _ in range(2):
            puzzle, solution = generate.make_level(rng, name)
            assert level.min_blanks <= int((puzzle == 0).sum()) <= level.max_blanks
            check_pair(puzzle, solution)
    custom = generate.Level("custom", 10, 10)
    assert int((generate.make_level(rng, custom)[0] == 0).sum()) == 10
    with pytest.raises(ValueError, match="easy"):
        generate.make_level(rng, "impossible")


def test_make_batch() -> None:
    puzzles, solutions = generate.make_batch(np.random.default_rng(2), 6, "medium")
    assert puzzles.shape == solutions.shape == (6, 9, 9)
    assert puzzles.dtype == solutions.dtype == np.int8
    assert codec.are_solutions(solutions, puzzles).all()
    blanks = (puzzles == 0).sum(axis=(1, 2))
    assert ((blanks >= 41) & (blanks <= 50)).all()
    assert len({p.tobytes() for p in puzzles}) == 6
    for p, s in zip(puzzles, solutions, strict=True):
        np.testing.assert_array_equal(search.solution(p), s)
    empty_p, empty_s = generate.make_batch(np.random.default_rng(2), 0, "easy")
    assert empty_p.shape == empty_s.shape == (0, 9, 9)
    minimal, _ = generate.make_batch(np.random.default_rng(4), 2, "minimal")
    assert minimal.shape == (2, 9, 9)
