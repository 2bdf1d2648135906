"""What training needs to know about mazes: the network they want, a size curriculum from small mazes to
hard 30x30 ones, the generated sources, and a compact form of the stream's pools.

Numpy only, like the rest of the task: the training stream (:mod:`trm_sdk.train.data`) reaches all of this
through :class:`~trm_sdk.tasks.maze.task.MazeTask`, and its worker processes import this module to
generate mazes without PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..base import Pair
from . import codec, generate

# The network defaults for a maze run: TRM-Att as in the paper (self-attention with RoPE, T=3, n=4) on
# 900 cells with the 6-token vocabulary; anything here can still be overridden with --set.
MODEL_DEFAULTS: dict[str, Any] = {
    "vocab_size": codec.VOCAB_SIZE,
    "seq_len": codec.CELLS,
    "mixer": "attention",
    "T": 3,
    "n": 4,
}

# Each stage: source -> weight. "gen:A-B" generates mazes of side A..B (padded to 30x30), "gen:hard"
# 30x30 mazes with shortest paths of generate.HARD_MIN_PATH+ moves, "files" the --data training files.
CURRICULA: dict[str, list[dict[str, float]]] = {
    "easy-to-hard": [
        {"gen:6-12": 1.0},
        {"gen:10-18": 1.0},
        {"gen:16-24": 1.0},
        {"gen:22-30": 0.7, "gen:hard": 0.3},
        {"gen:30-30": 0.3, "gen:hard": 0.4, "files": 0.3},
        {"gen:hard": 0.4, "files": 0.6},
    ],
    "hard": [{"gen:hard": 0.5, "files": 0.5}],
    "mixed": [{"gen:6-18": 0.25, "gen:18-30": 0.25, "gen:hard": 0.25, "files": 0.25}],
}
WITHOUT_FILES = "gen:hard"

# A hard 30x30 maze costs about 20 ms to generate on one core: larger pools and a smaller fresh share of
# each draw than Sudoku's, and smaller units of work to keep the workers' queue short.
STREAM_TUNING: dict[str, Any] = {"pool_size": 4096, "refresh": 0.1, "chunk_size": 8}


def generate_pairs(rng: np.random.Generator, source: str, count: int) -> Pair:
    """``count`` fresh (maze, answer) pairs of a generated source, "gen:hard" or "gen:A-B" (sides)."""
    if source == "gen:hard":
        return generate.make_batch(rng, count, "hard")
    lo, hi = (int(v) for v in source[4:].split("-"))
    return generate.make_batch(rng, count, generate.Level(source, lo, hi))


def answers(puzzles: np.ndarray) -> np.ndarray:
    """The marked shortest path of each maze: a pool's answers, rebuilt from its saved mazes."""
    out = np.empty_like(puzzles)
    for i, p in enumerate(puzzles):
        path = codec.shortest_path(p)
        assert path is not None  # every pooled maze was generated with a path
        out[i] = codec.mark_path(p, path)
    return out


def eval_set(seed: int, n: int) -> Pair:
    """A fixed generated evaluation set (question, answer tokens) spanning small to hard 30x30 mazes,
    from a seed the training stream never uses."""
    rng = np.random.default_rng(20_000_003 + seed)
    sizes = np.linspace(8, 30, n - n // 4).round().astype(int)
    pairs = [generate.make_maze(rng, int(k)) for k in sizes]
    pairs += [generate.make_level(rng, "hard") for _ in range(n // 4)]
    return codec.encode(np.stack([p for p, _ in pairs])), codec.encode(np.stack([s for _, s in pairs]))
