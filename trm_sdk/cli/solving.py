"""Commands that use a model: ``trm solve``, and the ones that describe or make puzzles (info, generate)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import numpy as np

from .. import __version__, backends, training_log
from ..backends import cpu_engines
from ..errors import TRMError
from ..limits import MAX_VIEWS
from ..options import SolveOptions
from ..rating import rate_solution
from ..tasks import get_task, installed, task_names
from .common import (
    EXIT_INTERRUPTED,
    EXIT_UNSOLVED,
    TASK,
    TASK_HELP,
    InputError,
    SolverSetup,
    errors_as_messages,
    read_puzzles,
    solver_options,
)


@click.command()
@click.argument("puzzles", nargs=-1, required=True)
@solver_options
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="One JSON object per puzzle: the answer as text (solution) and Solution.to_dict()'s fields.",
)
@click.option("--hint", is_flag=True, help="Instead of solving, name the next cell to reveal.")
@click.option("--rate", is_flag=True, help="Also rate each puzzle's difficulty as the network sees it.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option(
    "--skip-bad", is_flag=True, help="Report bad puzzles by file and line and solve the rest (default: stop)."
)
@errors_as_messages
def solve(
    puzzles: tuple[str, ...],
    opts: SolverSetup,
    as_json: bool,
    hint: bool,
    rate: bool,
    quiet: bool,
    skip_bad: bool,
) -> None:
    """Solve PUZZLES: 81-character strings, files of puzzles (.txt, .csv), or - for standard input.

    Exit status: 0 every puzzle solved, 1 some unsolved (or skipped with --skip-bad), 2 bad usage or input,
    130 interrupted (the puzzles finished by then are written first).
    """
    if hint and rate:
        raise click.UsageError("--hint replaces solving, so it cannot be combined with --rate")
    checker = opts.chosen_task()
    located = [item for source in puzzles for item in read_puzzles(source, checker)]
    items: list[str] = []
    skipped: dict[int, str] = {}  # position among all puzzles -> why it was skipped
    for i, (item, where) in enumerate(located):  # refuse bad input before paying for a model load
        try:
            checker.parse(item)
        except TRMError as exc:
            label = where or (f"puzzle #{i + 1}" if len(located) > 1 else "")
            message = f"{label}: {exc}" if label else str(exc)
            if not skip_bad:
                rest = "; --skip-bad solves the rest" if len(located) > 1 else ""
                raise InputError(message + rest) from exc
            skipped[i] = message
            click.echo(f"skipped {message}", err=True)
            continue
        items.append(item)
    if not items:
        what = "every puzzle was bad" if skipped else "no puzzles found"
        raise InputError(f"{what} in {', '.join(puzzles)}")
    solver = opts.build()
    if hint:
        for item in items:
            h = solver.hint(item)
            click.echo(json.dumps(asdict(h)) if as_json else str(h))
        sys.exit(EXIT_UNSOLVED if skipped else 0)
    batch_size = opts.batch_size
    start = time.perf_counter()
    results: list[Any] = []
    interrupted = False
    show_bar = not quiet and not as_json and len(items) > batch_size
    try:
        with click.progressbar(
            length=len(items), label="solving", file=sys.stderr, hidden=not show_bar
        ) as bar:
            for i in range(0, len(items), batch_size):
                chunk = solver.solve_batch(items[i : i + batch_size])
                results.extend(chunk)
                bar.update(len(chunk))
    except KeyboardInterrupt:  # write what is finished, then exit 130
        interrupted = True
    elapsed = time.perf_counter() - start
    solved = iter(results)
    for i in range(len(located)):
        if i in skipped:
            if as_json:
                click.echo(json.dumps({"error": skipped[i], "solved": False}))
            continue
        r = next(solved, None)
        if r is None:
            break
        rating = rate_solution(r, solver.max_steps) if rate else None
        if as_json:
            row = {"solution": solver.task.to_string(r.grid), **r.to_dict()}
            if rating is not None:
                row["rating"] = {"score": rating.score, "level": rating.level}
            click.echo(json.dumps(row))
        else:
            click.echo(str(r) + (f"\n{rating}" if rating is not None else "") + "\n")
    n_ok = sum(r.solved for r in results)
    if not as_json or interrupted or skipped:
        per = f", {1000 * elapsed / len(results):.1f} ms per puzzle" if results else ""
        note = f", {len(skipped)} skipped" if skipped else ""
        stop = f"; interrupted after {len(results)} of {len(items)}" if interrupted else ""
        click.echo(f"{n_ok}/{len(located)} solved{note}{per} on {solver.backend}{stop}", err=True)
    if interrupted:
        sys.exit(EXIT_INTERRUPTED)
    if skipped or n_ok < len(results):
        sys.exit(EXIT_UNSOLVED)


@click.command()
@click.option("--model", type=click.Path(file_okay=False, path_type=Path), help="Also describe this model.")
@errors_as_messages
def info(model: Path | None) -> None:
    """Show the version, the installed tasks and their models, and which backends can run here and why not."""
    from ..manifest import load_manifest
    from ..shipped import available, model_dir

    click.echo(f"trm-sdk {__version__}, Python {sys.version.split()[0]}")
    click.echo("\nbackends (auto picks the first available):")
    for name in backends.BACKENDS:
        reason = backends.availability(name)
        click.echo(f"  {name:9s} {'available' if reason is None else 'unavailable: ' + reason}")
        if name == "cpu" and reason is None:
            click.echo(f"            engine: {cpu_engines.plan().summary()}")
    _list_tasks()
    dirs = [model_dir(t) for t in available()] + ([model] if model else [])
    click.echo("\nmodels:" if dirs else "\nmodels: none shipped")
    for d in dirs:
        m = load_manifest(d)
        try:  # a manifest that loads may still lack, or garble, a field only this description reads
            _describe(m, d)
        except (KeyError, TypeError, AttributeError, ValueError, IndexError) as exc:
            what = f"field {exc}" if isinstance(exc, KeyError) else f"a field ({exc})"
            raise InputError(
                f"{d / 'manifest.json'}: cannot describe the model: missing or malformed {what}"
            ) from None


def _list_tasks() -> None:
    """One line per installed task: where it comes from, its levels and views; a plugin that fails to
    load says why instead of hiding the others."""
    sources = installed()
    click.echo(
        f"\ntasks ({len(sources)} installed; a plugin adds one through the entry-point group trm_sdk.tasks):"
    )
    for name in task_names():
        origin = sources[name]
        try:
            task = get_task(name)
        except TRMError as exc:
            click.echo(f"  {name:10s} cannot be loaded: {exc}")
            continue
        views = f"{task.max_views} views" if task.max_views < MAX_VIEWS else "views without limit"
        click.echo(
            f"  {name:10s} {origin.package or origin.target} {origin.version or ''}".rstrip()
            + f"; levels {', '.join(task.levels)}; {views}; search {'yes' if task.has_search else 'no'}"
        )


def _describe(m: Any, d: Path) -> None:
    """The lines of ``trm info`` for one model; fields the runtime does not need show as '?'."""
    cfg = m.model
    click.echo(f"  {m.task}: {d}")
    click.echo(
        f"    hidden {cfg['hidden']}, {cfg.get('n_blocks', '?')} blocks, mixer {cfg.get('mixer', '?')}, "
        f"T={cfg.get('T', '?')} n={cfg.get('n', '?')}, N_sup={cfg['N_sup']}"
    )
    click.echo(f"    {_stopping(SolveOptions.from_manifest(m))}")
    trained = _trained(m.raw.get("training"), training_log.read(d))
    if trained:
        click.echo(f"    {trained}")
    for role, entry in m.files.items():
        size = f"{entry['bytes'] / 1e6:.1f} MB, " if "bytes" in entry else ""
        click.echo(f"    {role}: {entry['path']} ({size}sha256 {entry['sha256'][:12]})")
    for name, row in m.raw.get("evaluation", {}).get("sets", {}).items():
        click.echo(f"    {name}: {_measured(row)}")


def _trained(card: Any, log: dict[str, Any]) -> str:
    """How long the model trained, from the manifest's card, and how much of a curve its log holds."""
    if not isinstance(card, dict) or "step" not in card:
        return ""
    text = f"trained {card['step']:,} steps, {training_log.total_minutes(card):,.0f} minutes"
    if card.get("hardware"):
        text += f" ({card['hardware']})"
    curve = log.get("learning_curve") or []
    if curve:
        text += f"; learning curve: {len(curve)} evaluations in {training_log.TRAINING_LOG_NAME}"
    return text


