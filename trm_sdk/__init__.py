"""trm-sdk: Tiny Recursive Model puzzle solvers for apps.

``Solver("sudoku").solve(grid)`` returns a verified answer with the supervision steps used, a confidence
and the runtime that ran it. Importing this package never imports PyTorch: the CPU runtime is ONNX Runtime.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys as _sys
from importlib.machinery import ModuleSpec
from pathlib import Path as _Path

from .errors import BackendUnavailableError, InvalidPuzzleError, ModelError, OutOfMemoryError, TRMError
from .solution import Hint, Rating, Solution
from .solver import Solver


class _CheckoutPackages(importlib.abc.MetaPathFinder):
    """In a source checkout, the folders that ``pyproject.toml`` installs as ``trm_sdk.train`` and
    ``trm_sdk.export`` sit beside this package, not inside it. Python run from the checkout's root imports
    this folder, so the same two mappings are made here; nothing else in the checkout becomes
    ``trm_sdk.*``. An installed package has the folders inside it and never needs this."""

    def __init__(self, folders: dict[str, _Path]) -> None:
        self.folders = folders

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        folder = self.folders.get(fullname)
        if folder is None:
            return None
        return importlib.util.spec_from_file_location(
            fullname, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )


def _map_checkout_packages() -> None:
    here = _Path(__file__).resolve().parent
    root = here.parent
    if not (root / "pyproject.toml").is_file():
        return
    folders = {
        f"{__name__}.{name}": root / name
        for name in ("train", "export")
        if not (here / name).exists() and (root / name / "__init__.py").is_file()
    }
    if folders:
        _sys.meta_path.append(_CheckoutPackages(folders))


_map_checkout_packages()


__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "Hint",
    "InvalidPuzzleError",
    "ModelError",
    "OutOfMemoryError",
    "Rating",
    "Solution",
    "Solver",
    "TRMError",
    "__version__",
]
