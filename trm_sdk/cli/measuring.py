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

from .. import backends
from ..rating import rate_solution
from ..solver import Solver
from .common import SolverOptions, errors_as_messages, is_exact, solver_options


@click.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@solver_options
@click.option("--limit", type=click.IntRange(min=1), default=None, help="First N puzzles of each file.")
@click.option("--write-manifest", is_flag=True, help="Record the results in the model's manifest.json.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@errors_as_messages
def evaluate(
    files: tuple[str, ...],
    opts: SolverOptions,
    limit: int | None,
    write_manifest: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Exact whole-grid accuracy on FILES of puzzle,solution pairs: with halting and with all steps.

    With --fallback search, also the accuracy with the exact search behind the network, and the branch
    points that search needs guided by the network against the same search unguided.
    """
    if opts.task == "maze":
        from ..tasks.maze import datasets
    else:
        from ..tasks.sudoku import datasets  # type: ignore[no-redef]

    halting = opts.build(fallback=None)  # the network's own columns stay pure
    fixed = opts.build(threshold=1.0, fallback=None)
    searching = opts.build() if opts.fallback else None
    rows: dict[str, dict[str, Any]] = {}
    for path in files:
        data = datasets.load(path, limit=limit)
        if data.solutions is None:
            raise click.ClickException(f"{path} has no solutions to score against")
        row = _score(halting, fixed, data.puzzles, data.solutions, Path(path).stem, quiet)
        if searching is not None:
            row.update(_score_search(searching, data.puzzles, data.solutions, Path(path).stem, quiet))
        rows[_set_name(Path(path))] = row
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        extra = f" {'+search':>8s} {'nodes guided/unguided':>22s}" if searching else ""
        click.echo(
            f"{'set':45s} {'n':>5s} {'halting':>8s} {'steps':>6s} {'all steps':>9s} {'ms/puzzle':>9s} "
            f"{'rating':>6s}" + extra
        )
        for name, r in rows.items():
            line = (
                f"{name:45s} {r['puzzles']:5d} {r['exact_halting']:8.1%} {r['mean_steps']:6.2f} "
                f"{r['exact_all_steps']:9.1%} {r['ms_per_puzzle_halting']:9.1f} {r['mean_rating']:6.2f}"
            )
            if searching:
                gain = r["search_gain"]["all"]
                nodes = f"{gain['mean_nodes_guided']:.1f}/{gain['mean_nodes_unguided']:.1f}"
                line += f" {r['exact_with_search']:8.1%} {nodes:>22s}"
            click.echo(line)
    if write_manifest:
        _record(halting.manifest.directory, rows, halting.backend)


def _score(
    halting: Solver, fixed: Solver, puzzles: np.ndarray, solutions: np.ndarray, label: str, quiet: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"puzzles": len(puzzles)}
    for key, solver in (("halting", halting), ("all_steps", fixed)):
        start = time.perf_counter()
        results = []
        with click.progressbar(
            length=len(puzzles), label=f"{label} ({key})", file=sys.stderr, hidden=quiet
        ) as bar:
            for i in range(0, len(puzzles), solver.batch_size):
                results.extend(solver.solve_batch(list(puzzles[i : i + solver.batch_size])))
                bar.update(min(solver.batch_size, len(puzzles) - i))
        elapsed = time.perf_counter() - start
        task = halting.task.name
        exact = [is_exact(task, r, s) for r, s in zip(results, solutions, strict=True)]
        out[f"exact_{key}"] = round(float(np.mean(exact)), 4)
        out[f"ms_per_puzzle_{key}"] = round(1000 * elapsed / max(len(puzzles), 1), 2)
        if key == "halting":
            out["mean_steps"] = round(float(np.mean([r.steps for r in results])), 2)
            scores = [rate_solution(r, halting.max_steps).score for r in results]
            out["mean_rating"] = round(float(np.mean(scores)), 4)
    return out


def _score_search(
    solver: Solver, puzzles: np.ndarray, solutions: np.ndarray, label: str, quiet: bool
) -> dict[str, Any]:
    from ..bench import search_gain

    with click.progressbar(
        length=2 * len(puzzles), label=f"{label} (search)", file=sys.stderr, hidden=quiet
    ) as bar:
        start = time.perf_counter()
        results = []
        for i in range(0, len(puzzles), solver.batch_size):
            results.extend(solver.solve_batch(list(puzzles[i : i + solver.batch_size])))
            bar.update(min(solver.batch_size, len(puzzles) - i))
        elapsed = time.perf_counter() - start
        gain = search_gain(solver, puzzles, progress=bar.update)
    exact = [bool(r.solved and np.array_equal(r.grid, s)) for r, s in zip(results, solutions, strict=True)]
    return {
        "exact_with_search": round(float(np.mean(exact)), 4),
        "ms_per_puzzle_with_search": round(1000 * elapsed / max(len(puzzles), 1), 2),
        "search_gain": gain,
    }


def _set_name(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _record(directory: Path, rows: dict[str, dict[str, Any]], backend: str) -> None:
    path = directory / "manifest.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    evaluation = body.setdefault("evaluation", {})
    evaluation.setdefault("sets", {}).update(rows)
    evaluation["backend"] = backend
    evaluation["command"] = "trm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    evaluation["measured"] = time.strftime("%Y-%m-%d", time.gmtime())
    path.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    click.echo(f"recorded in {path}", err=True)


def _bench_sample(name: str, source: str, count: int, seed: int, quiet: bool) -> Any:
    from ..bench import Sample, generated_sample
    from ..tasks.sudoku import datasets
    from ..tasks.sudoku.generate import LEVELS

    if source in LEVELS:
        label = f"generating {name} sample ({source})"
        with click.progressbar(length=count, label=label, file=sys.stderr, hidden=quiet) as bar:
            return generated_sample(name, source, count, seed, bar.update)
    if not Path(source).is_file():
        raise click.BadParameter(f"{source!r} is neither a level ({', '.join(LEVELS)}) nor a puzzle file")
    return Sample(name, datasets.load(source, limit=count).puzzles)


def _bench_table(report: dict[str, Any]) -> str:
    lines = [f"{'backend':9s} {'measure':34s} {'halting':>16s} {'16 steps':>16s}"]
    for b in report["backends"]:
        name = b["backend"]
        if not b["available"]:
            lines.append(f"{name:9s} unavailable: {b['reason']}")
            continue

        def add(measure: str, cells: list[str], name: str = name) -> None:
            lines.append(f"{name:9s} {measure:34s} {cells[0]:>16s} {cells[1]:>16s}")

        modes = ("halting", "all_steps")
        for sample, lat in b["latency"].items():
            add(
                f"batch-1 latency {sample} p50/p95 ms",
                [f"{lat[k]['p50_ms']:.1f} / {lat[k]['p95_ms']:.1f}" for k in modes],
            )
        for size, row in b["throughput"].items():
            add(f"throughput batch {size} puzzles/s", [f"{row[k]['puzzles_per_s']:.1f}" for k in modes])
            add(
                "  solved (mean steps)",
                [f"{row[k]['solved']:.1%} ({row[k]['mean_steps']:.2f})" for k in modes],
            )
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
@click.option(
    "--model",
    type=click.Path(file_okay=False, path_type=Path),
    help="Exported model folder (default: the shipped Sudoku model).",
)
@click.option("--easy", default="easy", show_default=True, help="Easy sample: a generator level or a file.")
@click.option(
    "--hard", default="minimal", show_default=True, help="Hard sample: a generator level or a file."
)
@click.option(
    "--count", type=click.IntRange(min=1), default=512, show_default=True, help="Puzzles per sample."
)
@click.option("--latency-runs", type=click.IntRange(min=1), default=50, show_default=True)
@click.option(
    "--batch-sizes", default="64,1024", show_default=True, help="Throughput batch sizes, comma-separated."
)
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated samples.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@errors_as_messages
def bench(
    backend_names: tuple[str, ...],
    model: Path | None,
    easy: str,
    hard: str,
    count: int,
    latency_runs: int,
    batch_sizes: str,
    threads: int | None,
    seed: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Latency, throughput, halting against 16 fixed steps, and accuracy, for each backend here."""
    from ..bench import measure_backend

    try:
        sizes = [int(x) for x in batch_sizes.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{batch_sizes!r} is not a comma-separated list of integers") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("--batch-sizes needs at least one positive integer")
    names = list(backends.BACKENDS) if "all" in backend_names else list(dict.fromkeys(backend_names))
    samples = [
        _bench_sample("easy", easy, count, seed, quiet),
        _bench_sample("hard", hard, count, seed + 1, quiet),
    ]
    total = sum(4 * latency_runs + 2 * sum(sizes) for n in names if backends.availability(n) is None)
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
                measure_backend(name, samples, sizes, latency_runs, bar.update, model=model, threads=threads)
            )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(_bench_table(report))
