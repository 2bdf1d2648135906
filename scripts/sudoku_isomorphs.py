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
from pathlib import Path

import numpy as np

from trm_sdk.tasks import get_task


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


def fingerprint(grid: np.ndarray) -> tuple[tuple[int, ...], ...]:
    """The same for every relabelled, permuted or transposed copy of a (9, 9) puzzle (0 blank)."""
    g = np.asarray(grid, np.int64).reshape(9, 9)
    return min(_side(g), _side(g.T))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_csv", type=Path)
    parser.add_argument("train_csv", type=Path)
    parser.add_argument("--model", type=Path, help="an exported model folder: its one-view score, split")
    args = parser.parse_args()
    task = get_task("sudoku")
    evaluation, raw = task.load(args.eval_csv), task.training_file(args.train_csv)
    # Training as the trainer uses it: less every puzzle that stands in an evaluation-only set.
    used, _ = task.training.without_held_out([raw], [args.train_csv])
    in_file = {g.tobytes() for g in raw.puzzles}
    seen = {fingerprint(g) for g in used}
    copied = np.array([g.tobytes() in in_file for g in evaluation.puzzles])
    twin = np.array(
        [not c and fingerprint(g) in seen for g, c in zip(evaluation.puzzles, copied, strict=True)]
    )
    print(
        f"{args.eval_csv.name}: {len(copied)} puzzles; exact copies in {args.train_csv.name}: {copied.sum()}"
    )
    print(
        f"  not copied, sharing a fingerprint with a training puzzle (likely relabelled copies): {twin.sum()}"
    )
    if args.model is None:
        return
    if evaluation.solutions is None:
        raise SystemExit(f"{args.eval_csv} has no answers to score against")
    from trm_sdk import Solver

    solver = Solver("sudoku", model=args.model, backend="cpu")
    results = solver.solve_batch(list(evaluation.puzzles), views=1, fallback="none")
    right = np.array([task.is_exact(r, a) for r, a in zip(results, evaluation.solutions, strict=True)])
    groups = {
        "exact copies (left out of training)": copied,
        "fingerprint twins of training puzzles": twin,
        "neither": ~copied & ~twin,
    }
    for name, mask in groups.items():
        n = int(mask.sum())
        share = f"{right[mask].mean():.1%}" if n else "-"
        print(f"  one view of {args.model}: {name}: {int(right[mask].sum())}/{n} solved ({share})")


if __name__ == "__main__":
    main()