def _stopping(defaults: SolveOptions) -> str:
    """A model's stopping rule, as the Solver reads it from the manifest (its defaults), in words."""
    threshold = defaults.halt_threshold
    rules = [f"when sigmoid(q_halt) > {threshold}"] if threshold is not None and threshold < 1 else []
    if defaults.stop_on_verified:
        rules.append("at its first verified answer")
    rule = " or ".join(rules) or "after every step"
    views = defaults.views
    return f"stops {rule}, within {defaults.max_steps} steps; " + (
        "one view" if views == 1 else f"up to {views} views"
    )


def _measured(row: dict[str, Any]) -> str:
    """One evaluation row of a manifest: what the default Solver scored, and the single pass beside it
    when views were measured (a --no-every-step evaluation records no all-steps figure)."""
    views = row.get("views", 1)
    text = f"{row['exact_halting']:.1%} exact with " + (f"{views} views" if views > 1 else "halting")
    one_view = row.get("exact_by_views", {}).get("1")
    if views > 1 and one_view is not None:
        text += f" ({one_view:.1%} with 1)"
    if "exact_all_steps" in row:
        text += f", {row['exact_all_steps']:.1%} with all steps"
    if "ms_per_puzzle_halting" in row:
        text += f", {row['ms_per_puzzle_halting']:,.0f} ms each"
    return text


