"""The one home of task knowledge: everything that differs between Sudoku and Maze is a method here.

The runtime, the commands, training and export ask the task object; none of them compares a task's name.
A new puzzle type is a new subclass (and a ``tasks/<name>/`` package behind it), nothing else. Every
method is numpy-only, so the runtime can import any of it without PyTorch.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np

from .. import limits
from ..errors import InvalidPuzzleError, TRMError
from ..solution import Hint, Solution
from ..views import Views, ViewStream

Pair = tuple[np.ndarray, np.ndarray]  # (puzzles, answers) in the task's canonical arrays
Progress = Callable[[int], None]  # called with the number of puzzles just finished


def _no_progress(n: int) -> None:
    pass


def _exists(path: Path) -> bool:
    """``path.exists()``, False for what cannot be a file name (see :func:`_is_file`)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _is_file(path: Path) -> bool:
    """``path.is_file()``, but False for what cannot be a file name at all (too long, NUL, surrogates):
    such an argument is a puzzle given inline."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


class PuzzleFile(Protocol):
    """What a task's file loader returns: the puzzles of one file, in file order."""

    name: str
    puzzles: np.ndarray  # (N, ...) canonical arrays
    solutions: np.ndarray | None  # (N, ...) or None when the file has no answers

    def __len__(self) -> int: ...


@dataclass(frozen=True)
class SearchOutcome:
    """What a task's exact search made of one puzzle, given the network's logits as guidance."""

    answer: np.ndarray | None  # a solution in the canonical form, or None
    status: str  # "solved", "multiple_solutions", "no_solution" or "search_timeout"
    nodes: int  # branch points visited until ``answer`` was found (all of them if none was)


