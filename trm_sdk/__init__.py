"""trm-sdk: Tiny Recursive Model puzzle solvers for apps.

``Solver("sudoku").solve(grid)`` returns a verified answer with the supervision steps used, a confidence
and the runtime that ran it. Importing this package never imports PyTorch: the CPU runtime is ONNX Runtime.
"""

from __future__ import annotations

from pathlib import Path as _Path

from .errors import BackendUnavailableError, InvalidPuzzleError, ModelError, TRMError
from .solution import Hint, Rating, Solution
from .solver import Solver


def _serve_sibling_folders() -> None:
    # In a source checkout, models/, train/ and export/ sit beside this package rather than inside it
    # (pyproject.toml maps them in at install). Python run from the checkout's root imports this folder,
    # not the installed package, so without this `trm_sdk.models` would not be found there.
    here = _Path(__file__).resolve().parent
    root = here.parent
    if not (here / "models").exists() and (root / "models" / "__init__.py").is_file():
        if (root / "pyproject.toml").is_file() and str(root) not in __path__:
            __path__.append(str(root))


_serve_sibling_folders()


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
