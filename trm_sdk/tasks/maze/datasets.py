"""Loaders for Maze-Hard files, and the rule on which may be trained on.

Maze-Hard ships as CSV (``question,answer,path_length``: 900-character rows, ``# SG`` in questions,
``o`` on the path in answers); a plain ``.txt`` with one 900-character maze per line is read too. Every
row is checked as it loads (characters, one S and one G, an answer that marks a shortest path), and a
bad row is reported with the file and line.

The files stay in the shared data folder, never in the repository, and ``test.csv`` is evaluation-only
(data SOURCES.md): :func:`is_eval_only` is the same list the Sudoku loaders use.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks.maze import codec
from trm_sdk.tasks.sudoku.datasets import default_data_dir, is_eval_only

__all__ = ["MAZE_HARD", "MazeSet", "default_data_dir", "is_eval_only", "load", "maze_hard", "to_csv"]

MAZE_HARD = "maze/maze_30x30_hard_1k"  # under the data root: train.csv (trainable), test.csv (eval only)

_QUESTION_COLUMNS = ("question", "puzzle", "maze", "inputs")
_ANSWER_COLUMNS = ("answer", "solution", "labels")


@dataclass
class MazeSet:
    """The mazes of one file, in file order."""

    name: str
    puzzles: np.ndarray  # (N, 30, 30) int8 codes
    solutions: np.ndarray | None  # (N, 30, 30) int8 codes with the path marked, or None
    path_lengths: np.ndarray | None = None  # (N,) moves S to G as the file states, when it does
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.puzzles)


def _fail(path: Path, line: int, message: str) -> InvalidPuzzleError:
    return InvalidPuzzleError(f"{path}, line {line}: {message}")


def _to_cells(texts: list[str], lines: list[int], path: Path, what: str, allow_path: bool) -> np.ndarray:
    """900-character rows -> (N, 30, 30) codes in one numpy pass; the first bad row is reported."""
    n = len(texts)
    if n == 0:
        return np.zeros((0, codec.SIZE, codec.SIZE), np.int8)
    for k, t in enumerate(texts):
        if len(t) != codec.CELLS or not t.isascii():
            try:
                codec.to_cells(t, allow_path=allow_path)
            except InvalidPuzzleError as exc:
                raise _fail(path, lines[k], f"the {what}: {exc}") from None
    chars = np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint8).reshape(n, codec.CELLS)
    cells = codec._LUT[chars]
    bad = (cells < 1) | ((cells == codec.PATH) & (not allow_path))
    if bad.any():
        k = int(np.flatnonzero(bad.any(1))[0])
        try:
            codec.to_cells(texts[k], allow_path=allow_path)
        except InvalidPuzzleError as exc:
            raise _fail(path, lines[k], f"the {what}: {exc}") from None
    return cells.reshape(n, codec.SIZE, codec.SIZE)


def _check(
    puzzles: np.ndarray,
    solutions: np.ndarray | None,
    lengths: np.ndarray | None,
    lines: list[int],
    path: Path,
) -> None:
    flat = puzzles.reshape(len(puzzles), -1)
    for code, name in ((codec.START, "start 'S'"), (codec.GOAL, "goal 'G'")):
        counts = (flat == code).sum(1)
        if (counts != 1).any():
            k = int(np.flatnonzero(counts != 1)[0])
            raise _fail(path, lines[k], f"the maze has {counts[k]} of {name}; it needs exactly one")
    if solutions is None:
        return
    for k in range(len(puzzles)):
        route = codec.solved_path(solutions[k], puzzles[k])
        if route is None:
            raise _fail(path, lines[k], "the answer does not mark a shortest path from S to G")
        if lengths is not None and lengths[k] != len(route) - 1:
            raise _fail(
                path, lines[k], f"path_length says {lengths[k]} moves, the answer's path has {len(route) - 1}"
            )


def load(path: str | os.PathLike[str], limit: int | None = None) -> MazeSet:
    """Load mazes: a ``.csv`` whose header names a question column (``question``) and optionally an
    answer column (``answer``) and ``path_length``, or text with one 900-character maze per line.
    ``limit`` keeps the first rows only. Raises InvalidPuzzleError naming the file and line of a bad row.
    """
    p = Path(path)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be non-negative, got {limit}")
    raw = p.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
    rows = [(i + 1, line) for i, line in enumerate(raw) if line]
    questions: list[str] = []
    answers: list[str] | None = None
    lengths: list[int] | None = None
    lines: list[int] = []
    if p.suffix.lower() == ".csv":
        if not rows:
            return MazeSet(p.stem, np.zeros((0, 30, 30), np.int8), None, None, p)
        header = [h.strip().lower() for h in rows[0][1].split(",")]
        q_col = next((i for i, h in enumerate(header) if h in _QUESTION_COLUMNS), None)
        if q_col is None:
            raise _fail(p, rows[0][0], f"unrecognised header {rows[0][1]!r}; expected a 'question' column")
        a_col = next((i for i, h in enumerate(header) if h in _ANSWER_COLUMNS), None)
        l_col = header.index("path_length") if "path_length" in header else None
        answers = [] if a_col is not None else None
        lengths = [] if l_col is not None else None
        for number, line in rows[1:]:
            if limit is not None and len(questions) >= limit:
                break
            fields = line.split(",")  # maze rows hold no commas, so no quoting to undo
            if len(fields) != len(header):
                raise _fail(p, number, f"expected {len(header)} comma-separated fields, found {len(fields)}")
            questions.append(fields[q_col])
            if answers is not None and a_col is not None:
                answers.append(fields[a_col])
            if lengths is not None and l_col is not None:
                try:
                    lengths.append(int(fields[l_col]))
                except ValueError:
                    raise _fail(p, number, f"path_length {fields[l_col]!r} is not a number") from None
            lines.append(number)
    else:
        for number, line in rows:
            if limit is not None and len(questions) >= limit:
                break
            questions.append(line)
            lines.append(number)
    puzzles = _to_cells(questions, lines, p, "maze", allow_path=False)
    solutions = None if answers is None else _to_cells(answers, lines, p, "answer", allow_path=True)
    length_arr = None if lengths is None else np.array(lengths, dtype=np.int64)
    _check(puzzles, solutions, length_arr, lines, p)
    return MazeSet(p.stem, puzzles, solutions, length_arr, p)


def question_rows(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """A CSV file's question column as (text, line), unchecked, so one bad row can be reported and skipped."""
    p = Path(path)
    raw = p.read_text(encoding="utf-8-sig").replace("\r\n", "\n").split("\n")
    rows = [(i + 1, line) for i, line in enumerate(raw) if line]
    if not rows:
        return []
    header = [h.strip().lower() for h in rows[0][1].split(",")]
    q_col = next((i for i, h in enumerate(header) if h in _QUESTION_COLUMNS), None)
    if q_col is None:
        raise _fail(p, rows[0][0], f"unrecognised header {rows[0][1]!r}; expected a 'question' column")
    out = []
    for number, line in rows[1:]:
        fields = line.split(",")
        out.append((fields[q_col] if q_col < len(fields) else "", number))
    return out


def maze_hard(split: str, root: str | os.PathLike[str] | None = None, limit: int | None = None) -> MazeSet:
    """Maze-Hard's ``train`` or ``test`` split from the data root (default: :func:`default_data_dir`)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    base = Path(root) if root is not None else default_data_dir()
    if base is None:
        raise FileNotFoundError("no shared data folder found; set TRM_DATA_DIR or pass root")
    return load(base / MAZE_HARD / f"{split}.csv", limit=limit)


def to_csv(puzzles: np.ndarray, answers: np.ndarray) -> str:
    """Mazes and their answers ((N, 30, 30) codes each) as Maze-Hard CSV text, which :func:`load` reads."""
    rows = ["question,answer,path_length\n"]
    for p, a in zip(puzzles, answers, strict=True):
        moves = int((np.asarray(a) == codec.PATH).sum()) + 1
        rows.append(f"{codec.to_string(p)},{codec.to_string(a)},{moves}\n")
    return "".join(rows)
