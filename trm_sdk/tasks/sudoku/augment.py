"""Sudoku symmetries: each turns a valid puzzle and its solution into another valid pair.

Training data is small next to the number of distinct grids, so every epoch sees each puzzle under a
fresh symmetry (TRM trains on 1,000 puzzles x 1,000 such variants). Every function works on any
(..., 9, 9) array, so the same call transforms one grid or a whole batch, and applying it to the
puzzle and its solution keeps the pair consistent. Blanks (0) stay blank.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...views import ViewStream

__all__ = [
    "permute_bands",
    "permute_cols_in_stack",
    "permute_digits",
    "permute_rows_in_band",
    "permute_stacks",
    "random_augment",
    "random_views",
    "rotate",
    "transpose",
]


def _order3(order: Sequence[int], what: str) -> list[int]:
    out = [int(k) for k in order]
    if sorted(out) != [0, 1, 2]:
        raise ValueError(f"{what} must be a permutation of 0, 1, 2, got {list(order)}")
    return out


def _grids(grids: np.ndarray) -> np.ndarray:
    g = np.asarray(grids)
    if g.ndim < 2 or g.shape[-2:] != (9, 9):
        raise ValueError(f"expected an array of shape (..., 9, 9), got {g.shape}")
    return g


def permute_digits(grids: np.ndarray, perm: Sequence[int] | np.ndarray) -> np.ndarray:
    """Relabel digits: digit d becomes ``perm[d - 1]``; ``perm`` is a permutation of 1..9."""
    g = _grids(grids)
    p = np.asarray(perm)
    if p.shape != (9,) or sorted(p.tolist()) != list(range(1, 10)):
        raise ValueError(f"perm must be a permutation of 1..9, got {p.tolist()}")
    if g.dtype.kind not in "iu" or (g.size and (g.min() < 0 or g.max() > 9)):
        raise ValueError("permute_digits expects integer grids holding 0 (blank) to 9")
    lut = np.concatenate([[0], p]).astype(g.dtype)  # blank maps to blank
    return lut[g]


def transpose(grids: np.ndarray) -> np.ndarray:
    """Mirror along the main diagonal: rows become columns."""
    return np.swapaxes(_grids(grids), -1, -2)


def rotate(grids: np.ndarray, k: int = 1) -> np.ndarray:
    """Rotate by ``k`` quarter turns counter-clockwise (k = 1, 2, 3 for 90, 180, 270 degrees)."""
    return np.rot90(_grids(grids), k, axes=(-2, -1))


def permute_bands(grids: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """Reorder the three bands (row blocks 1-3, 4-6, 7-9): new band j is old band ``order[j]``."""
    o = _order3(order, "order")
    rows = [3 * o[j] + i for j in range(3) for i in range(3)]
    return _grids(grids)[..., rows, :]


def permute_rows_in_band(grids: np.ndarray, band: int, order: Sequence[int]) -> np.ndarray:
    """Reorder the rows inside one band (0-2): its new row i is its old row ``order[i]``."""
    if band not in (0, 1, 2):
        raise ValueError(f"band must be 0, 1 or 2, got {band}")
    o = _order3(order, "order")
    rows = list(range(9))
    rows[3 * band : 3 * band + 3] = [3 * band + k for k in o]
    return _grids(grids)[..., rows, :]


def permute_stacks(grids: np.ndarray, order: Sequence[int]) -> np.ndarray:
    """Reorder the three stacks (column blocks): new stack j is old stack ``order[j]``."""
    return transpose(permute_bands(transpose(grids), order))


def permute_cols_in_stack(grids: np.ndarray, stack: int, order: Sequence[int]) -> np.ndarray:
    """Reorder the columns inside one stack (0-2): its new column i is its old column ``order[i]``."""
    return transpose(permute_rows_in_band(transpose(grids), stack, order))


def _random_lines(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 9) random line orders that keep Sudoku validity: bands shuffled, rows shuffled in each."""
    bands = rng.permuted(np.tile(np.arange(3), (n, 1)), axis=1)  # (n, 3)
    inner = rng.permuted(np.tile(np.arange(3), (n, 3, 1)), axis=2)  # (n, 3, 3): per band
    return (3 * bands[:, :, None] + inner).reshape(n, 9)


