"""Futoshiki symmetries: the 8 of the square, each with or without reversing the digits, 16 in all.

Each turns a valid puzzle and its answer into another valid pair, so training sees every puzzle under
fresh ones and the solver's verified views (:mod:`trm_sdk.views`) can run a hard puzzle in several. The
signs sit in the token grid itself, so a symmetry is a permutation of the 81 positions plus a relabelling
of the tokens: a quarter turn or a transposition carries a sign between columns to a place between rows,
where '<' must be read as '^' or 'v' depending on which of its two cells lands on top. Reversing the
digits (d -> 6 - d) turns every inequality round. Rows and columns can not be shuffled as in Sudoku:
that would separate the cells a sign compares.
"""

from __future__ import annotations

import functools

import numpy as np

from . import codec

__all__ = ["COUNT", "symmetries"]

COUNT = 16  # 8 symmetries of the square x (digits as they are, digits reversed)
_TURNED = {codec.LT: codec.GT, codec.GT: codec.LT, codec.UP: codec.DOWN, codec.DOWN: codec.UP}


def _square(k: int) -> np.ndarray:
    """Symmetry ``k`` in 0..7 of the square as a (9, 9) map: view position (y, x) shows this original index.
    ``k % 4`` quarter turns counter-clockwise, then a transposition if k >= 4 (the Maze task's order)."""
    index = np.arange(codec.CELLS).reshape(codec.SIDE, codec.SIDE)
    out = np.rot90(index, k % 4)
    return out.T if k >= 4 else out


def _sign_tokens(view: np.ndarray) -> np.ndarray:
    """The token relabelling that goes with a map of the square: where each kind of sign ends up, and which
    way round, read off one sign of each kind (every sign of a kind moves the same way)."""
    where = {int(v): divmod(int(k), codec.SIDE) for k, v in enumerate(view.reshape(-1))}
    lut = np.arange(codec.VOCAB_SIZE)
    # (smaller, sign, larger) positions, in the original grid's flat indices, of '<' and of '^'.
    for smaller, sign, larger in ((0, 1, 2), (0, codec.SIDE, 2 * codec.SIDE)):
        (ya, xa), (yb, xb) = where[smaller], where[larger]
        if ya == yb:  # the pair now lies in a row
            shown = codec.LT if xa < xb else codec.GT
        else:
            shown = codec.UP if ya < yb else codec.DOWN
        token = codec.LT if sign == 1 else codec.UP
        lut[token] = shown
        lut[_TURNED[token]] = _TURNED[shown]
    return lut


@functools.cache
def _maps() -> tuple[np.ndarray, np.ndarray]:
    cells, tokens = [], []
    for reverse in (False, True):
        for k in range(8):
            view = _square(k)
            lut = _sign_tokens(view)
            if reverse:
                digits = np.arange(1 + codec.DIGIT_OFFSET, codec.SIZE + 1 + codec.DIGIT_OFFSET)
                lut[digits] = digits[::-1]
                lut = np.array([_TURNED.get(int(t), int(t)) for t in lut])
            cells.append(view.reshape(-1))
            tokens.append(lut)
    return np.array(cells, dtype=np.int64), np.array(tokens, dtype=np.int64)


def symmetries() -> tuple[np.ndarray, np.ndarray]:
    """(cells (16, 81), tokens (16, 12)) int64, the identity first, read as :class:`trm_sdk.views.Views`:
    view k shows original position ``cells[k, i]`` at position i, and original token t as ``tokens[k, t]``;
    so ``viewed = tokens[k][grid.reshape(81)[cells[k]]]``. Views 0-7 are the square's symmetries
    (:func:`_square`), views 8-15 the same with the digits reversed."""
    cells, tokens = _maps()
    return cells.copy(), tokens.copy()
