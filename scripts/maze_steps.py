"""Accuracy of a maze model against supervision steps and views, one pass per set.

    python scripts/maze_steps.py FILE [FILE ...] [--model DIR] [--max-steps 128] [--views 8] [--json OUT]

The model runs as the shipped Solver does (CPU backend, no search), with stop-on-verified and no halting
head (threshold 1.0), up to ``--max-steps``. A puzzle then ends at the first step whose route verifies,
so one run gives the accuracy at every smaller step budget as well: a maze counts as solved within k
steps when its first verified step is k or less. With views, a maze that view 1 does not solve runs its
other symmetries in waves (1, then 3, then 4: totals 1, 4, 8), and the accuracy at each total is read off
the views each maze ran. Times are wall-clock ms per maze for the whole set.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from trm_sdk import Solver
from trm_sdk.tasks.maze import datasets

STEP_MARKS = (8, 16, 24, 32, 48, 64, 96, 128, 192, 256)


def measure(solver: Solver, path: Path, max_steps: int, views: int, limit: int | None) -> dict:
    data = datasets.load(path, limit=limit)
    t0 = time.perf_counter()
    results = solver.solve_batch(data.puzzles, max_steps=max_steps, halt_threshold=1.0, views=views)
    seconds = time.perf_counter() - t0
    solved = np.array([r.solved for r in results])
    steps = np.array([r.steps for r in results])
    ran = np.array([r.views for r in results])
    first_view = solved & (ran == 1)
    return {
        "mazes": len(results),
        "max_steps": max_steps,
        "views": views,
        "solved": round(float(solved.mean()), 4),
        "by_steps_view_1": {
            k: round(float((first_view & (steps <= k)).mean()), 4) for k in STEP_MARKS if k <= max_steps
        },
        "by_views": {w: round(float((solved & (ran <= w)).mean()), 4) for w in (1, 4, 8) if w <= views},
        "mean_steps_solved_view_1": round(float(steps[first_view].mean()), 2) if first_view.any() else None,
        "mean_views": round(float(ran.mean()), 2),
        "ms_per_maze": round(1000 * seconds / max(len(results), 1), 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--model", default=None, help="exported maze model (default: the shipped one)")
    parser.add_argument("--max-steps", type=int, default=128)
    parser.add_argument("--views", type=int, default=1, choices=range(1, 9), metavar="1..8")
    parser.add_argument("--limit", type=int, default=None, help="first N mazes of each file")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    solver = Solver("maze", backend="cpu", model=args.model, threads=args.threads, stop_on_verified=True)
    report = {}
    for path in args.files:
        report[str(path)] = row = measure(solver, path, args.max_steps, args.views, args.limit)
        print(path.name, json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
