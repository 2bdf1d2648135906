"""Fresh mazes with their shortest paths, so training never runs out of data.

Walls are drawn independently at a density near the percolation threshold of the square grid (Maze-Hard
mazes have 28-45% walls), where open regions are large but winding; S and G are then put far apart by a
double sweep (the farthest cell from a random open cell, then the farthest cell from that), and the
answer is a breadth-first shortest path. Smaller mazes sit in the top-left corner of the 30x30 frame
with padding around them, which the network sees as walls: a size curriculum for free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trm_sdk.tasks.maze import codec

__all__ = ["HARD_MIN_PATH", "LEVELS", "Level", "make_batch", "make_level", "make_maze"]

HARD_MIN_PATH = 100  # moves; Maze-Hard's shortest paths are 109-153, "hard" here starts a bit lower
_TRIES = 400  # wall layouts to try before a request is given up as impossible
_DENSITY = (0.28, 0.45)  # wall probability range by default: Maze-Hard's
_LONG_DENSITY = (0.33, 0.40)  # where long shortest paths are likeliest (measured: about 1 in 10 reach 100)


@dataclass(frozen=True)
class Level:
    """A difficulty level: maze side length range and the shortest S-to-G path it must have."""

    name: str
    min_size: int
    max_size: int
    min_path: int = 0  # moves; 0 = whatever the double sweep finds


LEVELS: dict[str, Level] = {
    "easy": Level("easy", 6, 12),
    "medium": Level("medium", 13, 22),
    "hard": Level("hard", 30, 30, HARD_MIN_PATH),
}


def make_maze(
    rng: np.random.Generator,
    size: int = codec.SIZE,
    *,
    density: float | None = None,
    min_path: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One maze of ``size`` x ``size`` in the 30x30 frame: (puzzle, answer) as (30, 30) int8 codes.

    ``density`` is the wall probability (default: uniform in 0.28-0.45, Maze-Hard's range, or 0.33-0.40
    when a long path is asked for); S and G are at least ``min_path`` moves apart.
    Raises ValueError if no such maze turns up in a few hundred tries.
    """
    if not 2 <= size <= codec.SIZE:
        raise ValueError(f"size must be 2..{codec.SIZE}, got {size}")
    if density is not None and not 0.0 <= density < 1.0:
        raise ValueError(f"density must be in [0, 1), got {density}")
    lo, hi = _LONG_DENSITY if min_path > 0 else _DENSITY
    for _ in range(_TRIES):
        p = float(rng.uniform(lo, hi)) if density is None else density
        cells = np.zeros((codec.SIZE, codec.SIZE), dtype=np.int8)
        cells[:size, :size] = np.where(rng.random((size, size)) < p, codec.WALL, codec.OPEN)
        open_cells = np.argwhere(cells == codec.OPEN)
        if len(open_cells) < 2:
            continue
        for _ in range(3):  # a start in a tiny pocket would make the sweep find a tiny maze: retry
            r, c = open_cells[rng.integers(len(open_cells))]
            first = codec.distances(cells, (int(r), int(c)))
            if (first >= 0).sum() >= 0.3 * len(open_cells):
                break
        a = _farthest(first, rng)
        from_a = codec.distances(cells, a)
        b = _farthest(from_a, rng)
        if from_a[b] < max(min_path, 1):
            continue
        s, g = (a, b) if rng.random() < 0.5 else (b, a)
        cells[s], cells[g] = codec.START, codec.GOAL
        path = codec.shortest_path(cells)
        assert path is not None and len(path) - 1 == from_a[b]  # the sweep found G from S
        return cells, codec.mark_path(cells, path)
    raise ValueError(f"no {size}x{size} maze with a path of {min_path}+ moves in {_TRIES} tries")


def _farthest(dist: np.ndarray, rng: np.random.Generator) -> tuple[int, int]:
    far = np.argwhere(dist == dist.max())
    r, c = far[rng.integers(len(far))]
    return int(r), int(c)


def make_level(rng: np.random.Generator, level: str | Level) -> tuple[np.ndarray, np.ndarray]:
    """One maze of a named level (``easy``, ``medium``, ``hard``) or a :class:`Level`."""
    lv = LEVELS[level] if isinstance(level, str) else level
    size = int(rng.integers(lv.min_size, lv.max_size + 1))
    return make_maze(rng, size, min_path=lv.min_path)


def make_batch(rng: np.random.Generator, n: int, level: str | Level) -> tuple[np.ndarray, np.ndarray]:
    """``n`` mazes of one level: (puzzles (n, 30, 30), answers (n, 30, 30)), int8 codes."""
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    if isinstance(level, str) and level not in LEVELS:
        raise ValueError(f"unknown maze level {level!r}; choose from {', '.join(LEVELS)}")
    out_p = np.zeros((n, codec.SIZE, codec.SIZE), np.int8)
    out_s = np.zeros((n, codec.SIZE, codec.SIZE), np.int8)
    for i in range(n):
        out_p[i], out_s[i] = make_level(rng, level)
    return out_p, out_s
