"""What the runtime needs from a task: turn user input into tokens and tokens back into a checked answer."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np


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

    def encoding(self) -> dict[str, Any]:
        """The token layout, recorded in each exported model's manifest and checked on load."""
        return {"seq_len": self.seq_len, "vocab_size": self.vocab_size}
