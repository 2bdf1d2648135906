"""The release steps for a model: calibrate how it stops, and decide whether it replaces another.

A model stops in one of two ways, and each has its calibration. On its halting head's word, at a
threshold (:func:`calibrate`): the rule of a task with no exact verifier, and the one the unrolled ONNX
graph spells out. Or at its first verified answer, with a step budget and a number of views
(:func:`calibrate_budget`): where the task's verifier is exact (Sudoku, mazes) this is never less
accurate and, on solved puzzles, never slower, since a verified answer is right and an unverified one is
known wrong however sure the head is. The accuracy tables come from :mod:`trm_sdk.evaluation`, as
``trm eval``'s do. All are generic over tasks and write only through :func:`trm_sdk.manifest.update`.
``trm calibrate`` and ``trm compare`` are their commands.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import backends, halting, recursion
from .evaluation import budget_table
from .manifest import Manifest, load_manifest, update
from .solver import Solver
from .tasks import Task, task_for_model

__all__ = [
    "THRESHOLDS",
    "calibrate",
    "calibrate_budget",
    "compare",
    "halting_table",
    "record_budget",
    "record_threshold",
]

THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)  # the thresholds calibration chooses among


def halting_table(
    backend: backends.Backend,
    task: Task,
    path: str | os.PathLike[str],
    steps: int,
    batch: int = 256,
    progress: Callable[[int], None] = lambda n: None,
) -> dict[str, list[float]]:
    """Accuracy and mean steps on one file at every threshold in :data:`THRESHOLDS` and with all steps.

    Each puzzle runs every step once; where it would halt under any threshold is read off that one run.
    Returns {"all_steps" or threshold: [exact accuracy, mean steps]}.
    """
    data = task.load(path)
    if data.solutions is None:
        raise ValueError(f"{path} has no answers: calibration needs puzzle,answer pairs")
    probs, right = [], []
    for i in range(0, len(data.puzzles), batch):
        puzzles, expected = data.puzzles[i : i + batch], data.solutions[i : i + batch]
        q, logits = recursion.trace(backend, task.encode(puzzles), steps)
        ok = [task.exact_answers(task.decode(step_logits), puzzles, expected) for step_logits in logits]
        probs.append(q)
        right.append(np.stack(ok, axis=1))  # (B, steps)
        progress(len(puzzles))
    q_all, ok_all = np.concatenate(probs), np.concatenate(right)
    table: dict[str, list[float]] = {"all_steps": [round(float(ok_all[:, -1].mean()), 4), float(steps)]}
    for t in THRESHOLDS:
        k = halting.halting_steps(q_all, t, steps) - 1
        table[str(t)] = [
            round(float(ok_all[np.arange(len(k)), k].mean()), 4),
            round(float((k + 1).mean()), 2),
        ]
    return table


def _calibration_task(manifest: Manifest, files: Sequence[str | os.PathLike[str]]) -> Task:
    """The model's task, once no file is an evaluation set: choosing on one would tune on the test."""
    task = task_for_model(manifest)
    for path in files:
        if task.is_eval_only(path):
            raise ValueError(f"{path} is an evaluation-only set: calibrating on it would tune on the test")
    return task


