"""Sources of test-time diversity at equal compute: symmetric views against noise on the initial state,
and against longer step budgets.

    python experiments/diversity.py FILE [--puzzles 100] [--runs 16] [--sigma 0.3,1.0] [--model DIR]
    python experiments/diversity.py FILE --task maze --stop-on-verified --plans 1x1x1,8x1x1,4x2x1,4x1x2

Every puzzle gets a number of runs of the recursion (each to its halting step, at most the model's
max_steps); a puzzle counts as solved when any run's answer verifies, as with ``Solver(views=...)``. Run
1 is always the puzzle as given from the model's own initial state, so every row starts from the single
pass. The sources compared:

- views: runs 2.. are distinct symmetric views (:mod:`trm_sdk.views`), from the initial state;
- noise: runs 2.. are the puzzle as given from y_init + sigma * N(0, 1) and z_init + sigma * N(0, 1),
  fresh noise per run and per cell;
- both: sqrt(runs) views, each from sqrt(runs) initial states (one clean, the rest noisy); and every
  view with noise;
- step budgets (``--plans``): fewer runs, each allowed a multiple of max_steps. A task with few views
  (a maze has 8) cannot spend more compute on more views, so this is what else the compute could buy.

``--plans`` takes VxSxM items: V views, S initial states each (the first clean, the rest noisy at the first
``--sigma``), every run allowed M times max_steps. With ``--stop-on-verified`` every run of a puzzle ends
at the first step where one of them verifies, as the Solver does for mazes, so compute differs between
plans: the table reports the supervision steps spent per puzzle (all its runs together) beside the
solved share, and plans are equal in compute when their worst case (V x S x M runs of max_steps) is.

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
from trm_sdk.views import Views, ViewStream, _stop_on_verified, apply, undo_logits


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
    budget: int = 1,
    stop_on_verified: bool = False,
) -> tuple[float, float]:
    """Solved share and supervision steps per puzzle (all its runs), with ``views_per`` views x
    ``states_per`` initial states (state 1 of each view clean, unless ``noisy_views``: then only the
    puzzle as given starts clean), each run allowed ``budget`` times the solver's max_steps."""
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

    def verify(logits: np.ndarray, puzzles: np.ndarray) -> np.ndarray:
        return np.asarray(task.verify(task.decode(logits), grids[puzzles]), bool)

    result = recursion.run(
        noisy_backend,  # type: ignore[arg-type]
        apply(tokens[index], batch_views),
        solver.max_steps * budget,
        solver.halt_threshold,
        # The Solver's own wave stop: every run of a puzzle ends once one of them verifies.
        _stop_on_verified(index, batch_views, verify) if stop_on_verified else None,
    )
    ok = verify(undo_logits(result.logits, batch_views), index).reshape(len(grids), -1)
    return float(ok.any(axis=1).mean()), float(result.steps.sum() / len(grids))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--task", default="sudoku")
    parser.add_argument("--model", default=None)
    parser.add_argument("--puzzles", type=int, default=100)
    parser.add_argument("--runs", type=int, default=16, help="runs per puzzle (a square: views x states)")
    parser.add_argument("--sigma", default="0.3,1.0", help="noise scales to try, comma-separated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plans", default=None, help="VxSxM items, comma-separated (see above)")
    parser.add_argument(
        "--max-steps", type=int, default=None, help="a run's step budget (default: the model's)"
    )
    parser.add_argument(
        "--stop-on-verified", action="store_true", help="end a puzzle's runs once one verifies"
    )
    args = parser.parse_args(argv)
    solver = Solver(args.task, backend="cpu", model=args.model, views=1, max_steps=args.max_steps)
    grids = solver.task.load(args.file, limit=args.puzzles).puzzles
    sigmas = [float(s) for s in args.sigma.split(",")]
    plans = (
        _custom_plans(parser, args.plans, sigmas[0])
        if args.plans
        else _default_plans(parser, args.runs, sigmas)
    )
    steps = solver.max_steps
    print(f"{args.file}, first {len(grids)} puzzles, up to {steps} steps a run (times the plan's budget)")
    print("| runs per puzzle | solved | supervision steps per puzzle |\n|---|---:|---:|")
    for name, views_per, states_per, sigma, noisy_views, budget in plans:
        solved, spent = run_plan(
            solver, grids, views_per, states_per, sigma, args.seed, noisy_views, budget, args.stop_on_verified
        )
        print(f"| {name} | {solved:.1%} | {spent:.1f} |", flush=True)
    return 0


Plan = tuple[str, int, int, float, bool, int]  # name, views, states per view, sigma, noisy views, budget


def _default_plans(parser: argparse.ArgumentParser, runs: int, sigmas: list[float]) -> list[Plan]:
    """The Sudoku comparison: ``runs`` views against ``runs`` noisy states and their mixtures."""
    root = math.isqrt(runs)
    if root * root != runs:
        parser.error("--runs must be a square, so views x states can split it evenly")
    plans: list[Plan] = [("1 view, as given", 1, 1, 0.0, False, 1), (f"{runs} views", runs, 1, 0.0, False, 1)]
    plans += [(f"1 view, {runs} initial states, sigma {s}", 1, runs, s, False, 1) for s in sigmas]
    plans += [(f"{root} views x {root} initial states, sigma {sigmas[0]}", root, root, sigmas[0], False, 1)]
    plans += [(f"{runs} views, each but the first noisy, sigma {sigmas[0]}", runs, 1, sigmas[0], True, 1)]
    return plans


def _custom_plans(parser: argparse.ArgumentParser, spec: str, sigma: float) -> list[Plan]:
    plans: list[Plan] = []
    for item in spec.split(","):
        try:
            views, states, budget = (int(v) for v in item.lower().split("x"))
        except ValueError:
            parser.error(f"--plans item {item!r} is not VxSxM (views x initial states x step budget)")
        if min(views, states, budget) < 1:
            parser.error(f"--plans item {item!r}: every count must be at least 1")
        name = f"{views} view{'s' * (views > 1)}"
        if states > 1:
            name += f" x {states} initial states (sigma {sigma})"
        if budget > 1:
            name += f", {budget}x the steps"
        plans.append((name, views, states, sigma if states > 1 else 0.0, False, budget))
    return plans


if __name__ == "__main__":
    sys.exit(main())