class Task(ABC):
    """One puzzle type: parsing, encoding, verification, files, generation, search, and training data."""

    name: str
    seq_len: int  # cells the network sees
    vocab_size: int
    levels: tuple[str, ...]  # generator difficulty levels, easiest first
    bench_levels: tuple[str, str]  # (easy, hard) generated samples that ``trm bench`` times by default
    export_levels: tuple[str, ...]  # generated levels the export's parity check runs on by default
    routes: bool = False  # answers come with a route (``Solution.path``), which ``trm solve --json`` prints
    max_views: int = 1  # distinct views the task's symmetries give, the puzzle as given included

    # -- the runtime ----------------------------------------------------------------------------------------

    @abstractmethod
    def parse(self, puzzle: Any) -> np.ndarray:
        """User input -> canonical array; raises InvalidPuzzleError with what and where."""

    @abstractmethod
    def encode(self, parsed: np.ndarray) -> np.ndarray:
        """(B, ...) canonical arrays -> (B, seq_len) int64 tokens."""

    @abstractmethod
    def decode(self, logits: np.ndarray) -> np.ndarray:
        """(B, seq_len, vocab) logits -> (B, ...) answers in the canonical form."""

    @abstractmethod
    def verify(self, answers: np.ndarray, parsed: np.ndarray) -> np.ndarray:
        """(B,) bool: which answers are correct for their puzzles, by the task's rules alone."""

    @abstractmethod
    def format(self, grid: np.ndarray) -> str:
        """A readable multi-line rendering."""

    def details(self, answer: np.ndarray, parsed: np.ndarray) -> dict[str, Any]:
        """``Solution`` fields derived from one verified answer: a maze's ``path``, its unpadded ``grid``."""
        return {}

    def search(self, parsed: np.ndarray, logits: np.ndarray, time_limit: float) -> SearchOutcome:
        """Exact search for one puzzle, trying the network's likeliest choices first (fallback="search")."""
        raise TRMError(f"task {self.name!r} has no exact search, so fallback='search' is not available")

    @property
    def has_search(self) -> bool:
        return type(self).search is not Task.search

    def search_gain(
        self, parsed: np.ndarray, logits: np.ndarray, ok: np.ndarray, progress: Progress = _no_progress
    ) -> dict[str, Any] | None:
        """What the network's guidance saves the exact search on a batch, or None where it cannot help.

        Sudoku's search branches and tries likely digits first, so guidance can be measured against the
        same search unguided; a maze's breadth-first search never branches, so there is nothing to save.
        """
        return None

    def hint(self, parsed: np.ndarray, logits: np.ndarray, answer: np.ndarray | None) -> Hint:
        """The next cell to reveal; ``answer`` is a verified full answer when there is one."""
        raise TRMError(f"task {self.name!r} does not give hints")

    def draw_views(self, stream: ViewStream, n: int) -> Views:
        """``n`` distinct views other than the puzzle as given, drawn from ``stream`` in an order the task
        specifies, so that every runtime draws the same ones (see :mod:`trm_sdk.views`)."""
        raise TRMError(f"task {self.name!r} has no views")

    @property
    def answer_tokens(self) -> slice:
        """The tokens :meth:`decode` chooses among (Sudoku's nine digits, a maze's five characters): only
        these compete when the export compares two runtimes' answers cell by cell."""
        return slice(0, self.vocab_size)

    def encoding(self) -> dict[str, Any]:
        """The token layout, recorded in each exported model's manifest and checked on load."""
        return {"seq_len": self.seq_len, "vocab_size": self.vocab_size}

    def reference_encoding(self) -> dict[str, Any] | None:
        """The token layout of the reference TRM code's dataset for this task, spelt as :meth:`encoding`
        spells ours, or None where that code has no such dataset. Written out rather than derived from
        the codec: a checkpoint that code trained reads our tokens only while the two agree."""
        return None

    def is_exact(self, solution: Solution, expected: np.ndarray) -> bool:
        """Whether ``solution`` counts as right against a data file's ``expected`` answer.

        The default is the whole answer equal to the file's; a task whose puzzles have several right
        answers (a maze's shortest paths) overrides it with the verifier's word.
        """
        return bool(solution.solved and np.array_equal(solution.grid, expected))

    def exact_answers(self, answers: np.ndarray, parsed: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """(B,) bool: :meth:`is_exact` on a batch of decoded answers (as :meth:`decode` returns them)."""
        same = (answers == expected).reshape(len(answers), -1).all(axis=1)
        return np.asarray(same & self.verify(answers, parsed))

    def exact_tokens(self, predicted: np.ndarray, questions: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """(N,) bool: :meth:`is_exact` on token arrays (N, seq_len), for evaluation during training."""
        return np.asarray((predicted == answers).all(axis=-1))

    # -- text and files ------------------------------------------------------------------------------------

    @abstractmethod
    def split_text(self, text: str) -> list[str]:
        """Text holding puzzles -> one string per puzzle (one per line, or one pasted over many lines)."""

    @abstractmethod
    def to_string(self, grid: Any) -> str:
        """A puzzle or answer (canonical array, or what ``Solution.grid`` holds) in its one-line file form."""

    # The task's ``datasets`` module reads its files and knows which are evaluation-only.
    datasets: ModuleType

    def load(self, path: str | os.PathLike[str], limit: int | None = None) -> PuzzleFile:
        """A data file's puzzles (and answers, when it has them); errors name the file and line."""
        return self.datasets.load(path, limit=limit)

    def is_eval_only(self, path: str | os.PathLike[str]) -> bool:
        """True for a file the data's SOURCES.md reserves for evaluation: never trained or tuned on."""
        return bool(self.datasets.is_eval_only(path))

    def is_easy_set(self, name: str) -> bool:
        """An evaluation set every useful model solves nearly always: ``trm compare`` guards it against
        forgetting instead of counting it as progress. ``name`` is ``folder/stem`` as ``trm eval`` writes."""
        return False

    def read_puzzles(self, source: str, stdin_text: str | None = None) -> list[tuple[str, str]]:
        """A puzzle given inline, a file of puzzles (CSV or text), or '-' (``stdin_text``): each puzzle's
        text with where it came from ("file.txt, line 3"), unchecked, so errors can name the line."""
        if source == "-":
            return self._numbered(stdin_text or "", "standard input")
        path = Path(source)
        if "\n" not in source and _exists(path) and not _is_file(path):
            # A directory or a device (/dev/zero, a pipe) is never a puzzle: reading it would block,
            # never end, or report its name's characters as a malformed puzzle.
            raise InvalidPuzzleError(
                f"{source} is not a regular file; pass a puzzle, a file of puzzles, or '-' for standard input"
            )
        if "\n" not in source and _is_file(path):
            size = path.stat().st_size
            if size > limits.MAX_INPUT_BYTES:
                raise InvalidPuzzleError(
                    f"{source} holds {size:,} bytes, more than the {limits.MAX_INPUT_BYTES:,} a puzzle "
                    "file may; split it into smaller files"
                )
            if path.suffix.lower() == ".csv":
                return [(text, f"{source}, line {line}") for text, line in self.file_rows(path)]
            return self._numbered(path.read_text(encoding="utf-8-sig"), source)  # -sig: a BOM is no cell
        if source.endswith((".txt", ".csv")):
            raise FileNotFoundError(f"no such puzzle file: {source}")
        return [(source, "")]

    def file_rows(self, path: str | os.PathLike[str]) -> list[tuple[str, int]]:
        """A CSV file's puzzles as (text, line), unchecked, so one bad row can be reported and skipped."""
        data = self.load(path)
        return [(self.to_string(p), i + 2) for i, p in enumerate(data.puzzles)]

    def _numbered(self, text: str, name: str) -> list[tuple[str, str]]:
        """:meth:`split_text`'s puzzles, each with the line it starts on."""
        lines = text.splitlines()
        out, cursor = [], 0
        for part in self.split_text(text):
            first = next((ln for ln in part.splitlines() if ln.strip()), "")
            starts = (i for i in range(cursor, len(lines)) if first and lines[i].strip() == first.strip())
            at = next(starts, None)
            if at is not None:
                cursor = at + 1
            out.append((part, f"{name}, line {cursor if at is not None else 1}"))
        return out

    # -- generation ----------------------------------------------------------------------------------------

    @abstractmethod
    def generate(self, rng: np.random.Generator, level: str | None = None, **options: Any) -> Pair:
        """One (puzzle, answer) pair of a named level, or as ``options`` say (Sudoku: ``blanks=``)."""

    @abstractmethod
    def to_csv(self, puzzles: np.ndarray, answers: np.ndarray) -> str:
        """Puzzles and answers as the CSV text that :meth:`load` reads back."""

    def random_tokens(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, seq_len) arbitrary valid tokens: the export's parity check runs on these as well."""
        return rng.integers(0, self.vocab_size, (n, self.seq_len), dtype=np.int64)

    # -- training data (numpy only; trm_sdk.train asks these) ---------------------------------------------

    # Each task keeps what training needs in two modules beside its codec: ``training`` (MODEL_DEFAULTS,
    # CURRICULA, WITHOUT_FILES, STREAM_TUNING, generate_pairs, eval_set) and ``augment`` (random_augment).
    training: ModuleType
    augmentation: ModuleType

    @property
    def model_defaults(self) -> dict[str, Any]:
        """A run's network settings over TRMConfig's defaults (``--set`` overrides them)."""
        return dict(self.training.MODEL_DEFAULTS)

    @property
    def curricula(self) -> dict[str, list[dict[str, float]]]:
        """Curriculum name -> stages, each a mix: source -> weight."""
        return self.training.CURRICULA

    @property
    def without_files(self) -> str:
        """The source a stage draws instead of "files" when a run has no training files."""
        return self.training.WITHOUT_FILES

    @property
    def stream_tuning(self) -> dict[str, Any]:
        """StreamConfig values that suit the generator's speed (pool_size, refresh, chunk_size)."""
        return dict(self.training.STREAM_TUNING)

    def generate_pairs(self, rng: np.random.Generator, source: str, count: int) -> Pair:
        """``count`` fresh pairs of a curriculum's generated source ("gen:...").

        Worker processes call it, so the bound method is pickled: a task holds no state beyond its class.
        """
        return self.training.generate_pairs(rng, source, count)

    def augment(self, puzzles: np.ndarray, answers: np.ndarray, rng: np.random.Generator) -> Pair:
        """An independent random symmetry of the task applied to each pair (answers move with puzzles)."""
        return self.augmentation.random_augment(puzzles, answers, rng)

    def frame(self, stage: dict[str, float]) -> int | None:
        """The side of the smaller square grid that holds every puzzle of a curriculum stage, for a network
        that runs on any grid size (mixer "conv"); None where puzzles have one size."""
        return None

    def eval_set(self, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The trainer's fixed in-training evaluation set: ``n`` (question, answer) token rows, easy to
        hard, from a seed the training stream never draws from."""
        return self.training.eval_set(seed, n)

    def training_file(self, path: str | os.PathLike[str]) -> PuzzleFile:
        """One file to train on; evaluation-only files, and files without answers, are refused."""
        if self.is_eval_only(path):
            raise ValueError(
                f"{path} is marked evaluation-only (data SOURCES.md): it must never be trained on"
            )
        data = self.load(path)
        if data.solutions is None:
            raise ValueError(f"{path} has no answers; training needs puzzle,answer pairs")
        return data

    def training_pairs(self, paths: tuple[str | os.PathLike[str], ...]) -> Pair:
        """All training files' pairs, in order (see :meth:`training_file` for what is refused)."""
        files = [self.training_file(p) for p in paths]
        return np.concatenate([f.puzzles for f in files]), np.concatenate([f.solutions for f in files])

    def pool_state(self, puzzles: np.ndarray, answers: np.ndarray) -> Any:
        """A pool of generated pairs as the stream's resumable state saves it; :meth:`pool_from_state`
        reads it back. A task whose answers follow from its puzzles saves the puzzles alone."""
        return puzzles.copy(), answers.copy()

    def pool_from_state(self, state: Any) -> Pair:
        puzzles, answers = state
        return np.asarray(puzzles), np.asarray(answers)
