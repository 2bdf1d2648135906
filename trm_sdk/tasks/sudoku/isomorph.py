"""Relabelled, permuted or transposed copies of a Sudoku: a fingerprint no such symmetry changes.

An exact copy of an evaluation puzzle is easy to keep out of training; a copy with its digits relabelled,
its rows, columns, bands or stacks permuted, or transposed, is the same puzzle to the network (views are
exactly these symmetries) and slips through a byte comparison. The fingerprint lists, for every given,
how many givens share its row, its column, its box, its band and its stack, how often its digit is given,
and how many givens of the same digit share its band and its stack; sorted, and the smaller of the
puzzle's and its transpose's. Copies always share it; two puzzles that share it are likely copies, not
proven ones (there is no exact isomorphism test here), so dropping them from training costs at most a
few puzzles that were not copies.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fingerprint", "twins"]

Fingerprint = tuple[tuple[int, ...], ...]


def _side(grid: np.ndarray) -> Fingerprint:
    given = grid > 0
    rows, cols = np.nonzero(given)
    per_digit = np.bincount(grid[given], minlength=10)
    cells = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        band, stack = slice(r // 3 * 3, r // 3 * 3 + 3), slice(c // 3 * 3, c // 3 * 3 + 3)
        same = grid == grid[r, c]
        cells.append(
            (
                int(given[r].sum()),
                int(given[:, c].sum()),
                int(given[band, stack].sum()),
                int(given[band].sum()),
                int(given[:, stack].sum()),
                int(per_digit[grid[r, c]]),
                int(same[band].sum()),
                int(same[:, stack].sum()),
            )
        )
    return tuple(sorted(cells))


def fingerprint(grid: np.ndarray) -> Fingerprint:
    """The same for every relabelled, permuted or transposed copy of a (9, 9) puzzle (0 blank)."""
    g = np.asarray(grid, np.int64).reshape(9, 9)
    return min(_side(g), _side(g.T))


def _coarse(puzzles: np.ndarray) -> list[tuple[int, ...]]:
    """Per puzzle, counts that every symmetry also leaves alone (its digits' counts, its boxes', and its
    rows' and columns', each sorted, rows and columns in the order the transpose cannot change), counted
    for all puzzles at once: only the few that match on them pay for a full fingerprint."""
    given = np.asarray(puzzles, np.int64).reshape(len(puzzles), 9, 9)
    digits = np.sort(np.stack([(given == d).sum(axis=(1, 2)) for d in range(1, 10)], axis=1), axis=1)
    filled = given > 0
    boxes = np.sort(filled.reshape(-1, 3, 3, 3, 3).sum(axis=(2, 4)).reshape(-1, 9), axis=1)
    rows, cols = np.sort(filled.sum(axis=2), axis=1).tolist(), np.sort(filled.sum(axis=1), axis=1).tolist()
    return [
        (*d, *b, *min(r + c, c + r))
        for d, b, r, c in zip(digits.tolist(), boxes.tolist(), rows, cols, strict=True)
    ]


def twins(puzzles: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(N,) bool: which of ``puzzles`` (N, 9, 9) share a fingerprint with one of ``others`` (M, 9, 9)."""
    out = np.zeros(len(puzzles), bool)
    if not len(puzzles) or not len(others):
        return out
    mine, theirs = _coarse(puzzles), _coarse(others)
    common = set(mine) & set(theirs)  # only these can share a fingerprint
    candidates = [i for i, key in enumerate(mine) if key in common]
    if candidates:
        prints = {fingerprint(others[j]) for j, key in enumerate(theirs) if key in common}
        out[candidates] = [fingerprint(puzzles[i]) in prints for i in candidates]
    return out
