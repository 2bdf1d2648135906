"""The Sudoku task as the runtime sees it: a thin adapter over the codec."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...solution import Hint
from ..base import SearchOutcome, Task
from . import assist, codec


class SudokuTask(Task):
    name = "sudoku"
    seq_len = codec.CELLS
    vocab_size = codec.VOCAB_SIZE

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

    def hint(self, parsed: np.ndarray, logits: np.ndarray, answer: np.ndarray | None) -> Hint:
        return assist.hint(parsed, logits, answer)

    def encoding(self) -> dict[str, Any]:
        return {
            "seq_len": codec.CELLS,
            "vocab_size": codec.VOCAB_SIZE,
            "pad": codec.PAD,
            "blank": codec.BLANK,
            "digit_offset": codec.DIGIT_OFFSET,
        }
