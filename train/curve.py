"""The learning curve a model's manifest records: CPU-minutes against accuracy, over every run it descends
from.

A shipped model is often the last of a chain of runs (a run started with ``--init-from`` from the model
before it, then resumed), and what a reader wants to know is what the whole chain bought per minute. Each
run's history (the in-training evaluations on the task's fixed evaluation set) counts minutes from its own
start, so the runs before it are carried in ``init_from`` and the minutes are offset by theirs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trm_sdk.training_log import total_minutes

__all__ = ["HISTORY_POINTS", "learning_curve", "source_record", "thin", "total_minutes"]

_FIELDS = ("exact_all_steps", "exact_halting", "cell_accuracy", "mean_steps", "stage")


HISTORY_POINTS = 400  # the most in-training evaluations a saved state keeps


def thin(history: list[dict[str, Any]], most: int = HISTORY_POINTS) -> list[dict[str, Any]]:
    """At most ``most`` evaluations, evenly spaced, the first and the last always among them.

    A long run evaluates hundreds of times and its state must stay compact, but the learning curve is
    the whole run: dropping the oldest evaluations would cut off the start of the curve the manifest
    records, so the curve loses resolution instead.
    """
    if len(history) <= most:
        return list(history)
    last = len(history) - 1
    picks = sorted({round(i * last / (most - 1)) for i in range(most)})
    return [history[i] for i in picks]


def learning_curve(training: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every in-training evaluation of this run and of the runs it was started from, each with the
    cumulative training minutes at that point and the run it belongs to (1 is the earliest recorded)."""
    source = training.get("init_from") or {}
    before: list[dict[str, Any]] = [dict(p) for p in source.get("learning_curve", [])]
    offset = float(source.get("cpu_minutes", before[-1]["cpu_minutes"] if before else 0.0))
    run = max((int(p.get("run", 1)) for p in before), default=0) + 1
    own = [
        {
            "run": run,
            "cpu_minutes": round(offset + float(h["elapsed_s"]) / 60.0, 1),
            "step": h["step"],
            **{k: h[k] for k in _FIELDS if k in h},
        }
        for h in training.get("history", [])
    ]
    return before + own


def source_record(training: Mapping[str, Any]) -> dict[str, Any]:
    """What a run started from a shipped model keeps of that model's training: its total minutes and its
    curve (for a manifest that predates curves, its own history offset so that it ends at that total)."""
    minutes = total_minutes(training)
    curve = training.get("learning_curve")
    if not curve:
        history = training.get("history", [])
        elapsed = float(training.get("elapsed_s", 0.0)) / 60.0
        curve = learning_curve({"history": history, "init_from": {"cpu_minutes": minutes - elapsed}})
    return {"cpu_minutes": round(minutes, 1), "learning_curve": list(curve)}
