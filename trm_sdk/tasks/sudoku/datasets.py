"""Loaders for the Sudoku files people actually have, and the rules on which may be trained on.

Three formats cover the public sets: the Sudoku-Extreme CSV (``source,question,answer,rating``), a
``puzzle,solution`` CSV, and one puzzle per line. Loading is vectorised (one numpy pass over all
characters, not a parse per row) because training streams reload these files often, and every
problem is reported with the file and line so a bad row can be fixed rather than guessed at.

The data files are never part of the repository: they are read from the shared data folder (see
:func:`default_data_dir`), and the evaluation-only ones are listed in :data:`EVAL_ONLY` so that
training code can refuse them; a model trained on its test set reports a worthless accuracy.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks.sudoku import codec, isomorph

__all__ = [
    "EVAL_ONLY",
    "MULTI_SOLUTION",
    "PuzzleSet",
    "default_data_dir",
    "is_eval_only",
    "load",
    "load_many",
    "without",
]

# Paths under the data root that SOURCES.md marks evaluation-only. A folder covers all files in it.
EVAL_ONLY: tuple[str, ...] = (
    "sudoku/sudoku_extreme/train_subsample1000.csv",
    "sudoku/sudoku_extreme/train_subsample1000.txt",
    "sudoku/tdoku/puzzles3_magictour_top1465.csv",
    "sudoku/tdoku/puzzles3_magictour_top1465.txt",
    "sudoku/tdoku/original/puzzles3_magictour_top1465",
    "sudoku/tdoku/puzzles6_forum_hardest_1106.csv",
    "sudoku/tdoku/puzzles6_forum_hardest_1106.txt",
    "sudoku/tdoku/original/puzzles6_forum_hardest_1106",
    "sudoku/norvig",
    "sudoku/kaggle_bryanpark",
    "maze/maze_30x30_hard_1k/test.csv",
)
# Puzzles with several solutions: only for testing how multiple solutions are handled, never for
# training or exact-match evaluation.
MULTI_SOLUTION: tuple[str, ...] = (
    "sudoku/tdoku/puzzles7_serg_benchmark.txt",
    "sudoku/tdoku/original/puzzles7_serg_benchmark",
)

_PUZZLE_COLUMNS = ("puzzle", "question", "quizzes", "quiz")
_SOLUTION_COLUMNS = ("solution", "answer", "solutions")


@dataclass
class PuzzleSet:
    """The puzzles of one file, in file order."""

    name: str  # the file's stem, e.g. "puzzles2_17_clue"
    puzzles: np.ndarray  # (N, 9, 9) int8, 0 = blank
    solutions: np.ndarray | None  # (N, 9, 9) int8, or None when the file has none
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.puzzles)


# --------------------------------------------------------------------------------------------------
# where the data is, and what may be trained on


def default_data_dir() -> Path | None:
    """The shared data folder: ``$TRM_DATA_DIR`` if set, else ``../shared/data`` beside the working
    directory or beside this repository; None if there is none.

    A set but missing ``TRM_DATA_DIR`` gives None rather than a fallback: an explicit choice that
    silently loads other data would be worse than no data.
    """
    env = os.environ.get("TRM_DATA_DIR")
    if env:
        path = Path(env).expanduser()
        return path if path.is_dir() else None
    repo = Path(__file__).resolve().parents[3]
    for base in (Path.cwd(), repo):
        candidate = base.parent / "shared" / "data"
        if candidate.is_dir():
            return candidate
    return None


def _matches(path: Path, entries: tuple[str, ...]) -> bool:
    parts = Path(os.path.abspath(path)).parts
    for entry in entries:
        want = Path(entry).parts
        for start in range(len(parts) - len(want) + 1):
            if parts[start : start + len(want)] == want:
                return True
    return False


def is_eval_only(path: str | os.PathLike[str]) -> bool:
    """True for a file SOURCES.md reserves for evaluation, wherever the data tree was put.

    Matched on the path's trailing ``sudoku/...`` components, so a copy of the data folder elsewhere
    is still recognised; a file renamed or moved out of that layout is not.
    """
    return _matches(Path(path), EVAL_ONLY)


# --------------------------------------------------------------------------------------------------
# parsing


def _fail(path: Path, line: int, message: str) -> InvalidPuzzleError:
    return InvalidPuzzleError(f"{path}, line {line}: {message}")


def _to_grids(texts: list[str], lines: list[int], path: Path, what: str, blanks: bool) -> np.ndarray:
    """81-character strings -> (N, 9, 9) int8, checking lengths and characters in one numpy pass."""
    n = len(texts)
    if n == 0:
        return np.zeros((0, 9, 9), dtype=np.int8)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    bad = np.flatnonzero(lengths != codec.CELLS)
    if bad.size:
        k = int(bad[0])
        raise _fail(path, lines[k], f"the {what} has {lengths[k]} characters, expected {codec.CELLS}")
    try:
        raw = "".join(texts).encode("ascii")
    except UnicodeEncodeError:
        k = next(k for k, t in enumerate(texts) if not t.isascii())
        j = next(j for j, ch in enumerate(texts[k]) if not ch.isascii())
        raise _fail(path, lines[k], _bad_char(texts[k], j, what, blanks)) from None
    chars = np.frombuffer(raw, dtype=np.uint8).reshape(n, codec.CELLS)
    is_digit = (chars >= ord("1")) & (chars <= ord("9"))
    ok = is_digit | (chars == ord(".")) | (chars == ord("0")) if blanks else is_digit
    if not ok.all():
        k, j = (int(v) for v in np.argwhere(~ok)[0])
        raise _fail(path, lines[k], _bad_char(texts[k], j, what, blanks))
    digits = np.where(chars == ord("."), 0, chars - ord("0"))
    return digits.astype(np.int8).reshape(n, 9, 9)


def _bad_char(text: str, j: int, what: str, blanks: bool) -> str:
    allowed = "1-9, '.' or '0'" if blanks else "only 1-9"
    return (
        f"bad character {text[j]!r} in the {what} at position {j + 1} ({codec.cell_name(j // 9, j % 9)}); "
        f"expected {allowed}"
    )


def _check(puzzles: np.ndarray, solutions: np.ndarray | None, lines: list[int], path: Path) -> None:
    if solutions is not None:
        good = codec.are_solutions(solutions, puzzles)
        if not good.all():
            k = int(np.flatnonzero(~good)[0])
            differs = np.argwhere((puzzles[k] != 0) & (puzzles[k] != solutions[k]))
            if differs.size:
                r, c = (int(v) for v in differs[0])
                why = (
                    f"it has {solutions[k, r, c]} at {codec.cell_name(r, c)} "
                    f"where the puzzle gives {puzzles[k, r, c]}"
                )
            else:
                why = "it is not a valid Sudoku grid (a digit repeats in a row, column or box)"
            raise _fail(path, lines[k], f"the solution does not solve the puzzle: {why}")
        return  # a puzzle that agrees with a valid solution cannot clash
    clash = codec.have_conflicts(puzzles)
    if clash.any():
        k = int(np.flatnonzero(clash)[0])
        raise _fail(
            path, lines[k], "the givens contradict each other: " + "; ".join(codec.conflicts(puzzles[k]))
        )


def _read_lines(path: Path, text: str, limit: int | None) -> tuple[list[str], list[int]]:
    texts: list[str] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if limit is not None and len(texts) >= limit:
            break
        texts.append(s)
        lines.append(number)
    return texts, lines


def _csv_rows(text: str) -> tuple[list[list[str]], list[int]]:
    """Rows and their line numbers; a plain split unless the file uses quotes, which is ~5x faster."""
    if '"' in text:
        reader = csv.reader(io.StringIO(text))
        rows, lines = [], []
        for row in reader:
            rows.append(row)
            lines.append(reader.line_num)
        return rows, lines
    split = [line.split(",") for line in text.splitlines()]
    return split, list(range(1, len(split) + 1))


def _read_csv(
    path: Path, text: str, limit: int | None, strict: bool = True
) -> tuple[list[str], list[str] | None, list[int]]:
    rows, numbers = _csv_rows(text)
    if not rows:
        return [], None, []
    first = rows[0]
    names = [f.strip().lower() for f in first]
    if any(n in _PUZZLE_COLUMNS for n in names):
        p_col = next(i for i, n in enumerate(names) if n in _PUZZLE_COLUMNS)
        s_col = next((i for i, n in enumerate(names) if n in _SOLUTION_COLUMNS), None)
        start = 1
    elif len(first[0].strip()) == codec.CELLS:  # no header: puzzle[,solution] columns
        p_col, s_col, start = 0, (1 if len(first) > 1 else None), 0
    else:
        raise _fail(
            path,
            1,
            f"unrecognised CSV header {','.join(first)!r}; expected a column named one of "
            f"{', '.join(_PUZZLE_COLUMNS)} (and optionally one of {', '.join(_SOLUTION_COLUMNS)})",
        )
    width = len(first)
    puzzles: list[str] = []
    solutions: list[str] = []
    lines: list[int] = []
    for row, number in zip(rows[start:], numbers[start:], strict=True):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue  # blank line
        if limit is not None and len(puzzles) >= limit:
            break
        if len(row) != width:
            if strict:
                raise _fail(path, number, f"expected {width} comma-separated fields, found {len(row)}")
            row = row + [""] * (width - len(row))  # the puzzle column then fails to parse, naming the line
        puzzles.append(row[p_col].strip())
        if s_col is not None:
            solutions.append(row[s_col].strip())
        lines.append(number)
    return puzzles, (solutions if s_col is not None else None), lines


def load(path: str | os.PathLike[str], limit: int | None = None) -> PuzzleSet:
    """Load a puzzle file: ``.csv`` with a header naming the columns (Sudoku-Extreme's
    ``source,question,answer,rating``, ``puzzle,solution``, Kaggle's ``quizzes,solutions``) or no
    header, else one 81-character puzzle per line (``.`` or ``0`` blanks; blank lines and ``#``
    comments skipped). ``limit`` keeps the first rows only.

    Raises :class:`InvalidPuzzleError` naming the file and line for a malformed row, clashing
    givens, or a solution that does not solve its puzzle.
    """
    p = Path(path)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be non-negative, got {limit}")
    text = p.read_text(encoding="utf-8-sig")  # -sig: tolerate a byte-order mark from spreadsheet tools
    sol_texts: list[str] | None
    if p.suffix.lower() == ".csv":
        puz_texts, sol_texts, lines = _read_csv(p, text, limit)
    else:
        puz_texts, lines = _read_lines(p, text, limit)
        sol_texts = None
    puzzles = _to_grids(puz_texts, lines, p, "puzzle", blanks=True)
    solutions = None if sol_texts is None else _to_grids(sol_texts, lines, p, "solution", blanks=False)
    _check(puzzles, solutions, lines, p)
    return PuzzleSet(name=p.stem, puzzles=puzzles, solutions=solutions, path=p)


def puzzle_rows(path: str | os.PathLike[str]) -> list[tuple[str, int]]:
    """A CSV file's puzzle column as (text, line), unchecked: ``trm solve --skip-bad`` checks each row
    alone, so one bad row is reported by its line and skipped instead of stopping the whole file."""
    p = Path(path)
    puzzles, _, lines = _read_csv(p, p.read_text(encoding="utf-8-sig"), None, strict=False)
    return list(zip(puzzles, lines, strict=True))


def load_many(paths: Iterable[str | os.PathLike[str]], limit: int | None = None) -> list[PuzzleSet]:
    """:func:`load` each path (``limit`` per file), in order."""
    return [load(p, limit=limit) for p in paths]


def without(base: PuzzleSet, *others: PuzzleSet) -> PuzzleSet:
    """``base`` minus every puzzle that also appears in ``others``, as given or as a likely relabelled,
    permuted or transposed copy (:func:`isomorph.twins`).

    SOURCES.md asks for this: 131 puzzles of the evaluation-only ``puzzles6`` also stand in the
    trainable ``puzzles5``, and training on them would leak the test set. Copies under a Sudoku symmetry
    leak it as surely (the network's views are those symmetries): 93 more of ``puzzles5`` share a
    fingerprint with an evaluation puzzle (78 with ``puzzles6``'s, 15 with the Sudoku-Extreme sample's),
    and 88 of the 17-clue ``puzzles2`` (with magictour's, Norvig's top95's or Sudoku-Extreme's).
    """
    if not others:
        return base
    seen = {row.tobytes() for other in others for row in other.puzzles.reshape(-1, codec.CELLS)}
    keep = np.array([row.tobytes() not in seen for row in base.puzzles.reshape(-1, codec.CELLS)], dtype=bool)
    theirs = np.concatenate([other.puzzles.reshape(-1, 9, 9) for other in others])
    keep[keep] = ~isomorph.twins(base.puzzles.reshape(-1, 9, 9)[keep], theirs)
    return PuzzleSet(
        name=base.name,
        puzzles=base.puzzles[keep],
        solutions=None if base.solutions is None else base.solutions[keep],
        path=base.path,
    )
