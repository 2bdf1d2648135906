"""What a model costs on this machine, per backend: the numbers an app developer budgets with.

Latency is measured one puzzle at a time (an app asking for a hint), throughput one large batch at a
time (a server, or a level pack generated offline); both with halting and with every supervision step,
because halting is where TRM's speed on easy puzzles comes from. The samples are generated with fixed
seeds unless files are given, so two machines can be compared on the same puzzles. The CPU backend is
measured once per engine asked for (``auto``, ``onnxruntime``, ``openvino``), side by side.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import backends
from .backends import cpu_engines
from .errors import BackendUnavailableError
from .evaluation import MODES
from .solver import Solver
from .tasks import Task
from .views import waves

__all__ = [
    "CPU_ENGINES",
    "MODES",
    "Sample",
    "backend_work",
    "batch_puzzles",
    "benchmark",
    "configurations",
    "generated_sample",
    "measure_backend",
    "sample",
    "view_counts",
]

Progress = Callable[[int], None]  # called with the number of puzzles just finished
CPU_ENGINES = ("auto", *cpu_engines.ENGINES)  # the CPU backend's engines the bench can compare


def configurations(backend_names: Sequence[str], engines: Sequence[str]) -> list[tuple[str, str | None]]:
    """(backend, engine) pairs to measure: the CPU backend once per engine, every other backend once."""
    return [(name, engine) for name in backend_names for engine in (engines if name == "cpu" else [None])]


def unavailable(backend: str, engine: str | None) -> str | None:
    """Why a (backend, engine) pair cannot run here, or None."""
    reason = backends.availability(backend)
    if reason is None and engine not in (None, "auto"):
        try:
            cpu_engines.plan(engine)
        except BackendUnavailableError as exc:
            reason = str(exc)
    return reason


@dataclass(frozen=True)
class Sample:
    """Puzzles timed together: easy and hard ones apart, as one hard puzzle can cost a hundred easy ones."""

    name: str
    puzzles: np.ndarray  # (N, ...) the task's canonical arrays
    source: str = ""  # the generator level or the file they came from, for the report


def generated_sample(
    task: Task, name: str, level: str, count: int, seed: int, progress: Progress = lambda n: None
) -> Sample:
    """``count`` puzzles of a generator level, the same for a seed on every machine."""
    rng = np.random.default_rng(seed)
    puzzles = []
    for _ in range(count):
        puzzles.append(task.generate(rng, level)[0])
        progress(1)
    return Sample(name, np.stack(puzzles), level)


def sample(
    task: Task, name: str, source: str, count: int, seed: int, progress: Progress = lambda n: None
) -> Sample:
    """A sample from a generator level (``count`` puzzles from ``seed``) or from a file (its first
    ``count``); reports one progress unit per puzzle either way."""
    if source in task.levels:
        return generated_sample(task, name, source, count, seed, progress)
    if not Path(source).is_file():
        raise ValueError(
            f"{source!r} is neither a {task.name} level ({', '.join(task.levels)}) nor a puzzle file"
        )
    puzzles = task.load(source, limit=count).puzzles
    if not len(puzzles):
        raise ValueError(f"{source} holds no puzzles to time")
    progress(count)
    return Sample(name, puzzles, source)


def _cycled(puzzles: np.ndarray, n: int) -> list[np.ndarray]:
    return [puzzles[i % len(puzzles)] for i in range(n)]


def _latency(solver: Solver, sample: Sample, runs: int, progress: Progress, **choices: Any) -> dict[str, Any]:
    times, steps, solved = [], [], []
    for puzzle in _cycled(sample.puzzles, runs):
        start = time.perf_counter()
        r = solver.solve(puzzle, **choices)
        times.append(1000 * (time.perf_counter() - start))
        steps.append(r.steps)
        solved.append(r.solved)
        progress(1)
    return {
        "mean_ms": round(float(np.mean(times)), 2),
        "p50_ms": round(float(np.percentile(times, 50)), 2),
        "p95_ms": round(float(np.percentile(times, 95)), 2),
        "mean_steps": round(float(np.mean(steps)), 2),
        "solved": round(float(np.mean(solved)), 4),
        "runs": runs,
    }


def _batches(solver: Solver, sample: Sample, size: int, progress: Progress, **choices: Any) -> dict[str, Any]:
    """Time per puzzle in batches of ``size``: as many batches as the sample fills (at least one, cycling
    its puzzles if it is smaller), so the p95 is over batches. Every puzzle of a batch waits for the whole
    batch, so ``batch_ms`` is the latency each of them sees, and ``mean_ms`` what each costs."""
    n = max(1, len(sample.puzzles) // size)
    puzzles = _cycled(sample.puzzles, n * size)
    per_puzzle, results = [], []
    for i in range(0, len(puzzles), size):
        start = time.perf_counter()
        results += solver.solve_batch(puzzles[i : i + size], batch_size=size, **choices)
        per_puzzle.append(1000 * (time.perf_counter() - start) / size)
        progress(size)
    return {
        "puzzles_per_s": round(1000 / float(np.mean(per_puzzle)), 1),
        "mean_ms": round(float(np.mean(per_puzzle)), 2),
        "p95_ms": round(float(np.percentile(per_puzzle, 95)), 2),
        "batch_ms": round(size * float(np.mean(per_puzzle)), 1),
        "batches": n,
        "mean_steps": round(float(np.mean([r.steps for r in results])), 2),
        "mean_views": round(float(np.mean([r.views for r in results])), 2),
        "solved": round(float(np.mean([r.solved for r in results])), 4),
    }


def batch_puzzles(sample_size: int, size: int) -> int:
    """How many puzzles :func:`_batches` runs for one sample, batch size and mode (for progress bars)."""
    return max(1, sample_size // size) * size


def _views(solver: Solver, sample: Sample, counts: Sequence[int], progress: Progress) -> dict[str, Any]:
    """Accuracy (answers that verify) and time per puzzle against the most views, one batch per count."""
    out = {}
    for n in counts:
        start = time.perf_counter()
        results = solver.solve_batch(list(sample.puzzles), batch_size=len(sample.puzzles), views=n)
        elapsed = time.perf_counter() - start
        progress(len(sample.puzzles))
        out[str(n)] = {
            "solved": round(float(np.mean([r.solved for r in results])), 4),
            "mean_views": round(float(np.mean([r.views for r in results])), 2),
            "ms_per_puzzle": round(1000 * elapsed / len(results), 1),
        }
    return out


def view_counts(solver: Solver, most: int) -> list[int]:
    """The view totals the bench measures: each wave's end (1, 4, 16, 64, ...) up to ``most``."""
    return [int(n) for n in np.cumsum(waves(min(most, solver.task.max_views)))]


