"""The CPU backend's engines and the time budget, measured: the figures in docs/lab-notes/timings.md.

    python experiments/cpu_engines.py crossover --reps 5 --threads 1   # ms per step by rows, each engine
    python experiments/cpu_engines.py claim --reps 3 --threads 1       # 256 Sudoku-Extreme, batch 64
    python experiments/cpu_engines.py threads --reps 5                 # 1 against 2 threads, batch 1 and 64
    python experiments/cpu_engines.py accuracy FILE --limit 100        # default Solver, each engine
    python experiments/cpu_engines.py budget FILE --limit 60           # batch-1 p50/p95, no/250/100 ms budget

Engines are timed interleaved (one run of each in turn, ``--reps`` times) and the median is reported, so
a machine whose speed drifts, or a neighbour's load, hits both alike. Sudoku-Extreme is evaluation-only:
it is used here to measure speed and agreement, never to choose a default.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import numpy as np

from trm_sdk import Solver, recursion
from trm_sdk.backends.cpu import CPUBackend
from trm_sdk.manifest import load_manifest
from trm_sdk.shipped import model_dir
from trm_sdk.tasks import get_task

EXTREME = "sudoku/sudoku_extreme/train_subsample1000.csv"


def _extreme(data: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    sudoku = get_task("sudoku")
    loaded = sudoku.load(str(data / EXTREME), limit=n)
    assert loaded.solutions is not None, "Sudoku-Extreme comes with its solutions"
    return loaded.puzzles, loaded.solutions


def _timed(backend: CPUBackend, tokens: np.ndarray, steps: int = 16) -> tuple[float, np.ndarray]:
    """Seconds for ``steps`` fixed steps on ``tokens`` (one view, no halting), and the answer logits."""
    start = time.perf_counter()
    run = recursion.run(backend, tokens, steps, 1.0)
    return time.perf_counter() - start, run.logits


def crossover(args: argparse.Namespace) -> None:
    manifest, sudoku = load_manifest(model_dir("sudoku")), get_task("sudoku")
    tokens = sudoku.encode(_extreme(args.data, 64)[0])
    engines = {
        "onnxruntime_fp32": CPUBackend(manifest, args.threads, engine="onnxruntime"),
        "openvino_bf16": CPUBackend(manifest, args.threads, engine="openvino", precision="bf16"),
    }
    for rows in (1, 2, 3, 4, 6, 8, 12, 16, 32, 64):
        times: dict[str, list[float]] = {k: [] for k in engines}
        for _ in range(args.reps):
            for name, backend in engines.items():
                times[name].append(1000 * _timed(backend, tokens[:rows])[0] / 16)
        row = {k: round(statistics.median(v), 3) for k, v in times.items()}
        print(json.dumps({"rows": rows, "ms_per_step": row}), flush=True)


def claim(args: argparse.Namespace) -> None:
    """The issue's test: 256 Sudoku-Extreme puzzles, 16 fixed steps, one view, batch 64."""
    manifest, sudoku = load_manifest(model_dir("sudoku")), get_task("sudoku")
    puzzles, solutions = _extreme(args.data, 256)
    tokens = sudoku.encode(puzzles)
    engines = {
        "onnxruntime_fp32": CPUBackend(manifest, args.threads, engine="onnxruntime"),
        "auto": CPUBackend(manifest, args.threads),
    }
    times: dict[str, list[float]] = {k: [] for k in engines}
    answers: dict[str, np.ndarray] = {}
    for _ in range(args.reps):
        for name, backend in engines.items():
            total, parts = 0.0, []
            for i in range(0, len(tokens), 64):
                seconds, logits = _timed(backend, tokens[i : i + 64])
                total += seconds
                parts.append(sudoku.decode(logits))
            times[name].append(total)
            answers[name] = np.concatenate(parts)
    median = {k: statistics.median(v) for k, v in times.items()}
    exact = {
        k: float(np.mean([np.array_equal(a, s) for a, s in zip(v, solutions, strict=True)]))
        for k, v in answers.items()
    }
    same = float(np.mean(answers["auto"] == answers["onnxruntime_fp32"]))
    print(
        json.dumps(
            {
                "engines": {k: b.engine for k, b in engines.items()},
                "median_s": median,
                "runs_s": times,
                "speedup": median["onnxruntime_fp32"] / median["auto"],
                "exact": exact,
                "cells_agreeing": same,
            }
        )
    )


