"""The training data stream: generated and file-based puzzles, augmented, with an easy-to-hard curriculum.

Written once for every task: the task (:class:`trm_sdk.tasks.Task`) names its curricula and says how to
generate a source's puzzles, read its training files, augment and encode; this module draws, mixes and
remembers. The stream is deterministic given its seed, and its whole position (random state, pools,
curriculum stage) is a small picklable dict, so a training run that stops can resume on the very next
puzzle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from trm_sdk.tasks import Task
from trm_sdk.tasks.base import Pair

from .feed import ChunkFeed


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
    frames: bool = False  # draw each stage in the task's smaller frame (Task.frame): a conv network only

    @classmethod
    def for_task(cls, task: Task, **values: Any) -> StreamConfig:
        """The task's tuning (``Task.stream_tuning``: pool size, refresh, chunk size) under ``values``."""
        return cls(**{**task.stream_tuning, **values})


class CurriculumStream:
    """Pools of generated puzzles plus training files, mixed by curriculum stage, augmented, tokenised.

    Generating is the slow part, so each source keeps a pool and only a ``refresh`` fraction of every
    draw is new, and the new puzzles come from a :class:`~trm_sdk.train.feed.ChunkFeed` that worker
    processes fill ahead of time.
    """

    def __init__(self, task: Task, cfg: StreamConfig) -> None:
        if cfg.curriculum not in task.curricula:
            choices = ", ".join(task.curricula)
            raise ValueError(f"unknown curriculum {cfg.curriculum!r}; choose from {choices}")
        self.task = task
        self.cfg = cfg
        self.stages = task.curricula[cfg.curriculum]
        self.rng = np.random.default_rng(cfg.seed)
        self.stage = 0
        self.stage_seen = 0  # puzzles finished in this stage
        self.recent: list[float] = []  # exact-correct flags of recently finished puzzles
        self.pools: dict[str, Pair] = {}
        self.feed = ChunkFeed(task.generate_pairs, cfg.seed, cfg.chunk_size, cfg.workers)
        self.files = task.training_pairs(cfg.files) if cfg.files else None
        if self.files is None:
            self.stages = [
                {k: v for k, v in stage.items() if k != "files"} or {task.without_files: 1.0}
                for stage in self.stages
            ]

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
        p, s = np.concatenate(puzzles)[order], np.concatenate(answers)[order]
        side = self.frame()
        if side is not None:
            p, s = p[:, :side, :side], s[:, :side, :side]  # before augmenting: a turn moves the corner
        return self.task.training_tokens(p, s, self.rng)

    def frame(self) -> int | None:
        """The side of the square this stage's puzzles are drawn in, or None for the task's full grid."""
        return self.task.frame(self.stages[self.stage]) if self.cfg.frames else None

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
            "pools": {k: self.task.pool_state(p, s) for k, (p, s) in self.pools.items()},
            "feed": self.feed.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.stage = min(int(state["stage"]), len(self.stages) - 1)
        self.stage_seen = int(state.get("stage_seen", 0))
        self.recent = list(state["recent"])
        self.pools = {k: self.task.pool_from_state(v) for k, v in state["pools"].items()}
        if "feed" in state:  # absent from checkpoints made before the feed: start its chunks afresh
            self.feed.load_state_dict(state["feed"])

    def close(self) -> None:
        """Stop the generating workers; the stream can still be drawn from (in this process)."""
        self.feed.close()
