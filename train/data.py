"""The training data streams: generated and file-based puzzles, augmented, with an easy-to-hard curriculum.

The stream is deterministic given its seed, and its whole position (random state, pools, curriculum stage)
is a small picklable dict, so a training run that stops can resume on the very next puzzle.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trm_sdk.tasks.sudoku import augment, codec, datasets, generate

from .feed import ChunkFeed

log = logging.getLogger("trm_sdk.train")

# Each stage: source name -> weight. "gen:A-B" generates unique puzzles with A..B blanks, "gen:minimal"
# minimal puzzles, "files" draws from the training files given on the command line (if any).
CURRICULA: dict[str, list[dict[str, float]]] = {
    "easy-to-hard": [
        {"gen:8-30": 1.0},
        {"gen:20-40": 1.0},
        {"gen:30-48": 1.0},
        # From here on "gen:8-40" replays the earlier stages' puzzles: without it a CPU run that spent an
        # hour in the last stages fell from 100% to 79% on 10-blank puzzles while its hard-set accuracy rose.
        {"gen:40-54": 0.6, "gen:minimal": 0.3, "gen:8-40": 0.1},
        {"gen:45-56": 0.25, "gen:minimal": 0.35, "files": 0.3, "gen:8-40": 0.1},
        {"gen:minimal": 0.35, "files": 0.5, "gen:8-40": 0.15},
    ],
    "hard": [{"gen:minimal": 0.5, "files": 0.5}],
    "mixed": [{"gen:20-40": 0.25, "gen:40-54": 0.25, "gen:minimal": 0.25, "files": 0.25}],
}


@dataclass
class StreamConfig:
    seed: int = 0
    curriculum: str = "easy-to-hard"
    pool_size: int = 2048  # puzzles kept per generated source; each draw is a fresh augmentation of one
    refresh: float = 0.25  # fraction of each draw replaced by newly generated puzzles
    advance_at: float = 0.9  # exact accuracy over the recent window that moves the curriculum on
    advance_window: int = 2000  # finished puzzles that window covers
    stage_puzzles: int = 0  # finished puzzles after which a stage ends whatever the accuracy (0: never)
    files: tuple[str, ...] = ()
    workers: int = 0  # processes generating puzzles ahead (0: generate in this process when needed)
    chunk_size: int = 64  # generated puzzles per unit of work; part of what fixes the puzzle sequence


Pair = tuple[np.ndarray, np.ndarray]  # (puzzles, answers) in the task's canonical arrays


class CurriculumStream(ABC):
    """Pools of generated puzzles plus training files, mixed by curriculum stage, augmented, tokenised.

    Written once for every task: a task's stream names its curricula and says how to generate one
    source's puzzles, read its training files, augment and encode. Generating is the slow part, so each
    source keeps a pool and only a ``refresh`` fraction of every draw is new, and the new puzzles come
    from a :class:`~trm_sdk.train.feed.ChunkFeed` that worker processes fill ahead of time.
    """

    curricula: ClassVar[dict[str, list[dict[str, float]]]]
    without_files: ClassVar[str]  # the source a stage falls back to when no training files are given

    def __init__(self, cfg: StreamConfig) -> None:
        if cfg.curriculum not in self.curricula:
            choices = ", ".join(self.curricula)
            raise ValueError(f"unknown curriculum {cfg.curriculum!r}; choose from {choices}")
        self.cfg = cfg
        self.stages = self.curricula[cfg.curriculum]
        self.rng = np.random.default_rng(cfg.seed)
        self.stage = 0
        self.stage_seen = 0  # puzzles finished in this stage
        self.recent: list[float] = []  # exact-correct flags of recently finished puzzles
        self.pools: dict[str, Pair] = {}
        self.feed = ChunkFeed(type(self).generate_pairs, cfg.seed, cfg.chunk_size, cfg.workers)
        self.files = self._load_files(cfg.files) if cfg.files else None
        if self.files is None:
            self.stages = [
                {k: v for k, v in stage.items() if k != "files"} or {self.without_files: 1.0}
                for stage in self.stages
            ]

    # -- what each task supplies ----------------------------------------------------------------------------

    @abstractmethod
    def _load_files(self, paths: tuple[str, ...]) -> Pair | None:
        """The training files' pairs; refuses evaluation-only files."""

    @staticmethod
    @abstractmethod
    def generate_pairs(rng: np.random.Generator, source: str, count: int) -> Pair:
        """``count`` fresh pairs from a generated source ("gen:..."); runs in worker processes."""

    @abstractmethod
    def _augment_and_encode(self, puzzles: np.ndarray, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Random symmetries of the task, then (question tokens, answer tokens)."""

    def _pools_state(self) -> dict[str, Any]:
        return {k: (p.copy(), s.copy()) for k, (p, s) in self.pools.items()}

    def _pools_from_state(self, pools: dict[str, Any]) -> dict[str, Pair]:
        return {k: (np.asarray(p), np.asarray(s)) for k, (p, s) in pools.items()}

    # -- drawing -------------------------------------------------------------------------------------------

    def _draw(self, source: str, count: int) -> Pair:
        if source == "files":
            assert self.files is not None
            idx = self.rng.integers(0, len(self.files[0]), count)
            return self.files[0][idx], self.files[1][idx]
        pool = self.pools.get(source)
        if pool is None:
            pool = self.pools[source] = self.feed.take(source, min(self.cfg.pool_size, max(count, 64)))
        fresh = min(count, math.ceil(count * self.cfg.refresh))
        if fresh == 0:
            idx = self.rng.integers(0, len(pool[0]), count)
            return pool[0][idx], pool[1][idx]
        new_p, new_s = self.feed.take(source, fresh)
        if len(pool[0]) < self.cfg.pool_size:
            pool = self.pools[source] = (np.concatenate([pool[0], new_p]), np.concatenate([pool[1], new_s]))
        else:
            slots = self.rng.integers(0, len(pool[0]), fresh)
            pool[0][slots], pool[1][slots] = new_p, new_s
        idx = self.rng.integers(0, len(pool[0]), count - fresh)
        return np.concatenate([new_p, pool[0][idx]]), np.concatenate([new_s, pool[1][idx]])

    def next_batch(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """``count`` augmented (question tokens, answer tokens) pairs, each (count, seq_len) int64."""
        stage = self.stages[self.stage]
        names = list(stage)
        weights = np.array([stage[n] for n in names], dtype=np.float64)
        per_source = self.rng.multinomial(count, weights / weights.sum())
        puzzles, answers = [], []
        for name, k in zip(names, per_source, strict=True):
            if k:
                p, s = self._draw(name, int(k))
                puzzles.append(p)
                answers.append(s)
        order = self.rng.permutation(count)
        return self._augment_and_encode(np.concatenate(puzzles)[order], np.concatenate(answers)[order])

    # -- curriculum ----------------------------------------------------------------------------------------

    def report(self, exact: np.ndarray) -> bool:
        """Feed back which finished puzzles were solved exactly; returns True when the stage advanced."""
        self.recent.extend(float(v) for v in exact)
        del self.recent[: max(0, len(self.recent) - self.cfg.advance_window)]
        self.stage_seen += len(exact)
        full = len(self.recent) >= self.cfg.advance_window
        learned = full and np.mean(self.recent) >= self.cfg.advance_at
        # A short GPU window cannot wait for a stage that is learned slowly: a cap moves on regardless.
        spent = 0 < self.cfg.stage_puzzles <= self.stage_seen
        if (learned or spent) and self.stage + 1 < len(self.stages):
            self.stage += 1
            self.stage_seen = 0
            self.recent.clear()
            # Pools of sources the new stage no longer draws from would only bloat the checkpoint.
            self.pools = {k: v for k, v in self.pools.items() if k in self.stages[self.stage]}
            self.feed.forget(set(self.stages[self.stage]))
            return True
        return False

    def describe(self) -> str:
        stage = self.stages[self.stage]
        mix = ", ".join(f"{k} {v:.0%}" for k, v in stage.items())
        return f"stage {self.stage + 1}/{len(self.stages)} ({mix})"

    # -- resuming ------------------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "stage": self.stage,
            "stage_seen": self.stage_seen,
            "recent": list(self.recent),
            "pools": self._pools_state(),
            "feed": self.feed.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.stage = min(int(state["stage"]), len(self.stages) - 1)
        self.stage_seen = int(state.get("stage_seen", 0))
        self.recent = list(state["recent"])
        self.pools = self._pools_from_state(state["pools"])
        if "feed" in state:  # absent from checkpoints made before the feed: start its chunks afresh
            self.feed.load_state_dict(state["feed"])

    def close(self) -> None:
        """Stop the generating workers; the stream can still be drawn from (in this process)."""
        self.feed.close()


def training_file(path: str, task_datasets: Any) -> Any:
    """A training file via the task's ``datasets``; evaluation-only or unlabelled files are refused."""
    if task_datasets.is_eval_only(path):
        raise ValueError(f"{path} is marked evaluation-only (data SOURCES.md): it must never be trained on")
    data = task_datasets.load(path)
    if data.solutions is None:
        raise ValueError(f"{path} has no answers; training needs puzzle,answer pairs")
    return data


class SudokuStream(CurriculumStream):
    curricula = CURRICULA
    without_files = "gen:minimal"

    def _load_files(self, paths: tuple[str, ...]) -> Pair | None:
        puzzles: list[np.ndarray] = []
        solutions: list[np.ndarray] = []
        held_out = _eval_sets_near([Path(p) for p in paths])
        for path in paths:
            data = training_file(path, datasets)
            # Trainable sets can share puzzles with evaluation-only ones (131 of puzzles6 stand in
            # puzzles5): drop them, or the evaluation figures would be measured on training data.
            kept = datasets.without(data, *held_out)
            if len(kept) < len(data):
                log.info(
                    "%s: dropped %d puzzles that are in evaluation-only sets", path, len(data) - len(kept)
                )
            assert kept.solutions is not None  # training_file refused unlabelled files
            puzzles.append(kept.puzzles)
            solutions.append(kept.solutions)
        return np.concatenate(puzzles), np.concatenate(solutions)

    @staticmethod
    def generate_pairs(rng: np.random.Generator, source: str, count: int) -> Pair:
        out_p = np.empty((count, 9, 9), np.int8)
        out_s = np.empty((count, 9, 9), np.int8)
        for i in range(count):
            if source == "gen:minimal":
                p, s = generate.make_puzzle(rng, minimal=True)
            else:
                lo, hi = (int(v) for v in source[4:].split("-"))
                p, s = generate.make_puzzle(rng, blanks=int(rng.integers(lo, hi + 1)))
            out_p[i], out_s[i] = p, s
        return out_p, out_s

    def _augment_and_encode(self, puzzles: np.ndarray, answers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p, s = augment.random_augment(puzzles, answers, self.rng)
        return codec.encode(p), codec.encode(s)


def _eval_sets_near(paths: list[Path]) -> list[datasets.PuzzleSet]:
    """The evaluation-only Sudoku sets in the data trees that hold ``paths`` (and the default data dir).

    Loaded once for all training files, not once per file.
    """
    roots = {p for path in paths for p in path.resolve().parents if (p / "sudoku").is_dir()}
    default = datasets.default_data_dir()
    if default is not None:
        roots.add(default.resolve())
    files: set[Path] = set()
    for root in roots:
        for entry in datasets.EVAL_ONLY:
            if not entry.startswith("sudoku/"):
                continue
            target = root / entry
            if target.is_dir():
                files.update(target.glob("*.csv"))
            elif target.suffix == ".csv" and target.is_file():
                files.add(target)
    return [datasets.load(f) for f in sorted(files)]
