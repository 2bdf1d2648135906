"""The models that ship with trm-sdk, found relative to the package like any other package data.

An installed wheel holds them in ``trm_sdk/models/<task>/``; a source checkout keeps them in the
top-level ``models/`` folder beside ``trm_sdk/`` (``pyproject.toml`` maps one onto the other at install).
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["available", "model_dir", "models_root"]

_PACKAGE = Path(__file__).resolve().parent


def models_root() -> Path:
    """The folder holding one sub-folder per shipped model."""
    installed = _PACKAGE / "models"
    if installed.is_dir():
        return installed
    checkout = _PACKAGE.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "models").is_dir():
        return checkout / "models"
    return installed  # absent: no model is available


def model_dir(task: str) -> Path:
    """Folder of the shipped model for ``task`` (it may not exist: callers check via the manifest)."""
    return models_root() / task


def available() -> list[str]:
    """Tasks that have a shipped model."""
    root = models_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").is_file())
