"""The models that ship with trm-sdk, found as the package data of ``trm_sdk.models``.

``pyproject.toml`` installs the top-level ``models/`` folder as the package ``trm_sdk.models``, so
``importlib.resources`` finds it the same way in a wheel and in an editable install of a checkout.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from .errors import ModelError

__all__ = ["available", "model_dir", "models_root"]


def models_root() -> Path:
    """The folder holding one sub-folder per shipped model.

    A real folder on disk, since ONNX Runtime opens the graphs by path: a package imported from a zip
    archive has none, and says so.
    """
    root = files("trm_sdk.models")
    if not isinstance(root, Path):
        raise ModelError(
            f"the shipped models are not files on disk ({root!r}): install trm-sdk as a folder, not a zip"
        )
    return root


def model_dir(task: str) -> Path:
    """Folder of the shipped model for ``task`` (it may not exist: callers check via the manifest)."""
    return models_root() / task


def available() -> list[str]:
    """Tasks that have a shipped model."""
    return sorted(p.name for p in models_root().iterdir() if (p / "manifest.json").is_file())
