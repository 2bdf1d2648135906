"""Sources of test-time diversity at equal compute: symmetric views against noise on the initial state.

    python experiments/diversity.py FILE [--puzzles 100] [--runs 16] [--sigma 0.3,1.0] [--model DIR]

Every puzzle gets ``--runs`` runs of the recursion (each to its halting step, at most the model's N_sup
steps); a puzzle counts as solved when any run's answer verifies, as with ``Solver(views=...)``. Run 1
is always the puzzle as given from the model's own initial state, so every row starts from the single
pass. The sources compared:

- views: runs 2.. are distinct symmetric views (:mod:`trm_sdk.views`), from the initial state;
- noise: runs 2.. are the puzzle as given from y_init + sigma * N(0, 1) and z_init + sigma * N(0, 1),
  fresh noise per run and per cell;
- both: sqrt(runs) views, each from sqrt(runs) initial states (one clean, the rest noisy); and every
  view with noise.

The noise enters through the step graph's own state inputs (``first`` = False with y, z given), so it
needs no change to the exported graphs: this measures whether such a change would be worth making.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

import numpy as np

from trm_sdk import Solver, recursion
from trm_sdk.backends.cpu import CPUBackend, CPUState
from trm_sdk.views import Views, ViewStream, apply, undo_logits


class NoisyStart:
    """The CPU backend with each row's initial state set by the caller instead of the graph."""

    def __init__(self, inner: CPUBackend, y0: np.ndarray, z0: np.ndarray) -> None:
        self.inner, self.y0, self.z0 = inner, y0, z0

    def start(self, tokens: np.ndarray) -> CPUState:
        state = self.inner.start(tokens)
        state.y, state.z = self.y0.astype(np.float32), self.z0.astype(np.float32)
        state.first = np.zeros(len(tokens), bool)
        return state

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def run_plan(
    solver: Solver,
    grids: np.ndarray,
    views_per: int,
    states_per: int,
    sigma: float,
    seed: int,
    noisy_views: bool = False,
) -> tuple[float, float]:
    """Solved share and mean steps per run, with ``views_per`` views x ``states_per`` initial states
    (state 1 of each view clean, unless ``noisy_views``: then only the puzzle as given starts clean)."""
    task, backend = solver.task, solver._backend
    assert isinstance(backend, CPUBackend), "this measurement drives the CPU backend's state directly"
    weights = np.load(solver.manifest.path("weights"))
    L, D = backend.state_shape
    rng = np.random.default_rng(seed)
    tokens = task.encode(grids)
    S, V = tokens.shape[1], solver.manifest.model["vocab_size"]
    rows, cells, vocab, noisy = [], [], [], []
    for b in range(len(grids)):
        drawn = task.draw_views(ViewStream(seed, np.array([b])), views_per - 1) if views_per > 1 else None
        for v in range(views_per):
            for k in range(states_per):
                rows.append(b)
                if v == 0:
                    cells.append(np.arange(S))
                    vocab.append(np.arange(V))
                else:
                    assert drawn is not None
                    cells.append(drawn.cells[v - 1])
                    vocab.append(drawn.tokens[v - 1])
                noisy.append(k > 0 or (noisy_views and v > 0))
    index = np.array(rows)
    batch_views = Views(np.stack(cells), np.stack(vocab))
    scale = sigma * np.array(noisy, np.float32)[:, None, None]
    y0 = weights["y_init"] + scale * rng.standard_normal((len(index), L, D), dtype=np.float32)
    z0 = weights["z_init"] + scale * rng.standard_normal((len(index), L, D), dtype=np.float32)
    noisy_backend = NoisyStart(backend, y0, z0)
    result = recursion.run(
        noisy_backend,  # type: ignore[arg-type]
        apply(tokens[index], batch_views),
        solver.max_steps,
        solver.halt_threshold,
    )
    logits = undo_logits(result.logits, batch_views)
    ok = task.verify(task.decode(logits), grids[index]).reshape(len(grids), -1)
    return float(ok.any(axis=1).mean()), float(result.steps.mean())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--task", default="sudoku")
    parser.add_argument("--model", default=None)
    parser.add_argument("--puzzles", type=int, default=100)
    parser.add_argument("--runs", type=int, default=16, help="runs per puzzle (a square: views x states)")
    parser.add_argument("--sigma", default="0.3,1.0", help="noise scales to try, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    root = math.isqrt(args.runs)
    if root * root != args.runs:
        parser.error("--runs must be a square, so views x states can split it evenly")
    solver = Solver(args.task, backend="cpu", model=args.model, views=1)
    grids = solver.task.load(args.file, limit=args.puzzles).puzzles
    sigmas = [float(s) for s in args.sigma.split(",")]
    plans = [("1 view, as given", 1, 1, 0.0, False), (f"{args.runs} views", args.runs, 1, 0.0, False)]
    plans += [(f"1 view, {args.runs} initial states, sigma {s}", 1, args.runs, s, False) for s in sigmas]
    plans += [(f"{root} views x {root} initial states, sigma {sigmas[0]}", root, root, sigmas[0], False)]
    plans += [
        (f"{args.runs} views, each but the first noisy, sigma {sigmas[0]}", args.runs, 1, sigmas[0], True)
    ]
    steps = solver.max_steps
    print(f"{args.file}, first {len(grids)} puzzles, {args.runs} runs each, up to {steps} steps a run")
    print("| runs per puzzle | solved | mean steps per run |\n|---|---:|---:|")
    for name, views_per, states_per, sigma, noisy_views in plans:
        solved, steps = run_plan(solver, grids, views_per, states_per, sigma, args.seed, noisy_views)
        print(f"| {name} | {solved:.1%} | {steps:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
