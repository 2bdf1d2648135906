"""Does an evaluation file hide relabelled or permuted copies of training puzzles?

    python scripts/sudoku_isomorphs.py EVAL_CSV TRAIN_CSV [--model DIR]

Exact copies are easy to drop from training; a copy with its digits relabelled, or its rows, columns,
bands and stacks permuted, or transposed, is the same puzzle to the network (views are exactly these
symmetries) and slips through. Each puzzle gets a fingerprint that no such symmetry changes: for every
given, how many givens share its row, its column, its box, its band and its stack, how often its digit is
given, and how many givens of the same digit share its band and its stack; sorted, and the smaller of the
puzzle's and its transpose's. Two puzzles that are copies have the same fingerprint; the converse is not
guaranteed, so a shared fingerprint marks a likely copy, not a proven one.

With ``--model``, also one view of that model on the evaluation file (halting as its manifest says),
split into the puzzles with and without a fingerprint twin in the training file: whether the model's
score there owes something to such copies.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np


def _puzzles(path: Path) -> list[str]:
    """The first column of a puzzle,solution file, its header left out."""
    with path.open() as f:
        rows = [r for r in csv.reader(f) if r]
    return [r[0] for r in rows if len(r[0]) == 81]


def _side(grid: np.ndarray) -> tuple[tuple[int, ...], ...]:
    given = grid > 0
    rows, cols = np.nonzero(given)
    per_digit = np.bincount(grid[given], minlength=10)
    cells = []
    for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
        d = grid[r, c]
        same = grid == d
        cells.append(
            (
                int(given[r].sum()),
                int(given[:, c].sum()),
                int(given[r // 3 * 3 : r // 3 * 3 + 3, c // 3 * 3 : c // 3 * 3 + 3].sum()),
                int(given[r // 3 * 3 : r // 3 * 3 + 3].sum()),
                int(given[:, c // 3 * 3 : c // 3 * 3 + 3].sum()),
                int(per_digit[d]),
                int(same[r // 3 * 3 : r // 3 * 3 + 3].sum()),
                int(same[:, c // 3 * 3 : c // 3 * 3 + 3].sum()),
            )
        )
    return tuple(sorted(cells))


def fingerprint(puzzle: str) -> tuple[tuple[int, ...], ...]:
    """The same for every relabelled, permuted or transposed copy of ``puzzle`` ('.' or '0' blank)."""
    grid = np.array([0 if ch in ".0" else int(ch) for ch in puzzle], np.int64).reshape(9, 9)
    return min(_side(grid), _side(grid.T))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_csv", type=Path)
    parser.add_argument("train_csv", type=Path)
    parser.add_argument("--model", type=Path, help="an exported model folder: its one-view score, split")
    args = parser.parse_args()
    puzzles, train = _puzzles(args.eval_csv), _puzzles(args.train_csv)
    exact = set(train)
    seen = {fingerprint(p) for p in train if p not in set(puzzles)}  # training as used: copies dropped
    copied = [p in exact for p in puzzles]
    twin = [(not c) and fingerprint(p) in seen for p, c in zip(puzzles, copied, strict=True)]
    print(
        f"{args.eval_csv.name}: {len(puzzles)} puzzles; exact copies in {args.train_csv.name}: {sum(copied)}"
    )
    print(
        f"  not copied, sharing a fingerprint with a training puzzle (likely relabelled copies): {sum(twin)}"
    )
    if args.model is None:
        return
    from trm_sdk import Solver

    solver = Solver("sudoku", model=args.model, backend="cpu")
    data = solver.task.load(args.eval_csv)
    if data.solutions is None:
        raise SystemExit(f"{args.eval_csv} has no answers to score against")
    results = solver.solve_batch(list(data.puzzles), views=1, fallback="none")
    right = np.array([solver.task.is_exact(r, a) for r, a in zip(results, data.solutions, strict=True)])
    groups = {
        "exact copies (left out of training)": np.array(copied),
        "fingerprint twins of training puzzles": np.array(twin),
        "neither": ~np.array(copied) & ~np.array(twin),
    }
    for name, mask in groups.items():
        n = int(mask.sum())
        share = f"{right[mask].mean():.1%}" if n else "-"
        print(f"  one view of {args.model}: {name}: {int(right[mask].sum())}/{n} solved ({share})")


if __name__ == "__main__":
    main()
