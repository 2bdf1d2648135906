"""What a model costs on this machine, per backend: the numbers an app developer budgets with.

Latency is measured one puzzle at a time (an app asking for a hint), throughput one large batch at a
time (a server, or a level pack generated offline); both with halting and with every supervision step,
because halting is where TRM's speed on easy puzzles comes from. The samples are generated with fixed
seeds unless files are given, so two machines can be compared on the same puzzles.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import backends
from .solver import Solver

__all__ = ["Sample", "generated_sample", "measure_backend", "search_gain"]

Progress = Callable[[int], None]  # called with the number of puzzles just finished


@dataclass(frozen=True)
class Sample:
    name: str
    puzzles: np.ndarray  # (N, 9, 9) int8, 0 = blank


def generated_sample(
    name: str, level: str, count: int, seed: int, progress: Progress = lambda n: None
) -> Sample:
    from .tasks.sudoku import generate

    rng = np.random.default_rng(seed)
    puzzles = []
    for _ in range(count):
        puzzles.append(generate.make_level(rng, level)[0])
        progress(1)
    return Sample(name, np.stack(puzzles))


def _cycled(puzzles: np.ndarray, n: int) -> list[np.ndarray]:
    return [puzzles[i % len(puzzles)] for i in range(n)]


def _latency(solver: Solver, sample: Sample, runs: int, progress: Progress) -> dict[str, Any]:
    times, steps, solved = [], [], []
    for puzzle in _cycled(sample.puzzles, runs):
        start = time.perf_counter()
        r = solver.solve(puzzle)
        times.append(1000 * (time.perf_counter() - start))
        steps.append(r.steps)
        solved.append(r.solved)
        progress(1)
    return {
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "mean_steps": round(float(np.mean(steps)), 2),
        "solved": round(float(np.mean(solved)), 4),
        "runs": runs,
    }


def _throughput(solver: Solver, puzzles: list[np.ndarray], progress: Progress) -> dict[str, Any]:
    start = time.perf_counter()
    results = solver.solve_batch(puzzles)
    elapsed = time.perf_counter() - start
    progress(len(puzzles))
    return {
        "puzzles_per_s": round(len(puzzles) / elapsed, 1),
        "mean_steps": round(float(np.mean([r.steps for r in results])), 2),
        "solved": round(float(np.mean([r.solved for r in results])), 4),
    }


def measure_backend(
    backend: str,
    samples: Sequence[Sample],
    batch_sizes: Sequence[int],
    latency_runs: int,
    progress: Progress = lambda n: None,
    **solver_options: Any,
) -> dict[str, Any]:
    """Latency per sample and throughput per batch size on one backend, halting and 16 fixed steps.

    The throughput batch mixes the samples in turn, so it has the difficulty spread an app would see.
    """
    if backends.availability(backend) is not None:
        return {"backend": backend, "available": False, "reason": backends.availability(backend)}
    halting = Solver(backend=backend, **solver_options)
    fixed = Solver(backend=backend, **{**solver_options, "halt_threshold": 1.0})
    halting.solve(samples[0].puzzles[0])  # the first call pays for lazy initialisation; keep it out
    fixed.solve(samples[0].puzzles[0])
    out: dict[str, Any] = {"backend": halting.backend, "available": True, "latency": {}, "throughput": {}}
    for sample in samples:
        out["latency"][sample.name] = {
            "halting": _latency(halting, sample, latency_runs, progress),
            "all_steps": _latency(fixed, sample, latency_runs, progress),
        }
    mixed = np.stack([p for group in zip(*(s.puzzles for s in samples), strict=False) for p in group])
    for b in batch_sizes:
        puzzles = _cycled(mixed, b)
        row = {}
        for key, solver in (("halting", halting), ("all_steps", fixed)):
            solver.batch_size = b  # one batch of exactly b puzzles
            row[key] = _throughput(solver, puzzles, progress)
        out["throughput"][str(b)] = row
    return out


def search_gain(solver: Solver, puzzles: np.ndarray, progress: Progress = lambda n: None) -> dict[str, Any]:
    """Branch points the exact search needs to reach a solution, unguided and guided by the network.

    Both searches are the same depth-first search with the same cell choice; only the order in which a
    cell's digits are tried differs (ascending, or the network's likeliest first), so the ratio is what
    the network's probabilities are worth to the ``fallback="search"`` mode.
    """
    from .tasks.sudoku import codec, search

    unguided, guided, times_u, times_g, failed = [], [], [], [], []
    for lo in range(0, len(puzzles), solver.batch_size):
        chunk = puzzles[lo : lo + solver.batch_size]
        run, _, ok = solver._network(chunk)  # the probabilities the fallback search would see
        _, probs = codec.decode(run.logits)
        for puzzle, p, right in zip(chunk, probs, ok, strict=True):
            start = time.perf_counter()
            u = search.solve(puzzle, limit=1)
            times_u.append(time.perf_counter() - start)
            start = time.perf_counter()
            g = search.solve(puzzle, limit=1, order=search.prob_order(p))
            times_g.append(time.perf_counter() - start)
            unguided.append(u.nodes)
            guided.append(g.nodes)
            failed.append(not right)
            progress(1)
    u_arr, g_arr, f_arr = np.array(unguided), np.array(guided), np.array(failed)

    def summary(mask: np.ndarray) -> dict[str, Any]:
        if not mask.any():
            return {"puzzles": 0}
        return {
            "puzzles": int(mask.sum()),
            "mean_nodes_unguided": round(float(u_arr[mask].mean()), 2),
            "mean_nodes_guided": round(float(g_arr[mask].mean()), 2),
            # share of the unguided search's branch points that guidance avoids (0 when neither branched)
            "nodes_saved": round(1 - float(g_arr[mask].sum()) / float(u_arr[mask].sum()), 4)
            if u_arr[mask].sum()
            else 0.0,
            "guided_fewer": round(float((g_arr[mask] < u_arr[mask]).mean()), 4),
            "guided_more": round(float((g_arr[mask] > u_arr[mask]).mean()), 4),
            "ms_unguided": round(1000 * float(np.mean(np.array(times_u)[mask])), 2),
            "ms_guided": round(1000 * float(np.mean(np.array(times_g)[mask])), 2),
        }

    return {"all": summary(np.ones(len(puzzles), bool)), "network_failed": summary(f_arr)}
