"""Commands that measure: ``trm eval`` (accuracy per data set) and ``trm bench`` (speed per backend)."""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

import click
import numpy as np

from .. import backends, manifest
from ..bench import MODES, Sample, batch_puzzles, generated_sample, measure_backend
from ..limits import MAX_VIEWS
from ..rating import rate_solution
from ..release import accuracy_by_budget, solve_all
from ..solver import Solver
from ..tasks import TASKS, Task, get_task
from ..views import waves
from .common import InputError, SolverOptions, errors_as_messages, solver_options


@click.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@solver_options
@click.option("--limit", type=click.IntRange(min=1), default=None, help="First N puzzles of each file.")
@click.option(
    "--halting-only", is_flag=True, help="Skip the all-steps column (it costs as much again, views and all)."
)
@click.option("--write-manifest", is_flag=True, help="Record the results in the model's manifest.json.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@errors_as_messages
def evaluate(
    files: tuple[str, ...],
    opts: SolverOptions,
    limit: int | None,
    halting_only: bool,
    write_manifest: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Exact accuracy on FILES of puzzle,answer pairs: with halting and with all steps.

    With views (--views, or the model's default), also the accuracy each number of views reaches (the
    waves' totals 1, 4, 16, 64, ...; a run with fewer views runs exactly the first of these) and the
    views run per puzzle.

    With --fallback search, also the accuracy with the exact search behind the network and, where the
    task's search branches (Sudoku), the branch points it needs guided by the network against unguided.
    """
    solver = opts.build()
    rows: dict[str, dict[str, Any]] = {}
    for path in files:
        data = solver.task.load(path, limit=limit)
        if data.solutions is None:
            raise InputError(f"{path} has no solutions to score against")
        if not len(data.puzzles):
            raise InputError(f"{path} holds no puzzles to score")
        row = _score(solver, data.puzzles, data.solutions, Path(path).stem, quiet, halting_only)
        if solver.fallback:
            row.update(_score_search(solver, data.puzzles, data.solutions, Path(path).stem, quiet))
        rows[_set_name(Path(path))] = row
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        extra = f" {'+search':>8s} {'nodes guided/unguided':>22s}" if solver.fallback else ""
        click.echo(
            f"{'set':45s} {'n':>5s} {'halting':>8s} {'steps':>6s} {'views':>6s} {'all steps':>9s} "
            f"{'ms/puzzle':>9s} {'rating':>6s}" + extra
        )
        for name, r in rows.items():
            all_steps = f"{r['exact_all_steps']:9.1%}" if "exact_all_steps" in r else f"{'-':>9s}"
            line = (
                f"{name:45s} {r['puzzles']:5d} {r['exact_halting']:8.1%} {r['mean_steps']:6.2f} "
                f"{r['mean_views']:6.2f} {all_steps} {r['ms_per_puzzle_halting']:9.1f} "
                f"{r['mean_rating']:6.2f}"
            )
            if solver.fallback:
                gain = r.get("search_gain")
                nodes = (
                    f"{gain['all']['mean_nodes_guided']:.1f}/{gain['all']['mean_nodes_unguided']:.1f}"
                    if gain
                    else "-"
                )
                line += f" {r['exact_with_search']:8.1%} {nodes:>22s}"
            click.echo(line)
            for label, key in (("views", "exact_by_views"), ("first view, steps", "exact_by_steps_view_1")):
                if len(r.get(key, {})) > 1:  # how accuracy grows with views, and with steps where it stops
                    click.echo(f"  within {label}: " + "  ".join(f"{k}: {v:.1%}" for k, v in r[key].items()))
    if write_manifest:
        _record(solver, rows)


# The network's two columns, as trm bench measures them (its MODES), both without search.
_MODES: dict[str, dict[str, Any]] = {key: {**choices, "fallback": "none"} for key, choices in MODES.items()}


def _score(
    solver: Solver, puzzles: np.ndarray, solutions: np.ndarray, label: str, quiet: bool, halting_only: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"puzzles": len(puzzles)}
    for key, choices in _MODES.items():
        if halting_only and key != "halting":
            continue
        start = time.perf_counter()
        with click.progressbar(
            length=len(puzzles), label=f"{label} ({key})", file=sys.stderr, hidden=quiet
        ) as bar:
            results = solve_all(solver, puzzles, bar.update, **choices)
        elapsed = time.perf_counter() - start
        exact = [solver.task.is_exact(r, s) for r, s in zip(results, solutions, strict=True)]
        out[f"exact_{key}"] = round(float(np.mean(exact)), 4)
        out[f"ms_per_puzzle_{key}"] = round(1000 * elapsed / max(len(puzzles), 1), 2)
        if key == "halting":
            out["mean_steps"] = round(float(np.mean([r.steps for r in results])), 2)
            out["views"] = solver.views
            out["mean_views"] = round(float(np.mean([r.views for r in results])), 2)
            read = accuracy_by_budget(
                exact, results, solver.max_steps, min(solver.views, solver.task.max_views)
            )
            out["exact_by_views"] = read["by_views"]
            if solver.stop_on_verified and solver.halt_threshold >= 1.0:  # each puzzle's first verified step
                out["exact_by_steps_view_1"] = read["by_steps"]
            scores = [rate_solution(r, solver.max_steps).score for r in results]
            out["mean_rating"] = round(float(np.mean(scores)), 4)
    return out


def _score_search(
    solver: Solver, puzzles: np.ndarray, solutions: np.ndarray, label: str, quiet: bool
) -> dict[str, Any]:
    with click.progressbar(
        length=2 * len(puzzles), label=f"{label} (search)", file=sys.stderr, hidden=quiet
    ) as bar:
        start = time.perf_counter()
        results = solve_all(solver, puzzles, bar.update, fallback="search")
        elapsed = time.perf_counter() - start
        # What the network's guidance is worth to that search, on the probabilities it saw.
        logits, ok = [], []
        for i in range(0, len(puzzles), solver.batch_size):
            pred = solver.predict(list(puzzles[i : i + solver.batch_size]))
            logits.append(pred.logits)
            ok.append(pred.solved)
        gain = solver.task.search_gain(puzzles, np.concatenate(logits), np.concatenate(ok), bar.update)
    exact = [solver.task.is_exact(r, s) for r, s in zip(results, solutions, strict=True)]
    out: dict[str, Any] = {
        "exact_with_search": round(float(np.mean(exact)), 4),
        "ms_per_puzzle_with_search": round(1000 * elapsed / max(len(puzzles), 1), 2),
    }
    if gain is not None:
        out["search_gain"] = gain
    return out


def _set_name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _record(solver: Solver, rows: dict[str, dict[str, Any]]) -> None:
    evaluation = solver.manifest.raw.get("evaluation", {})
    path = manifest.update(
        solver.manifest.directory,
        {
            "evaluation": {
                "sets": {**evaluation.get("sets", {}), **rows},
                "backend": solver.backend,
                "command": "trm " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                "measured": time.strftime("%Y-%m-%d", time.gmtime()),
            }
        },
    )
    click.echo(f"recorded in {path}", err=True)


def _bench_sample(task: Task, name: str, source: str, count: int, seed: int, quiet: bool) -> Sample:
    if source in task.levels:
        label = f"generating {name} sample ({source})"
        with click.progressbar(length=count, label=label, file=sys.stderr, hidden=quiet) as bar:
            return generated_sample(task, name, source, count, seed, bar.update)
    if not Path(source).is_file():
        raise click.BadParameter(
            f"{source!r} is neither a {task.name} level ({', '.join(task.levels)}) nor a puzzle file"
        )
    return Sample(name, task.load(source, limit=count).puzzles)


def _bench_table(report: dict[str, Any]) -> str:
    steps = next((f"{b['max_steps']} steps" for b in report["backends"] if b["available"]), "all steps")
    lines = [f"{'backend':9s} {'measure':34s} {'halting':>16s} {steps:>16s}"]
    for b in report["backends"]:
        name = b["backend"]
        if not b["available"]:
            lines.append(f"{name:9s} unavailable: {b['reason']}")
            continue

        def add(measure: str, cells: list[str], name: str = name) -> None:
            lines.append(f"{name:9s} {measure:34s} {cells[0]:>16s} {cells[1]:>16s}")

        modes = ("halting", "all_steps")
        lines.append(f"{name:9s} (up to {b['views']} views a puzzle, the model's default)")
        for sample, lat in b["latency"].items():
            add(
                f"batch-1 latency {sample} mean/p95 ms",
                [f"{lat[k]['mean_ms']:.1f} / {lat[k]['p95_ms']:.1f}" for k in modes],
            )
        for size, per_sample in b["throughput"].items():
            for sample, row in per_sample.items():
                add(
                    f"batch-{size} {sample} ms/puzzle mean/p95",
                    [f"{row[k]['mean_ms']:.1f} / {row[k]['p95_ms']:.1f}" for k in modes],
                )
                add(
                    "  solved (mean steps, views)",
                    [
                        f"{row[k]['solved']:.1%} ({row[k]['mean_steps']:.1f}, {row[k]['mean_views']:.1f})"
                        for k in modes
                    ],
                )
        for sample, table in b.get("views_table", {}).items():
            cells = ", ".join(f"{n}: {v['solved']:.0%} {v['ms_per_puzzle']:.0f} ms" for n, v in table.items())
            lines.append(f"{name:9s} views -> solved, ms/puzzle ({sample}) {cells}")
    return "\n".join(lines)


@click.command()
@click.option(
    "--backend",
    "backend_names",
    type=click.Choice(["all", *backends.BACKENDS]),
    multiple=True,
    default=["all"],
    show_default=True,
    help="Backends to measure (repeatable); unavailable ones are listed with the reason.",
)
@click.option("--task", type=click.Choice(list(TASKS)), default="sudoku", show_default=True)
@click.option(
    "--model",
    type=click.Path(file_okay=False, path_type=Path),
    help="Exported model folder (default: the model shipped for the task).",
)
@click.option(
    "--easy", default=None, help="Easy sample: a generator level or a file [default: sudoku easy, maze easy]."
)
@click.option(
    "--hard",
    default=None,
    help="Hard sample: a generator level or a file [default: sudoku minimal, maze hard].",
)
@click.option(
    "--count", type=click.IntRange(min=1), default=512, show_default=True, help="Puzzles per sample."
)
@click.option("--latency-runs", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--views-table",
    type=click.IntRange(0, MAX_VIEWS),
    default=64,
    show_default=True,
    help="Also measure accuracy and time against views 1, 4, 16, ... up to this many (0: skip).",
)
@click.option(
    "--views-puzzles",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Puzzles of each sample in the views table.",
)
@click.option(
    "--batch-sizes",
    default="256",
    show_default=True,
    help="Batch sizes to time each sample at (mean and p95 ms per puzzle), comma-separated.",
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated samples.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@errors_as_messages
def bench(
    backend_names: tuple[str, ...],
    task: str,
    model: Path | None,
    easy: str | None,
    hard: str | None,
    count: int,
    latency_runs: int,
    views_table: int,
    views_puzzles: int,
    batch_sizes: str,
    threads: int | None,
    seed: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Latency, throughput, halting against all steps, and accuracy, for each backend here."""
    chosen = get_task(task)
    easy = easy or chosen.bench_levels[0]
    hard = hard or chosen.bench_levels[1]
    try:
        sizes = [int(x) for x in batch_sizes.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{batch_sizes!r} is not a comma-separated list of integers") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("--batch-sizes needs at least one positive integer")
    names = list(backends.BACKENDS) if "all" in backend_names else list(dict.fromkeys(backend_names))
    samples = [
        _bench_sample(chosen, "easy", easy, count, seed, quiet),
        _bench_sample(chosen, "hard", hard, count, seed + 1, quiet),
    ]
    per_backend = 4 * latency_runs + 2 * sum(batch_puzzles(len(s.puzzles), b) for s in samples for b in sizes)
    if views_table:
        counts = np.cumsum(waves(min(views_table, chosen.max_views)))
        per_backend += len(counts) * 2 * min(views_puzzles, count)
    total = sum(per_backend for n in names if backends.availability(n) is None)
    report: dict[str, Any] = {
        "samples": {
            s.name: {"source": src, "puzzles": len(s.puzzles)}
            for s, src in zip(samples, (easy, hard), strict=True)
        },
        "backends": [],
    }
    with click.progressbar(length=total, label="benchmarking", file=sys.stderr, hidden=quiet) as bar:
        for name in names:
            report["backends"].append(
                measure_backend(
                    name,
                    samples,
                    sizes,
                    latency_runs,
                    bar.update,
                    views=(views_table, views_puzzles),
                    task=task,
                    model=model,
                    threads=threads,
                )
            )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(_bench_table(report))
