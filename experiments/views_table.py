"""The accuracy-against-views table, and what views do to ratings and to the fallback search.

    python experiments/views_table.py FILE... [--views 64] [--backend cpu] [--rank 6,10,12] [--json OUT]

One pass per file, in batches of the Solver's ``batch_size`` exactly as ``trm eval --views N
--no-every-step`` runs them (so its accuracy figures are the same), through
:func:`trm_sdk.evaluation.predict_all`, which keeps the network's own output per puzzle: whether the
answer is exact, the views it needed, its steps, its rating, and its logits. From those it prints, per
file:

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

from trm_sdk import Solver, evaluation
from trm_sdk.rating import rate


def _search_nodes(solver: Solver, grid: np.ndarray, logits: np.ndarray) -> int:
    return int(solver.task.search(grid, logits, 60.0).nodes)


def measure(solver: Solver, path: str, views: int) -> dict[str, Any]:
    puzzles, answers = evaluation.load_scored(solver, path)
    done = [0]

    def progress(n: int) -> None:
        done[0] += n
        print(f"  {path}: {done[0]}/{len(puzzles)}", file=sys.stderr)

    start = time.perf_counter()
    pred = evaluation.predict_all(solver, puzzles, progress, views=views)
    elapsed = time.perf_counter() - start
    exact = solver.task.exact_answers(pred.answers, puzzles, answers)
    scores = [
        rate(int(steps), float(conf), bool(ok), solver.max_steps, int(ran)).score
        for steps, conf, ok, ran in zip(pred.steps, pred.confidence, pred.solved, pred.views, strict=True)
    ]
    read = evaluation.accuracy_by_budget(exact, pred, solver.max_steps, min(views, solver.task.max_views))
    out: dict[str, Any] = {
        "puzzles": len(puzzles),
        "exact_by_views": read["by_views"],
        "mean_views": round(float(pred.views.mean()), 2),
        "mean_steps": round(float(pred.steps.mean()), 2),
        "ms_per_puzzle": round(1000 * elapsed / len(puzzles), 1),
        "mean_rating": round(float(np.mean(scores)), 4),
        "scores": [round(float(s), 5) for s in scores],
    }
    failed = np.flatnonzero(~pred.solved)
    if solver.task.has_search and len(failed):
        nodes = {
            "kept_view": [_search_nodes(solver, puzzles[i], pred.logits[i]) for i in failed],
            "pooled": [_search_nodes(solver, puzzles[i], pred.pooled[i]) for i in failed],
            "unguided": [_search_nodes(solver, puzzles[i], np.zeros_like(pred.logits[i])) for i in failed],
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
        scores = [s for p in ranked for s in report["sets"][p]["scores"]]
        ranks = [r for r, p in enumerate(ranked) for _ in report["sets"][p]["scores"]]
        rho = evaluation.spearman(scores, ranks)
        report["spearman"] = {"files": ranked, "rho": None if rho is None else round(rho, 4)}
        value = "undefined (every puzzle got the same score)" if rho is None else f"{rho:.3f}"
        print(f"Spearman rank correlation, score vs file rank ({', '.join(ranked)}): {value}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
