"""The maze training stream: generated mazes (small to 30x30, a size curriculum) and Maze-Hard's training
file, each drawn under a random one of the 8 dihedral maps.

The drawing, curriculum and resuming are :class:`~trm_sdk.train.data.CurriculumStream`'s, shared with
Sudoku; this module says what a maze source is. Hard 30x30 mazes cost about 20 ms each to generate on
one CPU core, hence the larger pools and smaller ``refresh`` than Sudoku's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from trm_sdk.tasks.maze import augment, codec, datasets, generate

from .data import CurriculumStream, Pair, StreamConfig, training_file

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


@dataclass
class MazeStreamConfig(StreamConfig):
    pool_size: int = 4096  # mazes kept per generated source
    refresh: float = 0.1  # fraction of each draw that is newly generated
    chunk_size: int = 8  # a hard maze takes ~20 ms to make: smaller units keep the workers' queue short


class MazeStream(CurriculumStream):
    curricula = CURRICULA
    without_files = "gen:hard"

    def _load_files(self, paths: tuple[str, ...]) -> Pair | None:
        puzzles, answers = [], []
        for path in paths:
            data = training_file(path, datasets)
            puzzles.append(data.puzzles)
            answers.append(data.solutions)
        return np.concatenate(puzzles), np.concatenate(answers)

    @staticmethod
    def generate_pairs(rng: np.random.Generator, source: str, count: int) -> Pair:
        if source == "gen:hard":
            return generate.make_batch(rng, count, "hard")
        lo, hi = (int(v) for v in source[4:].split("-"))
        return generate.make_batch(rng, count, generate.Level(source, lo, hi))

    def _augment_and_encode(self, puzzles: np.ndarray, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, s = augment.random_augment(puzzles, answers, self.rng)
        return codec.encode(p), codec.encode(s)

    # Answers are a deterministic function of the maze (codec.shortest_path), so only the mazes are
    # saved: half the size, and a 30x30 pool is still 3.7 MB per source.
    def _pools_state(self) -> dict[str, Any]:
        return {k: p.copy() for k, (p, _) in self.pools.items()}

    def _pools_from_state(self, pools: dict[str, Any]) -> dict[str, Pair]:
        return {k: (np.asarray(p), _answers(np.asarray(p))) for k, p in pools.items()}


def _answers(puzzles: np.ndarray) -> np.ndarray:
    out = np.empty_like(puzzles)
    for i, p in enumerate(puzzles):
        path = codec.shortest_path(p)
        assert path is not None  # every pooled maze was generated with a path
        out[i] = codec.mark_path(p, path)
    return out


def eval_set(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed generated evaluation set (question, answer tokens) spanning small to hard 30x30 mazes,
    from a seed the training stream never uses."""
    rng = np.random.default_rng(20_000_003 + seed)
    sizes = np.linspace(8, 30, n - n // 4).round().astype(int)
    pairs = [generate.make_maze(rng, int(k)) for k in sizes]
    pairs += [generate.make_level(rng, "hard") for _ in range(n // 4)]
    return codec.encode(np.stack([p for p, _ in pairs])), codec.encode(np.stack([s for _, s in pairs]))
