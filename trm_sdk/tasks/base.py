"""What the runtime needs from a task: turn user input into tokens and tokens back into a checked answer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import TRMError
from ..solution import Hint


@dataclass(frozen=True)
class SearchOutcome:
    """What a task's exact search made of one puzzle, given the network's logits as guidance."""

    answer: np.ndarray | None  # a solution in the canonical form, or None
    status: str  # "solved", "multiple_solutions", "no_solution" or "search_timeout"
    nodes: int  # branch points visited until ``answer`` was found (all of them if none was)


class Task(ABC):
    """One puzzle type. Everything task-specific (parsing, encoding, verification, printing) lives here."""

    name: str
    seq_len: int  # cells the network sees
    vocab_size: int

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

    def hint(self, parsed: np.ndarray, logits: np.ndarray, answer: np.ndarray | None) -> Hint:
        """The next cell to reveal; ``answer`` is a verified full answer when there is one."""
        raise TRMError(f"task {self.name!r} does not give hints")

    def encoding(self) -> dict[str, Any]:
        """The token layout, recorded in each exported model's manifest and checked on load."""
        return {"seq_len": self.seq_len, "vocab_size": self.vocab_size}