def threads(args: argparse.Namespace) -> None:
    manifest, sudoku = load_manifest(model_dir("sudoku")), get_task("sudoku")
    tokens = sudoku.encode(_extreme(args.data, 64)[0])
    for rows in (1, 64):
        for engine in ("onnxruntime", "openvino"):
            backends = {n: CPUBackend(manifest, n, engine=engine) for n in (1, 2)}
            times: dict[int, list[float]] = {n: [] for n in backends}
            for _ in range(args.reps):
                for n, backend in backends.items():
                    times[n].append(1000 * _timed(backend, tokens[:rows])[0])
            medians = {n: round(statistics.median(v), 1) for n, v in times.items()}
            print(
                json.dumps({"rows": rows, "engine": backends[1].engine, "ms_16_steps": medians}), flush=True
            )


def accuracy(args: argparse.Namespace) -> None:
    """The default Solver (its views and stopping rule) on ONNX Runtime fp32 and on auto's engines."""
    task = get_task(args.task)
    data = task.load(str(args.file), limit=args.limit)
    if data.solutions is None:
        raise SystemExit(f"{args.file} has no answers to score against")
    out: dict[str, object] = {"set": args.file.name, "puzzles": len(data.puzzles)}
    for engine in ("onnxruntime", None):
        solver = Solver(args.task, backend="cpu", engine=engine, threads=args.threads)
        start = time.perf_counter()
        results = solver.solve_batch(list(data.puzzles))
        out[engine or "auto"] = {
            "engines": solver.engine,
            "solved": round(float(np.mean([r.solved for r in results])), 4),
            "exact": round(
                float(
                    np.mean([np.array_equal(r.grid, a) for r, a in zip(results, data.solutions, strict=True)])
                ),
                4,
            ),
            "seconds": round(time.perf_counter() - start, 1),
        }
    print(json.dumps(out), flush=True)


def budget(args: argparse.Namespace) -> None:
    """Batch-1 latency and accuracy with the default Solver: no budget, 250 ms and 100 ms, interleaved."""
    sudoku = get_task("sudoku")
    data = sudoku.load(str(args.file), limit=args.limit)
    if data.solutions is None:
        raise SystemExit(f"{args.file} has no answers to score against")
    solver = Solver("sudoku", threads=args.threads)
    solver.solve(data.puzzles[0])  # the first call pays for lazy initialisation
    budgets = {"none": math.inf, "250ms": 0.25, "100ms": 0.1}
    rows: dict[str, dict[str, list[float]]] = {k: {"ms": [], "exact": [], "views": []} for k in budgets}
    for puzzle, answer in zip(data.puzzles, data.solutions, strict=True):
        for name, seconds in budgets.items():
            start = time.perf_counter()
            r = solver.solve(puzzle, time_budget=seconds)
            rows[name]["ms"].append(1000 * (time.perf_counter() - start))
            rows[name]["exact"].append(float(np.array_equal(r.grid, answer)))
            rows[name]["views"].append(r.views)
            assert r.solved == bool(sudoku.verify(r.grid[None], puzzle[None])[0]), "solved must not lie"
    out: dict[str, object] = {"set": args.file.name, "puzzles": len(data.puzzles), "engines": solver.engine}
    for name, row in rows.items():
        out[name] = {
            "p50_ms": round(float(np.percentile(row["ms"], 50)), 1),
            "p95_ms": round(float(np.percentile(row["ms"], 95)), 1),
            "max_ms": round(max(row["ms"]), 1),
            "exact": round(float(np.mean(row["exact"])), 4),
            "mean_views": round(float(np.mean(row["views"])), 2),
        }
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["crossover", "claim", "threads", "accuracy", "budget"])
    parser.add_argument("file", nargs="?", type=Path, help="accuracy, budget: a puzzle,answer CSV")
    parser.add_argument("--task", default="sudoku", help="accuracy: the task of FILE")
    parser.add_argument("--data", type=Path, default=Path("../shared/data"), help="the shared data folder")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--limit", type=int, default=100)
    args = parser.parse_args()
    if args.what in ("accuracy", "budget") and args.file is None:
        parser.error(f"{args.what} needs a FILE")
    globals()[args.what](args)


if __name__ == "__main__":
    main()
