"""Commands that measure: ``trm eval`` (accuracy per data set) and ``trm bench`` (speed per backend)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from .. import backends, evaluation
from .. import bench as benchmarks
from ..limits import MAX_VIEWS
from .common import TASK, TASK_HELP, SolverSetup, chosen_task, errors_as_messages, solver_options


@click.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@solver_options
@click.option("--limit", type=click.IntRange(min=1), default=None, help="First N puzzles of each file.")
@click.option(
    "--every-step/--no-every-step",
    default=True,
    show_default=True,
    help="Also score every puzzle at every supervision step, the paper's evaluation (the 'all steps' "
    "column); --no-every-step skips it, which costs about as much again as the run with halting.",
)
@click.option(
    "--rank-correlation",
    is_flag=True,
    help="FILES are ranked by curated difficulty, easiest first: also print each file's rating levels "
    "and Spearman's rank correlation between each puzzle's rating score and its file's rank.",
)
@click.option("--write-manifest", is_flag=True, help="Record the results in the model's manifest.json.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the rows as JSON, keyed by set (with --rank-correlation, also a 'rank_correlation' key).",
)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@errors_as_messages
def evaluate(
    files: tuple[str, ...],
    opts: SolverSetup,
    limit: int | None,
    every_step: bool,
    rank_correlation: bool,
    write_manifest: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Exact accuracy on FILES of puzzle,answer pairs: with halting and with every step.

    With views (--views, or the model's default), also the accuracy each number of views reaches (the
    waves' totals 1, 4, 16, 64, ...; a run with fewer views runs exactly the first of these) and the
    views run per puzzle.

    Accuracy within step budgets: a model that stops at its first verified answer with no halting head
    (--stop-on-verified --halt-threshold 1.0, the shipped models' default) also gets the first view's
    accuracy within each step budget up to --max-steps (8, 16, 24, 32, 48, 64, 96, 128, ...), read off
    the same run ("within first view, steps"; exact_by_steps_view_1 in --json). For example, a maze file
    up to 128 steps and 8 views:

    \b
      trm eval --task maze --stop-on-verified --halt-threshold 1.0 --max-steps 128 --views 8 FILE

    The rating against curated difficulty: --rank-correlation, with FILES given easiest first; each
    puzzle's rank is its file's position, and its rating comes from the run with halting (for the
    single-view figure, add --views 1):

    \b
      trm eval --views 1 --no-every-step --rank-correlation EASY.csv MEDIUM.csv HARD.csv

    With --fallback search, also the accuracy with the exact search behind the network and, where the
    task's search branches (Sudoku), the branch points it needs guided by the network against unguided.
    """
    if rank_correlation and len(files) < 2:
        raise click.UsageError("--rank-correlation needs at least two FILES, easiest first")
    solver = opts.build()
    scores: list[evaluation.FileScore] = []
    for path in files:
        puzzles, answers = evaluation.load_scored(solver, path, limit)
        work = evaluation.score_work(len(puzzles), every_step, bool(solver.fallback))
        with click.progressbar(length=work, label=Path(path).stem, file=sys.stderr, hidden=quiet) as bar:
            name = evaluation.set_name(path)
            scores.append(evaluation.score_set(solver, name, puzzles, answers, every_step, bar.update))
    rows = {s.name: s.row for s in scores}
    ranked = evaluation.rank_correlation([(s.name, s.ratings) for s in scores]) if rank_correlation else None
    if as_json:
        click.echo(json.dumps({**rows, "rank_correlation": ranked} if ranked else rows, indent=2))
    else:
        click.echo(_eval_table(rows, bool(solver.fallback)))
        if ranked:
            click.echo(_ranks_table(ranked))
    if write_manifest:
        recorded = evaluation.record(solver, rows, "trm " + shlex.join(sys.argv[1:]))
        click.echo(f"recorded in {recorded}", err=True)


