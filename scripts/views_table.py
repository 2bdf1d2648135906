"""The README's accuracy-against-views table, and what views do to ratings and to the fallback search.

    python scripts/views_table.py FILE... [--views 64] [--backend cpu] [--rank 6,10,12] [--json OUT]

One pass per file, in batches of the Solver's ``batch_size`` exactly as ``trm eval --views N
--halting-only`` runs them (so its accuracy figures are the same), recording per puzzle whether the
answer is exact, the views it needed, its steps and its rating. From those it prints, per file:

- exact accuracy at each wave total (1, 4, 16, 64 views), mean views and ms per puzzle;
- the mean rating with views (``Rating.score``), and, over the files named by ``--rank`` (indices into
  FILE..., easiest first), Spearman's rank correlation between a puzzle's score and its file's rank;
- for the puzzles no view solved, the exact search's branch points to a solution when its guesses are
  ordered by the kept view's logits (what ``fallback="search"`` uses), by the probabilities pooled over
  every view (``Prediction.pooled``), and unguided.

One pass gives all three because a 64-view pass over the hard sets takes most of an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from rating_correlation import average_ranks

from trm_sdk import Solver
from trm_sdk.rating import rate_solution
from trm_sdk.solution import Prediction
from trm_sdk.views import waves


def _search_nodes(solver: Solver, grid: np.ndarray, logits: np.ndarray) -> int:
    return int(solver.task.search(grid, logits, 60.0).nodes)


def measure(solver: Solver, path: str, views: int) -> dict[str, Any]:
    data = solver.task.load(path)
    assert data.solutions is not None, f"{path} has no solutions to score against"
    seen: list[Prediction] = []
    predict = solver._predict

    def keep(grids: np.ndarray, choices: Any) -> Prediction:  # the Solver's own predictions, kept
        seen.append(predict(grids, choices))
        return seen[-1]

    solver._predict = keep  # type: ignore[method-assign]
    results, elapsed = [], 0.0
    size = solver.batch_size
    try:
        for i in range(0, len(data.puzzles), size):
            start = time.perf_counter()
            results += solver.solve_batch(list(data.puzzles[i : i + size]), views=views, fallback="none")
            elapsed += time.perf_counter() - start
            print(f"  {path}: {min(i + size, len(data.puzzles))}/{len(data.puzzles)}", file=sys.stderr)
    finally:
        del solver._predict
    exact = np.array([solver.task.is_exact(r, s) for r, s in zip(results, data.solutions, strict=True)])
    used = np.array([r.views for r in results])
    scores = [rate_solution(r, solver.max_steps).score for r in results]
    totals = np.cumsum(waves(min(views, solver.task.max_views))).tolist()
    out: dict[str, Any] = {
        "puzzles": len(results),
        "exact_by_views": {str(n): round(float((exact & (used <= n)).mean()), 4) for n in totals},
        "mean_views": round(float(used.mean()), 2),
        "mean_steps": round(float(np.mean([r.steps for r in results])), 2),
        "ms_per_puzzle": round(1000 * elapsed / len(results), 1),
        "mean_rating": round(float(np.mean(scores)), 4),
        "scores": [round(float(s), 5) for s in scores],
    }
    logits = np.concatenate([p.logits for p in seen])
    pooled = np.concatenate([p.pooled for p in seen])
    failed = np.flatnonzero(~np.array([r.solved for r in results]))
    if solver.task.has_search and len(failed):
        nodes = {
            "kept_view": [_search_nodes(solver, data.puzzles[i], logits[i]) for i in failed],
            "pooled": [_search_nodes(solver, data.puzzles[i], pooled[i]) for i in failed],
            "unguided": [_search_nodes(solver, data.puzzles[i], np.zeros_like(logits[i])) for i in failed],
        }
        kept, pool = np.array(nodes["kept_view"]), np.array(nodes["pooled"])
        out["search_when_no_view_verified"] = {
            "puzzles": len(failed),
            **{f"mean_nodes_{k}": round(float(np.mean(v)), 1) for k, v in nodes.items()},
            "pooled_fewer": round(float((pool < kept).mean()), 4),
            "pooled_more": round(float((pool > kept).mean()), 4),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--views", type=int, default=64)
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--model", default=None)
    parser.add_argument(
        "--rank", default="", help="indices of FILEs, easiest first, for the rank correlation"
    )
    parser.add_argument("--json", dest="out", default=None, help="write every figure (and scores) here")
    args = parser.parse_args(argv)
    solver = Solver("sudoku", backend=args.backend, model=args.model)
    report: dict[str, Any] = {"views": args.views, "backend": solver.backend, "sets": {}}
    for path in args.files:
        report["sets"][path] = measure(solver, path, args.views)
        row = {k: v for k, v in report["sets"][path].items() if k != "scores"}
        print(f"{Path(path).stem}: {json.dumps(row)}")
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=1))
    if args.rank:
        ranked = [args.files[int(i)] for i in args.rank.split(",")]
        scores = np.concatenate([report["sets"][p]["scores"] for p in ranked])
        ranks = np.concatenate([[r] * len(report["sets"][p]["scores"]) for r, p in enumerate(ranked)])
        rho = np.corrcoef(average_ranks(scores), average_ranks(ranks.astype(float)))[0, 1]
        report["spearman"] = {"files": ranked, "rho": round(float(rho), 4)}
        print(f"Spearman rank correlation, score vs file rank ({', '.join(ranked)}): {rho:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
