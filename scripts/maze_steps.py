"""Accuracy of a maze model against supervision steps and views, one pass per set, on any file.

    python scripts/maze_steps.py FILE [FILE ...] [--model DIR] [--max-steps 128] [--views 8] [--json OUT]

The tables are :func:`trm_sdk.release.budget_table`'s, the ones ``trm calibrate --stop-on-verified``
chooses the shipped budget from; this script reads them on evaluation sets too (Maze-Hard test), to
report, never to choose. Each maze runs with stop-on-verified and no halting head up to ``--max-steps``,
so one run gives the accuracy within every smaller step budget; a maze the first view leaves unsolved
runs its other symmetries in waves (totals 1, 4, 8). Times are wall-clock ms per maze for the whole set.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trm_sdk import Solver
from trm_sdk.release import budget_table


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
        report[str(path)] = row = budget_table(solver, path, args.max_steps, args.views, limit=args.limit)
        print(path.name, json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
