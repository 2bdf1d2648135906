"""Exact Futoshiki search: constraint propagation plus depth-first branching, fast enough to generate with.

The generator proves a puzzle unique after every clue it removes, some 65 searches per puzzle, so the
search is written for pure-Python speed the way the Sudoku one is: the whole candidate state is ONE
125-bit integer, bit ``25 * d + i`` meaning "digit d + 1 is still possible in cell i" (cells row by row).
Placing a digit is one AND with a precomputed mask, copying a state for a branch is free, and each rule
is applied to every cell at once with a few shifts:

- one digit per cell, and each digit once per row and per column: saturating counts over windows of
  five bits find the naked and hidden singles, and the empty cells and rows that are dead ends;
- the signs: a cell larger than its neighbour keeps only digits above the neighbour's smallest
  candidate, and the smaller one only digits below the other's largest. An OR over the layers below (or
  above) each layer gives "has a candidate smaller than d" for every cell, and one shift moves that to
  the neighbour's layer d, for all signs of one direction at once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from . import codec

__all__ = ["Signs", "clues_of", "count_clues", "count_solutions", "search"]

_N = 25
_ALL = (1 << _N) - 1  # one bit per cell
_FULL = (1 << (5 * _N)) - 1  # every digit possible everywhere
_LAYERS = tuple(range(0, 5 * _N, _N))  # bit offset of each digit's 25-cell layer
_STACK = sum(1 << L for L in _LAYERS)  # one cell in every layer, relative to the cell
_ROW0 = 0b11111  # cells of one row, relative to the row's first cell
_COL0 = sum(1 << (5 * r) for r in range(5))
# Where a constraint's count lands after the window sums below: rows at the row's first cell, columns
# at the top cell, in every digit layer.
_ROW_FLAGS = sum(1 << (L + 5 * r) for L in _LAYERS for r in range(5))
_COL_FLAGS = sum(1 << (L + c) for L in _LAYERS for c in range(5))
# ``done`` packs three bit sets so a placement updates it with one OR: which (digit, row) and
# (digit, column) constraints are satisfied, at the positions of the flags above, and which cells are solved.
_COL_DONE = 5 * _N
_SOLVED = 10 * _N

Signs = tuple[int, int, int, int]
"""A puzzle's signs as four 25-bit cell masks, each bit at the left or upper cell of its pair:
``<`` (left smaller), ``>`` (left larger), ``^`` (upper smaller), ``v`` (upper larger)."""

_DELTAS = (1, -1, 5, -5)  # per kind of sign: the larger cell's index minus the smaller one's
_Rules = tuple[tuple[int, int, int, int, int], ...]
_State = tuple[int, int]  # (candidates, done)


def _tables() -> tuple[list[int], list[int]]:
    keep, done = [], []
    for d in range(5):
        for i in range(_N):
            r, c = divmod(i, 5)
            peers = {r * 5 + k for k in range(5)} | {k * 5 + c for k in range(5)}
            peers.discard(i)
            drop = sum(1 << (d * _N + j) for j in peers)  # the digit leaves the cell's row and column
            drop |= sum(1 << (e * _N + i) for e in range(5) if e != d)  # the cell keeps only the digit
            keep.append(_FULL & ~drop)
            done.append((1 << (d * _N + 5 * r)) | (1 << (_COL_DONE + d * _N + c)) | (1 << (_SOLVED + i)))
    return keep, done


# Indexed by place p = 25 * d + i (digit d + 1 in cell i): the candidate mask to AND in, the bits to OR
# into ``done``.
_KEEP, _DONE = _tables()


def _rules(signs: Sequence[int]) -> _Rules:
    """Per kind of sign present: (smaller cells, shift, not larger cells, larger cells, not smaller cells),
    each cell mask repeated in all five layers."""
    out = []
    for mask, delta in zip(signs, _DELTAS, strict=True):
        if not mask:
            continue
        small = mask if delta > 0 else mask << -delta
        large = small << delta if delta > 0 else small >> -delta
        s, g = small * _STACK, large * _STACK
        out.append((s, _N + delta, _FULL ^ g, g, _FULL ^ s))
    return tuple(out)


def _once(b: int, step: int, flags: int) -> int | None:
    """Saturating counts over windows of five bits ``step`` apart, read at ``flags``: the flags whose
    window holds exactly one candidate, or None if some window holds none (a dead end)."""
    x = b >> step
    o, t = b | x, b & x
    for x in (b >> 2 * step, b >> 3 * step, b >> 4 * step):
        t |= o & x
        o |= x
    if o & flags != flags:
        return None
    return flags & ~t


def _propagate(b: int, done: int, rules: _Rules) -> _State | None:
    """Apply the signs' bounds and the naked and hidden singles until nothing changes; None at a dead end."""
    while True:
        # The signs, to a fixed point (a chain a < b < c moves one link per pass). The prefix OR ``lo``
        # holds in layer d "some candidate <= d + 1"; shifted up one layer and across to the larger
        # cell it is what that cell may keep. ``hi`` is the same from above for the smaller cell.
        while rules:
            lo = b | (b << 25)
            lo |= (lo << 50) | (b << 100)
            hi = b | (b >> 25)
            hi |= (hi >> 50) | (b >> 100)
            nb = b
            for small, shift, not_large, large, not_small in rules:
                nb &= ((lo & small) << shift) | not_large
                nb &= ((hi & large) >> shift) | not_small
            if nb == b:
                break
            b = nb

        # One digit per cell (windows across the digit layers), each digit once per row (windows of
        # 5 cells across, the count landing at the row's first cell) and per column (5 cells down).
        naked = _once(b, _N, _ALL)
        hr = _once(b, 1, _ROW_FLAGS)
        hc = _once(b, 5, _COL_FLAGS)
        if naked is None or hr is None or hc is None:
            return None  # a cell with no candidate, or a digit with no place in a row or column
        naked &= ~(done >> _SOLVED)
        hr &= ~done
        hc &= ~(done >> _COL_DONE)

        if not (naked or hr or hc):
            return b, done

        # Place every single found: one AND, one OR each. A placement can kill another single of the
        # same pass; that shows up as a missing candidate here or an empty constraint next pass.
        # A naked single's mask is its cell's candidates across the digit layers; a hidden single's, its
        # row's or column's places in the digit's layer. The bit found is the one candidate to place.
        for singles, mask in ((naked, _STACK), (hr, _ROW0), (hc, _COL0)):
            while singles:
                low = singles & -singles
                singles ^= low
                q = low.bit_length() - 1
                w = (b >> q) & mask
                if not w:
                    return None
                p = q + w.bit_length() - 1
                b &= _KEEP[p]
                done |= _DONE[p]


