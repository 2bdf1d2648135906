"""Fresh 5x5 Futoshiki puzzles with proven-unique solutions, so training never runs out of data.

A puzzle starts from a uniformly random Latin square with every clue it can carry: all 25 digits and
the true sign between every two neighbours (40 signs). Clues are then removed in random order, each
removal kept only while the solution stays unique. One pass is enough for a minimal puzzle: a clue that
could not go when it was tried cannot go later either, since later removals only leave more solutions.

Levels differ by how many of the removed clues are put back, chosen at random among them (signs and
digits alike, in the proportion they were removed, which is mostly signs): every clue put back is one
more fact to start from, so fewer branch points and shorter chains of reasoning.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from . import codec
from .solve import Signs, count_clues, count_solutions

__all__ = ["LEVELS", "PUT_BACK", "make", "make_batch", "random_square"]

LEVELS = ("easy", "medium", "hard")  # easiest first
PUT_BACK = {"easy": 10, "medium": 4, "hard": 0}  # removed clues restored to a minimal puzzle, per level

_N = 25
_SIGN_TOKENS = (codec.LT, codec.GT, codec.UP, codec.DOWN)  # in the order of solve.Signs


@functools.cache
def _reduced_squares() -> np.ndarray:
    """The 56 reduced 5x5 Latin squares (first row and column 0..4), found once by backtracking."""
    grid = [[c if r == 0 else (r if c == 0 else -1) for c in range(5)] for r in range(5)]
    free = [(r, c) for r in range(1, 5) for c in range(1, 5)]
    found: list[list[list[int]]] = []

    def fill(k: int) -> None:
        if k == len(free):
            found.append([row[:] for row in grid])
            return
        r, c = free[k]
        for v in range(5):
            if v not in grid[r] and all(grid[j][c] != v for j in range(5)):
                grid[r][c] = v
                fill(k + 1)
                grid[r][c] = -1

    fill(0)
    return np.array(found, dtype=np.int8)


def random_square(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 5x5 Latin square, (5, 5) int8 digits 1..5.

    A random reduced square with its rows and its columns shuffled: each of the 161,280 squares arises
    from exactly 5 (reduced square, row order, column order) triples (one per choice of the row put on
    top), so all are equally likely, which neither a shuffled cyclic square nor a randomised
    backtracking fill gives.
    """
    squares = _reduced_squares()
    square = squares[rng.integers(len(squares))]
    return (square[rng.permutation(5)][:, rng.permutation(5)] + 1).astype(np.int8)


def _all_signs(square: np.ndarray) -> Signs:
    """The true sign between every two neighbours of a filled square, as solve.Signs masks."""
    s = square.astype(np.int64)
    weights = 1 << np.arange(_N, dtype=np.int64).reshape(5, 5)
    less_across = s[:, :-1] < s[:, 1:]
    less_down = s[:-1, :] < s[1:, :]
    return (
        int(weights[:, :-1][less_across].sum()),
        int(weights[:, :-1][~less_across].sum()),
        int(weights[:-1, :][less_down].sum()),
        int(weights[:-1, :][~less_down].sum()),
    )


def _grid(digits: list[int], signs: Sequence[int]) -> np.ndarray:
    """Clues -> the canonical (9, 9) token grid."""
    grid = np.full((codec.SIDE, codec.SIDE), codec.NONE, dtype=np.int8)
    d = np.array(digits, dtype=np.int8).reshape(5, 5)
    grid[0::2, 0::2] = np.where(d > 0, d + codec.DIGIT_OFFSET, codec.BLANK)
    for kind, (mask, token) in enumerate(zip(signs, _SIGN_TOKENS, strict=True)):
        for i in range(_N):
            if mask >> i & 1:
                r, c = divmod(i, 5)
                if kind < 2:
                    grid[2 * r, 2 * c + 1] = token
                else:
                    grid[2 * r + 1, 2 * c] = token
    return grid


def _minimal(
    rng: np.random.Generator, square: np.ndarray
) -> tuple[list[int], list[int], list[tuple[int, int]]]:
    """Remove clues of the full set in random order while the answer stays unique.

    Returns (digits, signs, removed): the minimal puzzle's clues, and the removed clues in removal order
    as (kind, index) with kind -1 for a digit in cell ``index`` and 0..3 for a sign of that kind at ``index``.
    """
    answer = square.reshape(_N).tolist()
    digits = list(answer)
    signs = list(_all_signs(square))
    clues = [(-1, i) for i in range(_N)] + [(k, i) for k in range(4) for i in range(_N) if signs[k] >> i & 1]
    removed: list[tuple[int, int]] = []
    for j in rng.permutation(len(clues)).tolist():
        kind, i = clues[j]
        # With this clue the answer was the only solution, so any other solution breaks the clue: look for
        # one with the digit forbidden there, or with the sign turned round.
        if kind < 0:
            digits[i] = 0
            if count_clues(digits, signs, 1, 1 << (_N * (answer[i] - 1) + i)):
                digits[i] = answer[i]
                continue
        else:
            bit = 1 << i
            signs[kind] ^= bit
            turned = list(signs)
            turned[kind ^ 1] |= bit  # < and >, ^ and v are kinds 0, 1 and 2, 3
            if count_clues(digits, turned, 1):
                signs[kind] |= bit
                continue
        removed.append((kind, i))
    return digits, signs, removed


def make(rng: np.random.Generator, level: str) -> tuple[np.ndarray, np.ndarray]:
    """A (puzzle, answer) pair of canonical (9, 9) int8 grids, the puzzle's solution proven unique.

    "hard" is clue-minimal: no digit and no sign can be removed without a second solution. "medium" and
    "easy" put back 4 and 10 of the clues removed on the way there (:data:`PUT_BACK`).
    """
    if level not in PUT_BACK:
        raise ValueError(f"unknown level {level!r}; choose one of {', '.join(LEVELS)}")
    square = random_square(rng)
    digits, signs, removed = _minimal(rng, square)
    back = min(PUT_BACK[level], len(removed))
    for j in rng.choice(len(removed), size=back, replace=False).tolist():
        kind, i = removed[j]
        if kind < 0:
            digits[i] = int(square.flat[i])
        else:
            signs[kind] |= 1 << i
    puzzle = _grid(digits, signs)
    answer = puzzle.copy()  # an answer keeps the puzzle's signs, and fills in every cell
    answer[0::2, 0::2] = square + codec.DIGIT_OFFSET
    if count_solutions(puzzle) != 1:  # proven during removal; a cheap second proof by the public path
        raise RuntimeError("internal error: a generated Futoshiki does not have exactly one solution")
    return puzzle, answer


def make_batch(rng: np.random.Generator, count: int, level: str) -> tuple[np.ndarray, np.ndarray]:
    """``count`` puzzles of one level: (puzzles (count, 9, 9), answers (count, 9, 9)), int8."""
    if count < 0:
        raise ValueError(f"count must be non-negative, got {count}")
    shape = (0, codec.SIDE, codec.SIDE)
    pairs = [make(rng, level) for _ in range(count)]
    if not pairs:
        return np.zeros(shape, np.int8), np.zeros(shape, np.int8)
    puzzles, answers = zip(*pairs, strict=True)
    return np.stack(puzzles), np.stack(answers)
