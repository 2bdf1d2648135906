"""What training needs to know about Sudoku: its curricula, its generated sources, and which files' puzzles
it must never see.

Numpy only, like the rest of the task: the training stream (:mod:`trm_sdk.train.data`) reaches all of this
through :class:`~trm_sdk.tasks.sudoku.task.SudokuTask`, and its worker processes import this module to
generate puzzles without PyTorch.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..base import Pair, PuzzleFile
from . import codec, datasets, generate

log = logging.getLogger("trm_sdk.train")  # a training message: it belongs in the training run's log

# The network's defaults (TRMConfig) are Sudoku's TRM-MLP already.
MODEL_DEFAULTS: dict[str, Any] = {}

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
WITHOUT_FILES = "gen:minimal"

# A puzzle costs milliseconds to make (a minimal one about 13 ms): a pool of 2048 per source, a quarter of
# each draw fresh, 64 puzzles per unit of a worker's work.
STREAM_TUNING: dict[str, Any] = {"pool_size": 2048, "refresh": 0.25, "chunk_size": 64}


def generate_pairs(rng: np.random.Generator, source: str, count: int) -> Pair:
    """``count`` fresh (puzzle, solution) pairs of a generated source, "gen:minimal" or "gen:A-B"."""
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


def without_held_out(files: Sequence[PuzzleFile], paths: Sequence[str | Path]) -> Pair:
    """The training files' pairs, less every puzzle that also stands in an evaluation-only set, as given
    or as a likely copy under a Sudoku symmetry (:func:`datasets.without`).

    Trainable sets can share puzzles with evaluation-only ones (131 of puzzles6 stand in puzzles5): kept,
    they would make the evaluation figures a measure of training data.
    """
    held_out = _eval_sets_near([Path(p) for p in paths])
    puzzles: list[np.ndarray] = []
    solutions: list[np.ndarray] = []
    for path, data in zip(paths, files, strict=True):
        kept = datasets.without(datasets.PuzzleSet(data.name, data.puzzles, data.solutions), *held_out)
        if len(kept) < len(data):
            log.info(
                "%s: dropped %d puzzles that are in evaluation-only sets, as given or as likely relabelled "
                "or permuted copies",
                path,
                len(data) - len(kept),
            )
        assert kept.solutions is not None  # training files have answers (Task.training_file)
        puzzles.append(kept.puzzles)
        solutions.append(kept.solutions)
    return np.concatenate(puzzles), np.concatenate(solutions)


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


def eval_set(seed: int, n: int) -> Pair:
    """The trainer's fixed in-training evaluation set as (question, answer) tokens: 20 to 58 blanks, then a
    quarter minimal puzzles, from a seed the training stream never uses."""
    rng = np.random.default_rng(10_000_019 + seed)
    pairs = [generate.make_puzzle(rng, blanks=int(b)) for b in np.linspace(20, 58, n - n // 4)]
    pairs += [generate.make_puzzle(rng, minimal=True) for _ in range(n // 4)]
    return codec.encode(np.stack([p for p, _ in pairs])), codec.encode(np.stack([s for _, s in pairs]))