@click.command()
@click.option(
    "--level",
    default=None,
    help="Difficulty: one of the task's levels, easiest first (trm info lists them). Sudoku: easy 30-40 "
    "blanks, medium 41-50, hard 51-56, minimal; mazes: easy 6-12 cells a side, medium 13-22, hard 30 with "
    "100+ move paths.",
)
@click.option("--task", type=TASK, default="sudoku", show_default=True, help=TASK_HELP)
@click.option(
    "--blanks", type=click.IntRange(0, 64), default=None, help="Sudoku: exactly this many blanks instead."
)
@click.option("--count", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same puzzles.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="CSV file (default: stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@errors_as_messages
def generate(
    level: str | None, task: str, blanks: int | None, count: int, seed: int, out: Path | None, quiet: bool
) -> None:
    """Generate puzzles with their answers as CSV, in the form the task's files are read back in (Sudoku:
    puzzle,solution; mazes: question,answer,path_length; a plugin's: puzzle,answer by default)."""
    chosen = get_task(task)
    options = {} if blanks is None else {"blanks": blanks}
    if level is not None and level not in chosen.levels:
        raise click.UsageError(f"{chosen.name} levels are {', '.join(chosen.levels)}, not {level!r}")
    rng = np.random.default_rng(seed)
    pairs = []
    with click.progressbar(
        range(count), label="generating", file=sys.stderr, hidden=quiet or out is None
    ) as bar:
        for _ in bar:
            try:
                pairs.append(chosen.generate(rng, level, **options))
            except (TypeError, ValueError) as exc:
                raise click.UsageError(f"{task}: {exc}") from exc
    text = chosen.to_csv(np.stack([p for p, _ in pairs]), np.stack([a for _, a in pairs]))
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
