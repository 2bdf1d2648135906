"""Does an evaluation file hide relabelled or permuted copies of training puzzles?

    python experiments/sudoku_isomorphs.py EVAL_CSV TRAIN_CSV... [--model DIR]

Exact copies are easy to drop from training; a copy with its digits relabelled, or its rows, columns,
bands and stacks permuted, or transposed, is the same puzzle to the network and slips through. The
fingerprint of :mod:`trm_sdk.tasks.sudoku.isomorph` is the same for all such copies; training drops the
puzzles that share one with an evaluation puzzle (``datasets.without``), and this script counts, per
evaluation file, the exact copies and the fingerprint twins the training files hold, and how many puzzles
training keeps of each.

With ``--model``, also one view of that model on the evaluation file (halting as its manifest says),
split into exact copies, twins and the rest: whether a model trained before the twins were dropped owes
its score there to such copies.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from trm_sdk.tasks import get_task
from trm_sdk.tasks.sudoku import isomorph


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("eval_csv", type=Path)
    parser.add_argument("train_csv", type=Path, nargs="+", help="the training files, together")
    parser.add_argument("--model", type=Path, help="an exported model folder: its one-view score, split")
    args = parser.parse_args()
    task = get_task("sudoku")
    evaluation = task.load(args.eval_csv)
    raw = [task.training_file(path) for path in args.train_csv]
    in_files = {g.tobytes() for data in raw for g in data.puzzles}
    copied = np.array([g.tobytes() in in_files for g in evaluation.puzzles])
    twin = isomorph.twins(evaluation.puzzles, np.concatenate([data.puzzles for data in raw])) & ~copied
    names = ", ".join(path.name for path in args.train_csv)
    print(f"{args.eval_csv.name}: {len(copied)} puzzles; exact copies in {names}: {copied.sum()}")
    print(
        f"  not copied, sharing a fingerprint with a training puzzle (likely relabelled copies): {twin.sum()}"
    )
    for path, data in zip(args.train_csv, raw, strict=True):
        used, _ = task.training_pairs((path,))  # as the trainer takes it
        print(f"  training keeps {len(used)} of the {len(data)} puzzles of {path.name}")
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