def random_augment(
    puzzles: np.ndarray, solutions: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply an independent random symmetry to each pair of a batch ((B, 9, 9) each).

    Each sample gets its own band/row order, stack/column order, transpose coin and digit
    relabelling, composed into one gather, so the batch is transformed without Python loops.
    Rotations and reflections are compositions of these, so the whole symmetry group is covered.
    """
    p, s = np.asarray(puzzles), np.asarray(solutions)
    if p.ndim != 3 or p.shape[1:] != (9, 9) or p.shape != s.shape:
        raise ValueError(
            f"expected puzzles and solutions of the same shape (B, 9, 9), got {p.shape} and {s.shape}"
        )
    if p.dtype.kind not in "iu" or s.dtype.kind not in "iu":
        raise ValueError(f"expected integer grids, got dtypes {p.dtype} and {s.dtype}")
    n = p.shape[0]
    rows, cols = _random_lines(rng, n), _random_lines(rng, n)  # (n, 9) each
    flip = np.asarray(rng.random(n) < 0.5)[:, None, None]
    # out[b, i, j] = g[b, rows[b, i], cols[b, j]], or the transpose of that where flip[b].
    r_idx = np.where(flip, rows[:, None, :], rows[:, :, None])  # (n, 9, 9)
    c_idx = np.where(flip, cols[:, :, None], cols[:, None, :])
    batch = np.arange(n)[:, None, None]
    lut = np.zeros((n, 10), dtype=np.int64)  # column 0 keeps blanks blank
    lut[:, 1:] = rng.permuted(np.tile(np.arange(1, 10), (n, 1)), axis=1)
    out_p = lut[batch, p[batch, r_idx, c_idx]].astype(p.dtype)
    out_s = lut[batch, s[batch, r_idx, c_idx]].astype(s.dtype)
    return out_p, out_s


def _stream_lines(stream: ViewStream) -> list[int]:
    """A line order that keeps Sudoku valid, from a view stream: the band order, then each band's rows."""
    bands = stream.permutation(3)
    return [3 * band + inner for band in bands for inner in stream.permutation(3)]


def random_views(stream: ViewStream, n: int, digit_offset: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``n`` distinct random symmetries, none the identity, as token-space maps for verified views:
    (cells (n, 81), tokens (n, 11)). View cell i shows original cell ``cells[k, i]``; original token t
    shows as ``tokens[k, t]``, which relabels the digit tokens and keeps pad and blank.

    Each view takes from ``stream``, in this order (the contract the browser runtime's sudoku.js keeps):
    the row order, the column order (each: a permutation of the bands, then one of the rows inside each
    band in the new band order), a transposition coin, and a permutation of the nine digits. The group
    has 9! x 2 x 6^8 elements, so repeats are rare; a repeat or the identity is drawn again.
    """
    cells: list[np.ndarray] = []
    tokens: list[np.ndarray] = []
    seen = {np.arange(81).tobytes() + np.arange(11).tobytes()}
    while len(cells) < n:
        rows, cols = np.array(_stream_lines(stream)), np.array(_stream_lines(stream))
        grid = rows[:, None] * 9 + cols[None, :]  # view (i, j) shows original (rows[i], cols[j])
        if stream.coin():
            grid = rows[None, :] * 9 + cols[:, None]  # transposed: (i, j) shows (rows[j], cols[i])
        lut = np.arange(11)
        lut[1 + digit_offset : 10 + digit_offset] = np.array(stream.permutation(9)) + 1 + digit_offset
        key = grid.tobytes() + lut.tobytes()
        if key not in seen:
            seen.add(key)
            cells.append(grid.ravel())
            tokens.append(lut)
    return np.array(cells, np.int64).reshape(n, 81), np.array(tokens, np.int64).reshape(n, 11)
