"""The one home of task knowledge: everything that differs between puzzles is a member of :class:`Task`.

The runtime, the commands, training and export ask the task object; none of them compares a task's name.
A new puzzle is a subclass registered under the ``trm_sdk.tasks`` entry-point group
(:mod:`trm_sdk.tasks.registry`), in the SDK or in a plugin package of its own. Every member is
numpy-only, so the runtime can import any of it without PyTorch.

The public contract, which docs/plugins.md walks through:

* **required**: ``name``, ``seq_len``, ``vocab_size``, ``levels``; :meth:`~Task.parse`,
  :meth:`~Task.encode`, :meth:`~Task.decode`, :meth:`~Task.verify`, :meth:`~Task.format`,
  :meth:`~Task.split_text`, :meth:`~Task.to_string` and :meth:`~Task.generate`;
* **optional, with defaults**: :meth:`~Task.symmetries` (none: one view), ``model_resource`` (no shipped
  model), :meth:`~Task.search` (no ``fallback="search"``), :meth:`~Task.hint`, :meth:`~Task.details`,
  the CSV files (:meth:`~Task.load`, :meth:`~Task.to_csv`) and the training recipe
  (:attr:`~Task.model_defaults`, :attr:`~Task.curricula`, :meth:`~Task.generate_pairs`, ...).

Members whose docstring says *internal* serve the built-in tasks' special cases (a maze's several right
answers, Sudoku's held-out training rows) and may change between releases; a plugin leaves them alone.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .. import limits
from ..errors import InvalidPuzzleError, TRMError
from ..solution import Hint, Solution
from ..views import Views, ViewStream, apply
from . import pairfile

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
class TaskSource:
    """Where a loaded task came from: its name, the ``module:Class`` that implements it, and the installed
    distribution that registered it (None for a ``module:Class`` outside any). A model records it."""

    name: str
    target: str
    package: str | None
    version: str | None

    def describe(self) -> str:
        origin = f" from {self.package} {self.version}" if self.package else ""
        return f"{self.target}{origin}"


@dataclass(frozen=True)
class SearchOutcome:
    """What a task's exact search made of one puzzle, given the network's logits as guidance."""

    answer: np.ndarray | None  # a solution in the canonical form, or None
    status: str  # "solved", "multiple_solutions", "no_solution" or "search_timeout"
    nodes: int  # branch points visited until ``answer`` was found (all of them if none was)


class Task(ABC):
    """One puzzle type: parsing, encoding, verification, files, generation, search, and training data.

    A task holds no state (training's worker processes pickle it), so the registry builds each one once.
    """

    name: str  # what users type: Solver("name"), trm solve --task name; an identifier
    seq_len: int  # cells the network sees
    vocab_size: int
    levels: tuple[str, ...]  # generator difficulty levels, easiest first
    routes: bool = False  # internal: answers come with a route (Solution.path), which --json prints
    # The package and folder holding the model shipped for this task (importlib.resources), or None.
    model_resource: tuple[str, str] | None = None
    source: TaskSource | None = None  # set by the registry when it loads the task

    @property
    def bench_levels(self) -> tuple[str, str]:
        """(easy, hard) generated samples that ``trm bench`` times by default."""
        return (self.levels[0], self.levels[-1])

    @property
    def export_levels(self) -> tuple[str, ...]:
        """Generated levels the export's parity check runs on by default."""
        return self.levels

    def shipped_model(self) -> Path | None:
        """The folder of the model shipped for this task, or None when there is none.

        A real folder on disk, since ONNX Runtime opens graphs by path: a package imported from a zip
        archive has none, and says so.
        """
        if self.model_resource is None:
            return None
        package, folder = self.model_resource
        root = resources.files(package)
        if not isinstance(root, Path):
            raise TRMError(
                f"the model of task {self.name!r} is not a folder on disk ({root!r}): install "
                f"{package} as a folder, not a zip"
            )
        found = root / folder
        return found if (found / "manifest.json").is_file() else None

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

    def symmetries(self) -> Views | None:
        """Every symmetry of the task as a view of its tokens, the identity first, or None for none.

        A symmetry maps every valid (puzzle, answer) pair to another valid pair (a Futoshiki's turns and
        mirrors, and reversing its digits). The Solver runs a hard puzzle in other views until one answer
        verifies, and training shows each pair in a random view; a task with none gets neither.
        """
        return None

    @property
    def max_views(self) -> int:
        """Distinct views the task's symmetries give, the puzzle as given included."""
        table = self.symmetries()
        return 1 if table is None else len(table)

    def draw_views(self, stream: ViewStream, n: int) -> Views:
        """``n`` distinct views other than the puzzle as given, drawn from ``stream`` in an order the task
        specifies, so that every runtime draws the same ones (see :mod:`trm_sdk.views`).

        The default draws from :meth:`symmetries` without replacement; Sudoku's group is too large to list
        and the web runtime must match the built-in tasks bit for bit, so they draw their own.
        """
        table = self.symmetries()
        if table is None:
            raise TRMError(f"task {self.name!r} lists no symmetries, so it has no views besides the puzzle")
        if not 0 <= n < len(table):
            raise TRMError(f"task {self.name!r} has {self.max_views - 1} views besides the puzzle, not {n}")
        order = np.array([1 + k for k in stream.permutation(len(table) - 1)][:n], dtype=np.int64)
        return table[order]

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

    def load(self, path: str | os.PathLike[str], limit: int | None = None) -> PuzzleFile:
        """A data file's puzzles (and answers, when it has them); errors name the file and line.

        The default reads the ``puzzle,answer`` CSV that :meth:`to_csv` writes (:mod:`.pairfile`).
        """
        return pairfile.read(self, path, limit)

    def is_eval_only(self, path: str | os.PathLike[str]) -> bool:
        """True for a file reserved for evaluation: never trained or tuned on. The default: none is."""
        return False

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

    def to_csv(self, puzzles: np.ndarray, answers: np.ndarray) -> str:
        """Puzzles and answers as the CSV text that :meth:`load` reads back."""
        return pairfile.write(self, puzzles, answers)

    def random_tokens(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, seq_len) arbitrary valid tokens: the export's parity check runs on these as well."""
        return rng.integers(0, self.vocab_size, (n, self.seq_len), dtype=np.int64)

    # -- training data (numpy only; trm_sdk.train asks these) ---------------------------------------------

    @property
    def model_defaults(self) -> dict[str, Any]:
        """A run's network settings over TRMConfig's defaults (``--set`` overrides them). The default is
        TRM-MLP, the paper's network for small fixed grids; a task overrides what suits it."""
        return {"vocab_size": self.vocab_size, "seq_len": self.seq_len, "mixer": "mlp"}

    @property
    def curricula(self) -> dict[str, list[dict[str, float]]]:
        """Curriculum name -> stages, each a mix: source -> weight. A source is "gen:LEVEL" (generated
        puzzles of a level) or "files" (``--data``). The default "easy-to-hard" adds one level per stage,
        keeping a share of the easier ones; "hard" trains on the hardest level alone."""
        stages = [
            {f"gen:{level}": (0.5 if k == i else 0.5 / i) for k, level in enumerate(self.levels[: i + 1])}
            if i
            else {f"gen:{self.levels[0]}": 1.0}
            for i in range(len(self.levels))
        ]
        last = f"gen:{self.levels[-1]}"
        return {"easy-to-hard": stages, "hard": [{last: 0.5, "files": 0.5}]}

    @property
    def without_files(self) -> str:
        """The source a stage draws instead of "files" when a run has no training files."""
        return f"gen:{self.levels[-1]}"

    @property
    def stream_tuning(self) -> dict[str, Any]:
        """StreamConfig values that suit the generator's speed (pool_size, refresh, chunk_size)."""
        return {}

    def generate_pairs(self, rng: np.random.Generator, source: str, count: int) -> Pair:
        """``count`` fresh pairs of a curriculum's generated source ("gen:LEVEL"), stacked.

        Worker processes call it, so the bound method is pickled: a task holds no state beyond its class.
        """
        level = source.removeprefix("gen:")
        pairs = [self.generate(rng, level) for _ in range(count)]
        return np.stack([p for p, _ in pairs]), np.stack([s for _, s in pairs])

    def augment(self, puzzles: np.ndarray, answers: np.ndarray, rng: np.random.Generator) -> Pair:
        """Canonical pairs changed by a random symmetry each, before encoding. The default leaves them:
        :meth:`training_tokens` applies :meth:`symmetries` to the tokens instead."""
        return puzzles, answers

    def training_tokens(
        self, puzzles: np.ndarray, answers: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """(question tokens, answer tokens) of a training batch, each pair in a random view of its own
        (:meth:`augment`, then one of :meth:`symmetries` on the tokens where the task lists them)."""
        puzzles, answers = self.augment(puzzles, answers, rng)
        questions, solved = self.encode(puzzles), self.encode(answers)
        table = self.symmetries()
        if table is None or len(table) == 1:
            return questions, solved
        views = table[rng.integers(0, len(table), len(questions))]
        return apply(questions, views), apply(solved, views)

    def frame(self, stage: dict[str, float]) -> int | None:
        """The side of the smaller square grid that holds every puzzle of a curriculum stage, for a network
        that runs on any grid size (mixer "conv"); None where puzzles have one size."""
        return None

    def eval_set(self, seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The trainer's fixed in-training evaluation set: ``n`` (question, answer) token rows, easy to
        hard, from a seed the training stream never draws from."""
        rng = np.random.default_rng(20_000_003 + seed)
        per_level = np.array_split(np.arange(n), len(self.levels))
        pairs = [
            self.generate(rng, level)
            for level, share in zip(self.levels, per_level, strict=True)
            for _ in share
        ]
        return self.encode(np.stack([p for p, _ in pairs])), self.encode(np.stack([s for _, s in pairs]))

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
