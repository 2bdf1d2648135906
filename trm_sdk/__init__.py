"""trm-sdk: Tiny Recursive Model puzzle solvers for apps.

``Solver("sudoku").solve(grid)`` returns a verified answer with the supervision steps used, a confidence
and the runtime that ran it. Importing this package never imports PyTorch: the CPU runtime is ONNX Runtime.
"""

from __future__ import annotations

from .errors import BackendUnavailableError, InvalidPuzzleError, ModelError, TRMError
from .solution import Hint, Rating, Solution
from .solver import Solver

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "Hint",
    "InvalidPuzzleError",
    "ModelError",
    "Rating",
    "Solution",
    "Solver",
    "TRMError",
    "__version__",
]
