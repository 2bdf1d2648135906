"""The trained, exported models that ship inside the wheel, one folder per task with its manifest.json."""

from __future__ import annotations

from pathlib import Path


def model_dir(task: str) -> Path:
    """Folder of the shipped model for ``task`` (it may not exist: callers check via the manifest)."""
    return Path(__file__).resolve().parent / task


def available() -> list[str]:
    """Tasks that have a shipped model."""
    root = Path(__file__).resolve().parent
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").is_file())
