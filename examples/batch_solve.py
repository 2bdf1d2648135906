"""Solve a file of puzzles and write the answers as CSV, with a progress bar.

    python examples/batch_solve.py puzzles.txt answers.csv
    python examples/batch_solve.py top95.csv answers.csv --exact  # e.g. Norvig's 95 hard puzzles

The input is one puzzle per line (81 characters, ``.`` or ``0`` for blanks) or a ``puzzle,solution`` /
Sudoku-Extreme CSV. Each output row has the puzzle, the answer, whether it verified, the steps and how
it was found (``trm`` or ``trm+search``).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time

import click

from trm_sdk import Solver, TRMError
from trm_sdk.tasks.sudoku import codec, datasets


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("puzzles", help="a .txt (one puzzle per line) or .csv file")
    parser.add_argument("out", help="CSV to write")
    parser.add_argument("--exact", action="store_true", help="finish failed answers with exact search")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)

    try:
        puzzles = datasets.load(args.puzzles).puzzles  # errors name the file, line and cell
    except (TRMError, OSError) as exc:
        parser.error(str(exc))
    solver = Solver("sudoku", fallback="search" if args.exact else None, batch_size=args.batch_size)
    start, solved = time.perf_counter(), 0
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["puzzle", "answer", "solved", "status", "steps", "method"])
        with click.progressbar(length=len(puzzles), label="solving", file=sys.stderr) as bar:
            for i in range(0, len(puzzles), args.batch_size):
                for r in solver.solve_batch(list(puzzles[i : i + args.batch_size])):
                    assert r.puzzle is not None
                    row = [codec.to_string(r.puzzle), codec.to_string(r.grid), r.solved, r.status, r.steps]
                    writer.writerow([*row, r.method])
                    solved += r.solved
                    bar.update(1)
    seconds = time.perf_counter() - start
    print(f"{len(puzzles)} puzzles in {seconds:.1f} s on {solver.backend}, {solved} verified")
    print(f"answers in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