def _branch_cell(b: int, done: int) -> int:
    """The unsolved cell with the fewest candidates (the first such, row by row)."""
    free = _ALL & ~(done >> _SOLVED)
    o = t = h = 0
    for L in _LAYERS:
        x = (b >> L) & free
        h |= t & x
        t |= o & x
        o |= x
    best = (t & ~h) or h or free  # two candidates, else three or more
    return (best & -best).bit_length() - 1


def _start(digits: list[int], forbid: int) -> _State | None:
    """The state with the givens placed (digits row by row, 0 = blank); None if two givens clash."""
    b, done = _FULL & ~forbid, 0
    for i, v in enumerate(digits):
        if v:
            p = (v - 1) * _N + i
            if not (b >> p) & 1:
                return None
            b &= _KEEP[p]
            done |= _DONE[p]
    return b, done


def _run(
    start: _State | None,
    rules: _Rules,
    limit: int,
    ranking: list[list[int]] | None = None,
    deadline: float | None = None,
) -> tuple[list[int], int, int | None, bool]:
    """Depth-first search: (solutions as states, nodes, nodes at the first solution, complete)."""
    found: list[int] = []
    nodes, first, complete = 0, None, True
    stack = [start] if start is not None else []
    while stack:
        state = _propagate(*stack.pop(), rules)
        if state is None:
            continue
        b, done = state
        if done >> _SOLVED == _ALL:
            found.append(b)
            if first is None:
                first = nodes
            if len(found) >= limit:
                break
            continue
        if deadline is not None and nodes % 64 == 0 and time.monotonic() >= deadline:
            complete = False
            break
        nodes += 1
        i = _branch_cell(b, done)
        w = (b >> i) & _STACK
        layers = []
        while w:
            low = w & -w
            w ^= low
            layers.append(low.bit_length() - 1)
        if ranking is not None:
            layers = [L for L in ranking[i] if (b >> (i + L)) & 1]
        for L in reversed(layers):  # the stack pops the first choice first
            p = i + L
            stack.append((b & _KEEP[p], done | _DONE[p]))
    return found, nodes, first, complete


# --------------------------------------------------------------------------------------------------
# grids <-> clues


