"""The Sudoku task: a thin adapter over the codec, the generator, the data files and the search."""

from __future__ import annotations

import os
import re
from typing import Any

import numpy as np

from ...limits import MAX_VIEWS
from ...solution import Hint
from ...views import Views, ViewStream
from ..base import Pair, Progress, SearchOutcome, _no_progress
from ..builtin import BuiltinTask
from . import assist, augment, codec, datasets, generate, training

# Evaluation sets that every useful model solves nearly always (Kaggle's, Norvig's easy50, 10-40 blanks).
_GRID_LINES = 13  # a pasted grid: 9 rows, 2 box rules, a frame line above and below

_EASY_SETS = re.compile(r"kaggle|easy50|blanks(10|20|30|40)\b")


class SudokuTask(BuiltinTask):
    name = "sudoku"
    model_resource = ("trm_sdk.models", "sudoku")
    seq_len = codec.CELLS
    vocab_size = codec.VOCAB_SIZE
    datasets = datasets
    levels = tuple(generate.LEVELS)
    bench_levels = ("easy", "minimal")
    export_levels = ("easy", "medium", "hard", "minimal")
    max_views = MAX_VIEWS  # the symmetry group has 9! x 2 x 6^8 elements: views never run out

    def parse(self, puzzle: Any) -> np.ndarray:
        return codec.parse(puzzle)

    def encode(self, parsed: np.ndarray) -> np.ndarray:
        return codec.encode(parsed)

    def decode(self, logits: np.ndarray) -> np.ndarray:
        grids, _ = codec.decode(logits)
        return grids

    def verify(self, answers: np.ndarray, parsed: np.ndarray) -> np.ndarray:
        return codec.are_solutions(answers, parsed)

    def format(self, grid: np.ndarray) -> str:
        return codec.format_grid(grid)

    def search(self, parsed: np.ndarray, logits: np.ndarray, time_limit: float) -> SearchOutcome:
        return assist.guided_search(parsed, logits, time_limit)

    def search_gain(
        self, parsed: np.ndarray, logits: np.ndarray, ok: np.ndarray, progress: Progress = _no_progress
    ) -> dict[str, Any] | None:
        return assist.search_gain(parsed, logits, ok, progress)

    def hint(self, parsed: np.ndarray, logits: np.ndarray, answer: np.ndarray | None) -> Hint:
        return assist.hint(parsed, logits, answer)

    def draw_views(self, stream: ViewStream, n: int) -> Views:
        cells, tokens = augment.random_views(stream, n, codec.DIGIT_OFFSET)
        return Views(cells, tokens)

    @property
    def answer_tokens(self) -> slice:
        first = 1 + codec.DIGIT_OFFSET  # digit 1
        return slice(first, first + 9)

    def reference_encoding(self) -> dict[str, Any]:
        # the sapientinc/HRM dataset builders', which the reference TRM code trains on
        return {"seq_len": 81, "vocab_size": 11, "pad": 0, "blank": 1, "digit_offset": 1}

    def encoding(self) -> dict[str, Any]:
        return {
            "seq_len": codec.CELLS,
            "vocab_size": codec.VOCAB_SIZE,
            "pad": codec.PAD,
            "blank": codec.BLANK,
            "digit_offset": codec.DIGIT_OFFSET,
        }

    def split_text(self, text: str) -> list[str]:
        # Many one-line puzzles, or one puzzle pasted as a grid over several lines ('#' starts a comment).
        # A grid pasted over several lines has short lines and few of them; a file with a line as long as a
        # puzzle, or with more lines than a grid has, holds one puzzle per line (a short one is reported).
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
        if not lines:
            return []
        one_per_line = len(lines) > _GRID_LINES or any(len(ln) >= codec.CELLS for ln in lines)
        return lines if one_per_line else [text]

    def to_string(self, grid: Any) -> str:
        return codec.to_string(grid)

    def file_rows(self, path: str | os.PathLike[str]) -> list[tuple[str, int]]:
        return datasets.puzzle_rows(path)

    def is_easy_set(self, name: str) -> bool:
        return bool(_EASY_SETS.search(name))

    def generate(self, rng: np.random.Generator, level: str | None = None, **options: Any) -> Pair:
        blanks = options.pop("blanks", None)
        if options:
            raise TypeError(f"unknown Sudoku generator option(s): {', '.join(options)}")
        if (level is None) == (blanks is None):
            raise ValueError("give exactly one of a level and blanks")
        if level is not None:
            return generate.make_level(rng, level)
        return generate.make_puzzle(rng, blanks=blanks)

    def to_csv(self, puzzles: np.ndarray, answers: np.ndarray) -> str:
        rows = [f"{codec.to_string(p)},{codec.to_string(s)}\n" for p, s in zip(puzzles, answers, strict=True)]
        return "puzzle,solution\n" + "".join(rows)

    # -- training data ---------------------------------------------------------------------------------------

    training = training
    augmentation = augment

    def training_pairs(self, paths: tuple[str | os.PathLike[str], ...]) -> Pair:
        # Puzzles that also stand in evaluation-only sets are dropped (SOURCES.md asks for it).
        return training.without_held_out([self.training_file(p) for p in paths], [str(p) for p in paths])
