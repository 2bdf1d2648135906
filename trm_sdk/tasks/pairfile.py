"""The CSV form any task can read and write: a ``puzzle`` column and an optional ``answer`` column, each
cell a puzzle in the task's one-line form (:meth:`Task.to_string`).

A plugin gets files for free this way: ``trm generate`` writes them, ``trm eval`` and ``trm-train --data``
read them. Every row is parsed by the task and every answer verified against its puzzle as it loads, so a
bad row is reported with its file and line, not met later as a wrong label.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ..errors import InvalidPuzzleError

__all__ = ["PairFile", "read", "write"]

_PUZZLE_COLUMNS = ("puzzle", "question", "quizzes")
_ANSWER_COLUMNS = ("answer", "solution", "solutions")


class Codec(Protocol):
    """What reading and writing the file needs of a task (:class:`~trm_sdk.tasks.base.Task` has it all)."""

    def parse(self, puzzle: Any) -> np.ndarray: ...

    def verify(self, answers: np.ndarray, parsed: np.ndarray) -> np.ndarray: ...

    def to_string(self, grid: Any) -> str: ...


@dataclass
class PairFile:
    """The puzzles of one file, in file order."""

    name: str
    puzzles: np.ndarray  # (N, ...) canonical arrays
    solutions: np.ndarray | None  # (N, ...) or None when the file has no answer column

    def __len__(self) -> int:
        return len(self.puzzles)


def read(task: Codec, path: str | os.PathLike[str], limit: int | None = None) -> PairFile:
    """The first ``limit`` rows (all without one) of a puzzle[,answer] CSV file."""
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as f:
        rows = csv.reader(f)
        header = [h.strip().lower() for h in next(rows, [])]
        if not header or header[0] not in _PUZZLE_COLUMNS:
            raise InvalidPuzzleError(
                f"{path}, line 1: a header 'puzzle,answer' (or 'puzzle') must come first, "
                f"got {','.join(header)!r}"
            )
        with_answers = len(header) > 1 and header[1] in _ANSWER_COLUMNS
        puzzles: list[np.ndarray] = []
        answers: list[np.ndarray] = []
        for line, row in enumerate(rows, start=2):
            if limit is not None and len(puzzles) >= limit:
                break
            if not row or not "".join(row).strip():
                continue
            try:
                puzzle = task.parse(row[0])
                if with_answers:
                    if len(row) < 2:
                        raise InvalidPuzzleError("the answer column is empty")
                    answer = task.parse(row[1])
                    if not task.verify(answer[None], puzzle[None])[0]:
                        raise InvalidPuzzleError("the answer does not solve the puzzle")
                    answers.append(answer)
            except InvalidPuzzleError as exc:
                raise InvalidPuzzleError(f"{path}, line {line}: {exc}") from None
            puzzles.append(puzzle)
    if not puzzles:
        raise InvalidPuzzleError(f"{path} holds no puzzles")
    return PairFile(path.stem, np.stack(puzzles), np.stack(answers) if with_answers else None)


def write(task: Codec, puzzles: np.ndarray, answers: np.ndarray) -> str:
    """Puzzles and answers as the CSV text :func:`read` reads back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["puzzle", "answer"])
    for p, s in zip(puzzles, answers, strict=True):
        writer.writerow([task.to_string(p), task.to_string(s)])
    return out.getvalue()
