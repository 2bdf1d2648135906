"""Maze symmetries: the 8 rotations and reflections of the square, which keep every shortest path.

Maze-Hard trains on 1,000 mazes, so each draw shows a maze under a fresh one of these (TRM's recipe for
Maze). Every function works on any (..., 30, 30) array, so one call maps a maze and its answer alike.
"""

from __future__ import annotations

import numpy as np

from ...views import ViewStream

__all__ = ["N_MAPS", "dihedral", "inverse", "map_point", "random_augment", "random_views"]

N_MAPS = 8


def _grids(grids: np.ndarray) -> np.ndarray:
    g = np.asarray(grids)
    if g.ndim < 2 or g.shape[-1] != g.shape[-2]:
        raise ValueError(f"expected square grids of shape (..., N, N), got {g.shape}")
    return g


def dihedral(grids: np.ndarray, k: int) -> np.ndarray:
    """Map ``k`` in 0..7: rotate by ``k % 4`` quarter turns counter-clockwise, then transpose if k >= 4."""
    if not 0 <= k < N_MAPS:
        raise ValueError(f"k must be in 0..7, got {k}")
    out = np.rot90(_grids(grids), k % 4, axes=(-2, -1))
    return np.swapaxes(out, -1, -2) if k >= 4 else out


def inverse(k: int) -> int:
    """The map that undoes map ``k``: rotations invert to the opposite turn, reflections to themselves."""
    if not 0 <= k < N_MAPS:
        raise ValueError(f"k must be in 0..7, got {k}")
    return (4 - k) % 4 if k < 4 else k


def map_point(point: tuple[int, int], k: int, size: int) -> tuple[int, int]:
    """Where cell ``point`` of a ``size`` x ``size`` grid lands under map ``k`` (to carry a path along)."""
    probe = np.zeros((size, size), dtype=bool)
    probe[point] = True
    r, c = np.argwhere(dihedral(probe, k))[0]
    return int(r), int(c)


def random_augment(
    puzzles: np.ndarray, solutions: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Apply an independent random map of the eight to each pair of a batch ((B, N, N) each)."""
    p, s = _grids(puzzles), _grids(solutions)
    if p.ndim != 3 or p.shape != s.shape:
        raise ValueError(
            f"expected puzzles and solutions of the same shape (B, N, N), got {p.shape} and {s.shape}"
        )
    ks = rng.integers(0, N_MAPS, len(p))
    out_p, out_s = np.empty_like(p), np.empty_like(s)
    for k in range(N_MAPS):
        sel = ks == k
        if sel.any():
            out_p[sel], out_s[sel] = dihedral(p[sel], k), dihedral(s[sel], k)
    return out_p, out_s


def random_views(stream: ViewStream, n: int, size: int = 30) -> np.ndarray:
    """Up to 7 distinct maps other than the identity, in random order, as cell maps for verified views:
    (n, size * size), where view cell i shows original cell ``cells[k, i]``. The order is 1 + a
    permutation of 0..6 drawn from ``stream`` (the contract the browser runtime's maze.js keeps)."""
    if not 0 <= n < N_MAPS:
        raise ValueError(f"a maze has {N_MAPS - 1} views besides itself, not {n}")
    index = np.arange(size * size).reshape(size, size)
    order = [1 + k for k in stream.permutation(N_MAPS - 1)][:n]
    return np.stack([dihedral(index, k).ravel() for k in order]).reshape(n, size * size)
