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

# The network defaults for a maze run: a local mixer (a 3x3 depthwise convolution over the grid, no
# prefix positions) instead of the paper's attention over 900 cells, which does not learn on two CPU
# cores. Narrow and shallow per application (hidden 64, SwiGLU expansion 2) because a shortest path needs
# many applications: a wavefront from S to G, then the trace back, one cell per convolution.
# T=1, n=4: 5 applications of the 2-block network, 10 cell-moves, per supervision step, all backpropagated.
# Anything here can still be overridden with --set.
MODEL_DEFAULTS: dict[str, Any] = {
    "vocab_size": codec.VOCAB_SIZE,
    "seq_len": codec.CELLS,
    "mixer": "conv",
    "n_prefix": 0,
    "hidden": 64,
    "expansion": 2.0,
    "multiple_of": 32,
    "T": 1,
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
    """The marked shortest path of each maze (``codec.shortest_path``'s, the rule the network learns):
    a pool's answers rebuilt from its saved mazes, or a turned maze's. A smaller square frame (B, k, k)
    is solved in the 30x30 frame and cut back."""
    k = puzzles.shape[-1]
    out = np.empty_like(puzzles)
    frame = np.zeros((codec.SIZE, codec.SIZE), np.int8)
    for i, p in enumerate(puzzles):
        frame[:k, :k] = p
        path = codec.shortest_path(frame)
        assert path is not None  # every pooled maze was generated with a path
        out[i] = codec.mark_path(frame, path)[:k, :k]
    return out


def frame(stage: dict[str, float]) -> int:
    """The side of the square that holds every maze a curriculum stage draws (a conv network trains on
    that corner of the 30x30 frame only): the largest side of its generated sources, 30 for the rest."""
    sides = [int(source.split("-")[1]) if source[4:5].isdigit() else codec.SIZE for source in stage]
    return max(sides, default=codec.SIZE)


def eval_set(seed: int, n: int) -> Pair:
    """A fixed generated evaluation set (question, answer tokens) spanning small to hard 30x30 mazes,
    from a seed the training stream never uses."""
    rng = np.random.default_rng(20_000_003 + seed)
    sizes = np.linspace(8, 30, n - n // 4).round().astype(int)
    pairs = [generate.make_maze(rng, int(k)) for k in sizes]
    pairs += [generate.make_level(rng, "hard") for _ in range(n // 4)]
    return codec.encode(np.stack([p for p, _ in pairs])), codec.encode(np.stack([s for _, s in pairs]))