def backend_work(
    samples: Sequence[Sample],
    batch_sizes: Sequence[int],
    latency_runs: int,
    views: tuple[int, int],
    max_views: int,
) -> int:
    """The progress units :func:`measure_backend` reports for one available backend."""
    work = 2 * len(samples) * latency_runs
    work += 2 * sum(batch_puzzles(len(s.puzzles), b) for s in samples for b in batch_sizes)
    most, count = views
    if most:
        totals = len(waves(min(most, max_views)))
        work += totals * sum(min(count, len(s.puzzles)) for s in samples)
    return work


def benchmark(
    backend_names: Sequence[str],
    samples: Sequence[Sample],
    batch_sizes: Sequence[int],
    latency_runs: int,
    progress: Progress = lambda n: None,
    views: tuple[int, int] = (0, 0),
    engines: Sequence[str] = ("auto",),
    **solver_options: Any,
) -> dict[str, Any]:
    """``trm bench``'s report: the samples, and :func:`measure_backend` on each backend named, the CPU
    backend once per engine in ``engines`` (an unavailable one is listed with the reason)."""
    if not batch_sizes or min(batch_sizes) < 1:
        raise ValueError("the bench needs at least one positive batch size")
    for engine in engines:
        if engine not in CPU_ENGINES:
            raise ValueError(f"engine must be one of {', '.join(CPU_ENGINES)}, got {engine!r}")
    return {
        "samples": {s.name: {"source": s.source, "puzzles": len(s.puzzles)} for s in samples},
        "backends": [
            measure_backend(
                name, samples, batch_sizes, latency_runs, progress, views, engine=engine, **solver_options
            )
            for name, engine in configurations(backend_names, engines)
        ],
    }


def measure_backend(
    backend: str,
    samples: Sequence[Sample],
    batch_sizes: Sequence[int],
    latency_runs: int,
    progress: Progress = lambda n: None,
    views: tuple[int, int] = (0, 0),
    engine: str | None = None,
    **solver_options: Any,
) -> dict[str, Any]:
    """Per sample, batch-1 latency and time per puzzle at each batch size, on one backend, with halting
    and all steps, at the model's default views; then, if ``views`` = (most, puzzles) is set, accuracy
    and time against the number of views on the first ``puzzles`` of each sample.

    Easy and hard puzzles are timed apart: with views a hard puzzle can cost a hundred easy ones, and a
    mixed figure would hide both. ``engine`` (the CPU backend only): "auto" or None, "onnxruntime",
    "openvino"; the report names it, and the engines it ran (``engines``).
    """
    label = {} if engine is None else {"engine": engine}
    reason = unavailable(backend, engine)
    if reason is not None:
        return {"backend": backend, **label, "available": False, "reason": reason}
    solver = Solver(backend=backend, engine=None if engine == "auto" else engine, **solver_options)
    for choices in MODES.values():  # the first call pays for lazy initialisation; keep it out
        solver.solve(samples[0].puzzles[0], **choices)
    out: dict[str, Any] = {
        "backend": solver.backend,
        **label,
        "engines": solver.engine,
        "available": True,
        "max_steps": solver.max_steps,
        "views": solver.views,
        "latency": {},
        "throughput": {},
    }
    for sample in samples:
        out["latency"][sample.name] = {
            mode: _latency(solver, sample, latency_runs, progress, **choices)
            for mode, choices in MODES.items()
        }
    for b in batch_sizes:
        out["throughput"][str(b)] = {
            sample.name: {
                mode: _batches(solver, sample, b, progress, **choices) for mode, choices in MODES.items()
            }
            for sample in samples
        }
    most, count = views
    if most:
        out["views_table"] = {
            s.name: _views(solver, Sample(s.name, s.puzzles[:count]), view_counts(solver, most), progress)
            for s in samples
        }
    return out
