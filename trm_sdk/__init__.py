"""trm-sdk: Tiny Recursive Model puzzle solvers for apps.

``Solver("sudoku").solve(grid)`` returns a verified answer with the supervision steps used, a confidence
and the runtime that ran it. Importing this package never imports PyTorch: the CPU runtime is ONNX Runtime.

A source checkout is used through an install like any package (``pip install -e .``): ``pyproject.toml``
maps the top-level ``train/``, ``export/``, ``models/`` and ``web/`` folders to ``trm_sdk.train``,
``trm_sdk.export``, ``trm_sdk.models`` and ``trm_sdk.web``, in a wheel and in an editable install alike.
"""

from .errors import BackendUnavailableError, InvalidPuzzleError, ModelError, OutOfMemoryError, TRMError
from .options import SolveOptions
from .solution import Hint, Prediction, Rating, Solution
from .solver import Solver
from .version import __version__

__all__ = [
    "BackendUnavailableError",
    "Hint",
    "InvalidPuzzleError",
    "ModelError",
    "OutOfMemoryError",
    "Prediction",
    "Rating",
    "Solution",
    "SolveOptions",
    "Solver",
    "TRMError",
    "__version__",
]
