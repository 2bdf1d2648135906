"""A model's training log: the learning curve and the per-run records, kept beside the manifest.

The manifest is what a runtime must read on every load (the contract) plus a short model card; the
in-training evaluations of a long run are thousands of lines that no runtime needs. They live in
``training_log.json`` in the model folder, which the Solver never opens: ``trm info``, the docs and a run
started from the model (``trm-train --init-from``, whose curve continues this one's) read it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ModelError

__all__ = ["LOG_KEYS", "TRAINING_LOG_NAME", "full_record", "read", "split", "total_minutes", "write"]

TRAINING_LOG_NAME = "training_log.json"

# What of a run's ``training`` record goes to the log rather than the manifest: the in-training
# evaluations (``history``; ``learning_curve``, the chain's), the last GPU or CPU window's record, and
# the per-period commands and step counts of a hand-kept summary.
LOG_KEYS = ("history", "learning_curve", "last_window")
_SUMMARY_LOG_KEYS = ("commands", "optimizer_steps_by_period", "periods")


def split(training: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the manifest's short ``training`` card, the log) from one full ``training`` record."""
    card = {k: v for k, v in training.items() if k not in LOG_KEYS}
    log = {k: training[k] for k in LOG_KEYS if k in training}
    summary = training.get("summary")
    if isinstance(summary, Mapping):
        card["summary"] = {k: v for k, v in summary.items() if k not in _SUMMARY_LOG_KEYS}
        moved = {k: summary[k] for k in _SUMMARY_LOG_KEYS if k in summary}
        if moved:
            log["summary"] = moved
    return card, log


def write(directory: str | Path, log: Mapping[str, Any]) -> Path:
    """Write ``training_log.json`` (beside and renamed over, like the manifest)."""
    path = Path(directory) / TRAINING_LOG_NAME
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(log), indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read(directory: str | Path) -> dict[str, Any]:
    """The log of the model in ``directory``, or {} where it has none (a model exported without
    training history). A log that is there but unreadable is a ModelError, not an empty curve."""
    path = Path(directory) / TRAINING_LOG_NAME
    if not path.is_file():
        return {}
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path}: not a readable training log ({exc})") from exc
    if not isinstance(body, dict):
        raise ModelError(f"{path}: a training log is a JSON object, got {type(body).__name__}")
    return body


def full_record(training: Mapping[str, Any], log: Mapping[str, Any]) -> dict[str, Any]:
    """The ``training`` record as export had it: the card with the log's parts put back."""
    record = {**training, **{k: v for k, v in log.items() if k != "summary"}}
    if isinstance(log.get("summary"), Mapping):
        record["summary"] = {**(training.get("summary") or {}), **log["summary"]}
    return record


def total_minutes(training: Mapping[str, Any]) -> float:
    """Training minutes behind a manifest's (or checkpoint's) ``training`` record, earlier runs included:
    those the run was started from, then its own. A manifest from before curves has a hand-kept total
    (``summary.wall_minutes``), which wins."""
    summary = training.get("summary") or {}
    if "wall_minutes" in summary:
        return float(summary["wall_minutes"])
    before = float((training.get("init_from") or {}).get("cpu_minutes", 0.0))
    return before + float(training.get("elapsed_s", 0.0)) / 60.0