def clues_of(grid: np.ndarray) -> tuple[list[int], Signs]:
    """A canonical (9, 9) grid -> (25 digits row by row, 0 = blank; its :data:`Signs`)."""
    g = np.asarray(grid)
    cells = g[0::2, 0::2].astype(np.int64) - codec.DIGIT_OFFSET
    digits = np.where((cells >= 1) & (cells <= codec.SIZE), cells, 0).reshape(_N).tolist()
    across = np.zeros((5, 5), dtype=np.int64)
    down = np.zeros((5, 5), dtype=np.int64)
    across[:, :4] = g[0::2, 1::2]
    down[:4, :] = g[1::2, 0::2]
    weights = 1 << np.arange(_N, dtype=np.int64)

    def mask(where: np.ndarray) -> int:
        return int(weights[where.reshape(_N)].sum())

    signs = (
        mask(across == codec.LT),
        mask(across == codec.GT),
        mask(down == codec.UP),
        mask(down == codec.DOWN),
    )
    return digits, signs


def count_clues(digits: list[int], signs: Sequence[int], limit: int = 2, forbid: int = 0) -> int:
    """Solutions of the puzzle given as clues (see :func:`clues_of`), counting stops at ``limit``.

    The generator's fast path: no grid to build or read. ``forbid`` clears candidate bits up front
    (bit ``25 * (d - 1) + i``: digit d in cell i), so "is there a solution other than the known one with
    this given removed?" is one search for a solution that avoids the known digit there.
    """
    found, _, _, _ = _run(_start(digits, forbid), _rules(signs), limit)
    return len(found)


def _answer(b: int, puzzle: np.ndarray) -> np.ndarray:
    out = np.array(puzzle, dtype=np.int8)
    cells = [((b >> i) & _STACK).bit_length() // _N + 1 + codec.DIGIT_OFFSET for i in range(_N)]
    out[0::2, 0::2] = np.array(cells, dtype=np.int8).reshape(5, 5)
    return out


# --------------------------------------------------------------------------------------------------
# public


def count_solutions(puzzle: object, limit: int = 2) -> int:
    """Number of solutions, counting stops at ``limit`` (so 2 means "two or more").

    A puzzle whose givens clash has zero solutions rather than an error, so counting stays total.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    return count_clues(*clues_of(codec.to_grid(puzzle)), limit=limit)


def _ranking(order: np.ndarray) -> list[list[int]]:
    """(9, 9, 12) or (81, 12) scores -> per cell, the digit layers likeliest first."""
    s = np.asarray(order, dtype=np.float64)
    if s.shape == (codec.CELLS, codec.VOCAB_SIZE):
        s = s.reshape(codec.SIDE, codec.SIDE, codec.VOCAB_SIZE)
    if s.shape != (codec.SIDE, codec.SIDE, codec.VOCAB_SIZE):
        raise ValueError(f"order must have shape (9, 9, 12) or (81, 12), got {np.shape(order)}")
    digit_scores = s[0::2, 0::2, 1 + codec.DIGIT_OFFSET : 1 + codec.DIGIT_OFFSET + 5].reshape(_N, 5)
    best_first = np.argsort(-digit_scores, axis=1, kind="stable")
    return (best_first * _N).tolist()


def search(
    puzzle: object, order: np.ndarray | None = None, time_limit: float | None = None
) -> tuple[np.ndarray | None, str, int]:
    """Solve ``puzzle`` exactly and look on for a second solution: (answer, status, nodes).

    ``status`` is "solved", "multiple_solutions" (``answer`` is the first found), "no_solution" or
    "search_timeout". ``order`` is a network's (9, 9, 12) logits or any scores of that shape: each cell
    tries its likelier digits first, so a good network's answer is found with few branch points.
    ``nodes`` counts branch points until the answer was found (all of them when none was). If the
    ``time_limit`` (seconds) cuts short the look for a second solution, the answer found stands.
    """
    grid = codec.to_grid(puzzle)
    digits, signs = clues_of(grid)
    ranking = _ranking(order) if order is not None else None
    deadline = None if time_limit is None else time.monotonic() + time_limit
    found, nodes, first, complete = _run(_start(digits, 0), _rules(signs), 2, ranking, deadline)
    if found:
        status = "multiple_solutions" if len(found) > 1 else "solved"
        return _answer(found[0], grid), status, first if first is not None else nodes
    return None, "no_solution" if complete else "search_timeout", nodes