def _eval_table(rows: dict[str, dict[str, Any]], search: bool) -> str:
    extra = f" {'+search':>8s} {'nodes guided/unguided':>22s}" if search else ""
    lines = [
        f"{'set':45s} {'n':>5s} {'halting':>8s} {'steps':>6s} {'views':>6s} {'all steps':>9s} "
        f"{'ms/puzzle':>9s} {'rating':>6s}" + extra
    ]
    for name, r in rows.items():
        all_steps = f"{r['exact_all_steps']:9.1%}" if "exact_all_steps" in r else f"{'-':>9s}"
        line = (
            f"{name:45s} {r['puzzles']:5d} {r['exact_halting']:8.1%} {r['mean_steps']:6.2f} "
            f"{r['mean_views']:6.2f} {all_steps} {r['ms_per_puzzle_halting']:9.1f} "
            f"{r['mean_rating']:6.2f}"
        )
        if search:
            gain = r.get("search_gain")
            nodes = (
                f"{gain['all']['mean_nodes_guided']:.1f}/{gain['all']['mean_nodes_unguided']:.1f}"
                if gain
                else "-"
            )
            line += f" {r['exact_with_search']:8.1%} {nodes:>22s}"
        lines.append(line)
        for label, key in (("views", "exact_by_views"), ("first view, steps", "exact_by_steps_view_1")):
            if len(r.get(key, {})) > 1:  # how accuracy grows with views, and with steps where it stops
                lines.append(f"  within {label}: " + "  ".join(f"{k}: {v:.1%}" for k, v in r[key].items()))
    return "\n".join(lines)


def _ranks_table(ranked: dict[str, Any]) -> str:
    lines = []
    for f in ranked["files"]:
        counts = " / ".join(f"{n} {level}" for level, n in f["levels"].items())
        lines.append(f"{f['set']}: {f['puzzles']} puzzles, mean score {f['mean_score']:.3f}; {counts}")
    rho = ranked["spearman"]
    value = "undefined (every puzzle got the same score)" if rho is None else f"{rho:.3f}"
    lines.append(f"Spearman rank correlation, score vs file rank: {value}")
    return "\n".join(lines)


def _bench_table(report: dict[str, Any]) -> str:
    steps = next((f"{b['max_steps']} steps" for b in report["backends"] if b["available"]), "all steps")
    lines = [f"{'backend':16s} {'measure':34s} {'halting':>16s} {steps:>16s}"]
    for b in report["backends"]:
        name = b["backend"] + (f"/{b['engine']}" if "engine" in b else "")
        if not b["available"]:
            lines.append(f"{name:16s} unavailable: {b['reason']}")
            continue

        def add(measure: str, cells: list[str], name: str = name) -> None:
            lines.append(f"{name:16s} {measure:34s} {cells[0]:>16s} {cells[1]:>16s}")

        modes = ("halting", "all_steps")
        lines.append(
            f"{name:16s} runs {b['engines']}; up to {b['views']} views a puzzle, the model's default"
        )
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
            lines.append(f"{name:16s} views -> solved, ms/puzzle ({sample}) {cells}")
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
    "--engine",
    "engine_names",
    type=click.Choice(["all", *benchmarks.CPU_ENGINES]),
    multiple=True,
    default=["all"],
    show_default=True,
    help="The CPU backend's engines to compare side by side (repeatable): auto (what a Solver gets here), "
    "onnxruntime (fp32), openvino (bf16 where the CPU has it natively, else f32).",
)
@click.option("--task", type=TASK, help=f"{TASK_HELP} [default: the model's task, else sudoku]")
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
    engine_names: tuple[str, ...],
    task: str | None,
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
    """Latency, throughput, halting against all steps, and accuracy, for each backend here, the CPU backend
    once per engine (--engine), side by side."""
    chosen = chosen_task(task, model)
    easy = easy or chosen.bench_levels[0]
    hard = hard or chosen.bench_levels[1]
    try:
        sizes = [int(x) for x in batch_sizes.split(",") if x.strip()]
    except ValueError:
        raise click.BadParameter(f"{batch_sizes!r} is not a comma-separated list of integers") from None
    if not sizes or min(sizes) < 1:
        raise click.BadParameter("--batch-sizes needs at least one positive integer")
    names = list(backends.BACKENDS) if "all" in backend_names else list(dict.fromkeys(backend_names))
    engines = benchmarks.CPU_ENGINES if "all" in engine_names else tuple(dict.fromkeys(engine_names))
    with click.progressbar(length=2 * count, label="preparing samples", file=sys.stderr, hidden=quiet) as bar:
        samples = [
            benchmarks.sample(chosen, "easy", easy, count, seed, bar.update),
            benchmarks.sample(chosen, "hard", hard, count, seed + 1, bar.update),
        ]
    views = (views_table, views_puzzles)
    per_backend = benchmarks.backend_work(samples, sizes, latency_runs, views, chosen.max_views)
    configs = benchmarks.configurations(names, engines)
    total = per_backend * sum(benchmarks.unavailable(*c) is None for c in configs)
    with click.progressbar(length=total, label="benchmarking", file=sys.stderr, hidden=quiet) as bar:
        report = benchmarks.benchmark(
            names,
            samples,
            sizes,
            latency_runs,
            bar.update,
            views,
            engines,
            task=task,
            model=model,
            threads=threads,
        )
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(_bench_table(report))
