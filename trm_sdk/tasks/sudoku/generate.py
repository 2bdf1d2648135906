"""Fresh Sudoku puzzles with proven-unique solutions, so training never runs out of data.

Generated puzzles are the one source that may be used for anything (the shared data files are mostly
evaluation-only), and generating them on the fly means a model never sees the same puzzle twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trm_sdk.tasks.sudoku import search

__all__ = ["LEVELS", "Level", "make_batch", "make_level", "make_puzzle", "random_grid"]

_LEVEL_TRIES = 20  # fresh grids to try before a level's blank range is given up on


@dataclass(frozen=True)
class Level:
    """A difficulty level, defined by how many cells are blank (more blanks, harder on average)."""

    name: str
    min_blanks: int = 0
    max_blanks: int = 0
    minimal: bool = False  # ignore the range: remove givens until none can go


LEVELS: dict[str, Level] = {
    "easy": Level("easy", 30, 40),
    "medium": Level("medium", 41, 50),
    "hard": Level("hard", 51, 56),
    "minimal": Level("minimal", minimal=True),  # typically 22-26 clues (55-59 blanks)
}


def random_grid(rng: np.random.Generator) -> np.ndarray:
    """A random complete valid grid.

    The three diagonal boxes share no row, column or box, so each is an independent random
    permutation; a search with digits tried in random order fills in the rest. Not exactly uniform
    over all grids, but every grid is reachable, unlike relabelling one fixed grid, and seeding the
    diagonal makes it several times faster than searching from an empty grid.
    """
    while True:
        seed = np.zeros((9, 9), dtype=np.int8)
        for k in range(3):
            seed[3 * k : 3 * k + 3, 3 * k : 3 * k + 3] = (rng.permutation(9) + 1).reshape(3, 3)
        found = search.solve(seed, limit=1, rng=rng).solutions
        if found:  # every diagonal seed seen so far completes; the loop is only a safeguard
            return found[0]


def _unique_without(puzzle: np.ndarray, solution: np.ndarray, cell: int) -> bool:
    """Does ``puzzle`` (unique before ``cell`` was blanked) still have only ``solution``?

    Any second solution must differ from the known one at the cell just blanked, so forbidding the
    known digit there and asking for one solution answers it without re-finding the known one.
    """
    r, c = divmod(cell, 9)
    return not search.solve(puzzle, limit=1, forbid=[(r, c, int(solution[r, c]))]).solutions


def _carve(rng: np.random.Generator, solution: np.ndarray, blanks: int | None) -> np.ndarray:
    puzzle = solution.copy()
    flat = puzzle.reshape(81)  # a view: edits show in ``puzzle``
    removed = 0
    for cell in rng.permutation(81).tolist():
        if blanks is not None and removed >= blanks:
            break
        digit = flat[cell]
        flat[cell] = 0
        # Fewer than 4 blanks can never allow a second solution (the smallest ambiguity is a
        # 4-cell rectangle), so those removals need no check.
        if removed < 3 or _unique_without(puzzle, solution, cell):
            removed += 1
        else:
            flat[cell] = digit
    return puzzle


def make_puzzle(
    rng: np.random.Generator, blanks: int | None = None, minimal: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """A (puzzle, solution) pair, both (9, 9) int8, with the puzzle's solution proven unique.

    Givens are removed in random order, skipping any whose removal would allow a second solution,
    until ``blanks`` cells are blank. If uniqueness blocks that first, the puzzle returned is the one
    reached (it is then minimal). ``minimal=True`` (or ``blanks=None``) removes until no given can
    go: a minimal puzzle, where removing any single given allows a second solution.
    """
    if minimal and blanks is not None:
        raise ValueError("pass either blanks or minimal=True, not both")
    if blanks is not None and not 0 <= blanks <= 81:
        raise ValueError(f"blanks must be between 0 and 81, got {blanks}")
    solution = random_grid(rng)
    return _carve(rng, solution, blanks), solution


def _level(level: str | Level) -> Level:
    if isinstance(level, Level):
        return level
    try:
        return LEVELS[level]
    except KeyError:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}") from None


def make_level(rng: np.random.Generator, level: str | Level) -> tuple[np.ndarray, np.ndarray]:
    """A (puzzle, solution) pair whose blank count lies in ``level``'s range.

    The target is drawn uniformly from the range. When a removal order gets stuck short of it (rare
    below 55 blanks), a fresh grid is tried, so callers can rely on the range; after
    ``_LEVEL_TRIES`` misses the closest puzzle found is returned.
    """
    lv = _level(level)
    if lv.minimal:
        return make_puzzle(rng, minimal=True)
    if not 0 <= lv.min_blanks <= lv.max_blanks <= 81:
        raise ValueError(f"level {lv.name!r} has an invalid blank range {lv.min_blanks}-{lv.max_blanks}")
    target = int(rng.integers(lv.min_blanks, lv.max_blanks + 1))
    best: tuple[np.ndarray, np.ndarray] | None = None
    for _ in range(_LEVEL_TRIES):
        puzzle, solution = make_puzzle(rng, blanks=target)
        if int((puzzle == 0).sum()) >= lv.min_blanks:
            return puzzle, solution
        if best is None or (puzzle == 0).sum() > (best[0] == 0).sum():
            best = (puzzle, solution)
    assert best is not None
    return best


def make_batch(rng: np.random.Generator, n: int, level: str | Level) -> tuple[np.ndarray, np.ndarray]:
    """``n`` puzzles of one level: (puzzles (n, 9, 9), solutions (n, 9, 9)), int8."""
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    pairs = [make_level(rng, level) for _ in range(n)]
    if not pairs:
        return np.zeros((0, 9, 9), np.int8), np.zeros((0, 9, 9), np.int8)
    puzzles, solutions = zip(*pairs, strict=True)
    return np.stack(puzzles), np.stack(solutions)
