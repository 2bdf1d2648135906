"""How well Solver.rate orders puzzles that curators ranked by difficulty: Spearman's rank correlation.

    python scripts/rating_correlation.py EASY.csv MEDIUM.csv HARD.csv [--backend cpu] [--model DIR]

Files are given easiest first; each puzzle's rank is its file's position. Prints the level counts per
file and the correlation between the rating score and that rank (ties get average ranks).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from trm_sdk import Solver
from trm_sdk.rating import rate_solution
from trm_sdk.tasks.sudoku import datasets


def average_ranks(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2
        i = j + 1
    return ranks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="puzzle files, easiest first")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--model", default=None)
    parser.add_argument(
        "--views", type=int, default=1, help="views per puzzle (README's figure is single-view, the default)"
    )
    args = parser.parse_args(argv)
    if len(args.files) < 2:
        parser.error("give at least two files to rank")
    solver = Solver("sudoku", backend=args.backend, model=args.model, views=args.views)
    scores, ranks = [], []
    for rank, path in enumerate(args.files):
        results = solver.solve_batch(list(datasets.load(path).puzzles))
        ratings = [rate_solution(r, solver.max_steps) for r in results]
        levels = [g.level for g in ratings]
        counts = " / ".join(f"{levels.count(k)} {k}" for k in ("easy", "medium", "hard", "extreme"))
        mean = np.mean([g.score for g in ratings])
        print(f"{path}: {len(ratings)} puzzles, mean score {mean:.3f}; {counts}")
        scores += [g.score for g in ratings]
        ranks += [rank] * len(ratings)
    if len(set(scores)) == 1:
        print("Spearman rank correlation, score vs file rank: undefined (every puzzle got the same score)")
        return 0
    rho = np.corrcoef(average_ranks(np.array(scores)), average_ranks(np.array(ranks, float)))[0, 1]
    print(f"Spearman rank correlation, score vs file rank: {rho:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