def calibrate(
    model: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    tolerance: float = 0.005,
    backend: str = "cpu",
    progress: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """The smallest threshold whose accuracy with halting is within ``tolerance`` of the accuracy with
    all steps on every file (1.0, never halt early, if none is).

    Too low a threshold stops easy puzzles on a wrong answer; too high makes them pay for steps they do
    not need. Evaluation-only files are refused: choosing a threshold on them would tune on the test.
    """
    manifest = load_manifest(Path(model))
    task = _calibration_task(manifest, files)
    runtime = backends.create(backend, manifest)
    tables = {
        Path(p).name: halting_table(runtime, task, p, manifest.max_steps, progress=progress) for p in files
    }
    chosen = next(
        (
            t
            for t in THRESHOLDS
            if all(tab[str(t)][0] >= tab["all_steps"][0] - tolerance for tab in tables.values())
        ),
        1.0,
    )
    return {
        "threshold": chosen,
        "rule": f"smallest threshold within {tolerance} of all-steps accuracy on every file",
        "files": tables,  # name -> {threshold: [accuracy, mean steps]}
    }


def calibrate_budget(
    model: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    max_steps: int,
    views: int,
    tolerance: float = 0.005,
    backend: str = "cpu",
    progress: Callable[[int], None] = lambda n: None,
) -> dict[str, Any]:
    """For a model that stops at its first verified answer: the step budget and the views to ship with.

    The budget is the smallest in :data:`trm_sdk.evaluation.STEP_BUDGETS` (up to ``max_steps``) whose
    first-view accuracy is within ``tolerance`` of ``max_steps``' on every file; the views, the smallest
    wave total within ``tolerance`` of ``views``' on every file. A step or a view that solves nothing more
    only costs time on the puzzles the network cannot solve. ``max_steps`` and ``views`` bound what the
    caller will pay.
    """
    manifest = load_manifest(Path(model))
    _calibration_task(manifest, files)  # refuses an evaluation-only file before any work
    solver = Solver(model=Path(model), backend=backend, stop_on_verified=True)
    tables = {Path(p).name: budget_table(solver, p, max_steps, views, progress=progress) for p in files}

    def smallest(key: str) -> int:  # each table ends with the bound: max_steps, or all the views
        keys = list(tables[next(iter(tables))][key])
        return next(
            int(k) for k in keys if all(t[key][k] >= t[key][keys[-1]] - tolerance for t in tables.values())
        )

    return {
        "max_steps": smallest("by_steps"),
        "views": smallest("by_views"),
        "rule": (
            f"stop on the first verified step (no halting head); the smallest step budget, then the smallest "
            f"wave total of views, within {tolerance} of {max_steps} steps and {views} views on every file"
        ),
        "files": tables,
    }


def _calibration_record(
    result: dict[str, Any], chosen: set[str], data_note: str, command: str
) -> dict[str, Any]:
    """What a calibration leaves in the manifest beside its choice: the tables, and how to redo them."""
    return {
        **{k: v for k, v in result.items() if k not in chosen},
        "data": data_note,
        "command": command,
        "measured": time.strftime("%Y-%m-%d", time.gmtime()),
    }


def record_threshold(
    model: str | os.PathLike[str], result: dict[str, Any], data_note: str, command: str
) -> Path:
    """Record :func:`calibrate`'s threshold in the model's manifest, with its tables under
    ``halting.calibration``; returns the manifest's path."""
    record = _calibration_record(result, {"threshold"}, data_note, command)
    return update(Path(model), {"halting": {"threshold": result["threshold"], "calibration": record}})


def record_budget(
    model: str | os.PathLike[str], budget: dict[str, Any], data_note: str, command: str
) -> Path:
    """Record :func:`calibrate_budget`'s choice: the model stops at its first verified answer (threshold
    1.0) within the chosen step budget, and runs the chosen views by default. Returns the manifest's path.

    The views record is written whole, every key it may hold, so that none from an earlier choice
    outlives it.
    """
    record = _calibration_record(budget, {"max_steps", "views"}, data_note, command)
    halting = {"threshold": 1.0, "stop_on_verified": True, "max_steps": budget["max_steps"]}
    inference = {
        "views": budget["views"],
        "rule": "trm calibrate --stop-on-verified: see halting.calibration",
        "measured_on": {name: table["by_views"] for name, table in budget["files"].items()},
        "command": record["command"],
        "measured": record["measured"],
    }
    return update(Path(model), {"halting": {**halting, "calibration": record}, "inference": inference})


def _sets(manifest: Manifest) -> dict[str, dict[str, Any]]:
    sets = manifest.raw.get("evaluation", {}).get("sets")
    if not sets:
        raise ValueError(
            f"{manifest.directory} has no evaluation: run `trm eval --model ... --write-manifest` first"
        )
    return dict(sets)


def compare(
    old: str | os.PathLike[str], new: str | os.PathLike[str], easy_tolerance: float = 0.005
) -> dict[str, Any]:
    """Should model ``new`` replace model ``old``? From the evaluations recorded in their manifests.

    The rule: more puzzles solved exactly with halting over all the hard sets both measured, pooled so
    that an 11-puzzle set weighs what it holds, and no easy set (the task's :meth:`Task.is_easy_set`)
    more than ``easy_tolerance`` below the old figure. ``verdict`` is "replace", "keep", or a sentence
    starting "not comparable".
    """
    # Only the recorded evaluations are compared: the models' files need not be here.
    old_m, new_m = load_manifest(Path(old), verify=False), load_manifest(Path(new), verify=False)
    if old_m.task != new_m.task:
        raise ValueError(f"{old} is a {old_m.task} model and {new} a {new_m.task} one")
    task = task_for_model(old_m)
    old_sets, new_sets = _sets(old_m), _sets(new_m)
    rows: list[dict[str, Any]] = []
    lost: list[str] = []
    hard_old = hard_new = 0.0
    hard_n = 0
    for name in sorted(set(old_sets) & set(new_sets)):
        a, b = old_sets[name], new_sets[name]
        if a.get("puzzles") != b.get("puzzles"):
            rows.append(
                {"set": name, "note": f"not comparable: {a.get('puzzles')} vs {b.get('puzzles')} puzzles"}
            )
            continue
        easy = task.is_easy_set(name)
        rows.append(
            {
                "set": name,
                "puzzles": a["puzzles"],
                "easy": easy,
                "old": a["exact_halting"],
                "new": b["exact_halting"],
                "old_all_steps": a.get("exact_all_steps"),
                "new_all_steps": b.get("exact_all_steps"),
                "old_steps": a.get("mean_steps"),
                "new_steps": b.get("mean_steps"),
            }
        )
        if easy:
            if b["exact_halting"] < a["exact_halting"] - easy_tolerance:
                lost.append(name)
        else:
            hard_old += a["exact_halting"] * a["puzzles"]
            hard_new += b["exact_halting"] * a["puzzles"]
            hard_n += a["puzzles"]
    result: dict[str, Any] = {"rows": rows, "easy_lost": lost}
    if not hard_n:
        result["verdict"] = "not comparable: no hard set measured by both"
        return result
    result.update(hard_old=hard_old / hard_n, hard_new=hard_new / hard_n, hard_puzzles=hard_n)
    better = result["hard_new"] > result["hard_old"]
    result["verdict"] = "replace" if better and not lost else "keep"
    return result
