"""``trm``: solve puzzles, measure a model, and show what this machine can run. Each command is thin."""

from __future__ import annotations

import functools
import json
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from . import __version__, backends
from .errors import TRMError
from .solver import Solver

_SOLVER_KEYS = ("task", "backend", "model", "max_steps", "threshold", "threads", "batch_size")


@dataclass(frozen=True)
class SolverOptions:
    """The options every solving command shares, gathered so commands build Solvers one way."""

    task: str
    backend: str
    model: Path | None
    max_steps: int
    threshold: float
    threads: int | None
    batch_size: int

    def build(self, **override: Any) -> Solver:
        values = {**asdict(self), **override}
        return Solver(
            values["task"],
            backend=values["backend"],
            model=values["model"],
            max_steps=values["max_steps"],
            halt_threshold=values["threshold"],
            threads=values["threads"],
            batch_size=values["batch_size"],
        )


def _solver_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared solver options; the command receives them as one ``opts: SolverOptions``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opts = SolverOptions(**{key: kwargs.pop(key) for key in _SOLVER_KEYS})
        return func(*args, opts=opts, **kwargs)

    options = [
        click.option("--task", type=click.Choice(["sudoku"]), default="sudoku", show_default=True),
        click.option(
            "--backend", type=click.Choice(["auto", *backends.BACKENDS]), default="auto", show_default=True
        ),
        click.option(
            "--model",
            type=click.Path(file_okay=False, path_type=Path),
            help="Exported model folder (default: the model shipped for the task).",
        ),
        click.option(
            "--max-steps",
            type=click.IntRange(min=1),
            default=16,
            show_default=True,
            help="Most supervision steps per puzzle.",
        ),
        click.option(
            "--threshold",
            type=click.FloatRange(0.0, 1.0),
            default=0.5,
            show_default=True,
            help="Halt when sigmoid(q_halt) exceeds this; 1.0 always runs --max-steps.",
        ),
        click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads."),
        click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def _errors_as_messages(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TRMError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="trm")
def main() -> None:
    """Solve puzzles with a Tiny Recursive Model (TRM)."""


def _split_text(text: str) -> list[str]:
    """Many one-line puzzles, or one puzzle pasted as a grid over several lines."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return lines if lines and all(len(ln) >= 81 for ln in lines) else [text]


def _read_puzzles(source: str) -> list[str]:
    """A puzzle string, a file (.csv, or text with one puzzle per line or one grid), or '-' for stdin."""
    if source == "-":
        return _split_text(sys.stdin.read())
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            from .tasks.sudoku import codec, datasets

            return [codec.to_string(p) for p in datasets.load(path).puzzles]
        return _split_text(path.read_text(encoding="utf-8"))
    if source.endswith((".txt", ".csv")):
        raise click.ClickException(f"no such puzzle file: {source}")
    return [source]


@main.command()
@click.argument("puzzles", nargs=-1, required=True)
@_solver_options
@click.option("--json", "as_json", is_flag=True, help="One JSON object per puzzle.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_errors_as_messages
def solve(puzzles: tuple[str, ...], opts: SolverOptions, as_json: bool, quiet: bool) -> None:
    """Solve PUZZLES: 81-character strings, files of puzzles (.txt, .csv), or - for standard input.

    Exits with status 1 if any answer fails verification.
    """
    items = [p for source in puzzles for p in _read_puzzles(source)]
    from .tasks import get_task

    checker = get_task(opts.task)
    for i, item in enumerate(items):  # refuse bad input before paying for a model load
        try:
            checker.parse(item)
        except TRMError as exc:
            raise click.ClickException(f"puzzle #{i + 1}: {exc}" if len(items) > 1 else str(exc)) from exc
    solver = opts.build()
    batch_size = opts.batch_size
    start = time.perf_counter()
    results = []
    show_bar = not quiet and not as_json and len(items) > batch_size
    with click.progressbar(length=len(items), label="solving", file=sys.stderr, hidden=not show_bar) as bar:
        for i in range(0, len(items), batch_size):
            chunk = solver.solve_batch(items[i : i + batch_size])
            results.extend(chunk)
            bar.update(len(chunk))
    elapsed = time.perf_counter() - start
    from .tasks.sudoku import codec

    for r in results:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "solution": codec.to_string(r.grid),
                        "solved": r.solved,
                        "steps": r.steps,
                        "confidence": round(r.confidence, 4),
                        "backend": r.backend,
                    }
                )
            )
        else:
            click.echo(str(r) + "\n")
    if not as_json:
        n_ok = sum(r.solved for r in results)
        click.echo(
            f"{n_ok}/{len(results)} solved, {1000 * elapsed / len(results):.1f} ms per puzzle "
            f"on {solver.backend}",
            err=True,
        )
    if not all(r.solved for r in results):
        sys.exit(1)


@main.command()
@click.option("--model", type=click.Path(file_okay=False, path_type=Path), help="Also describe this model.")
@_errors_as_messages
def info(model: Path | None) -> None:
    """Show the version, the shipped models, and which backends can run here and why not."""
    from .manifest import load_manifest
    from .models import available, model_dir

    click.echo(f"trm-sdk {__version__}, Python {sys.version.split()[0]}")
    click.echo("\nbackends (auto picks the first available):")
    for name in backends.BACKENDS:
        reason = backends.availability(name)
        click.echo(f"  {name:9s} {'available' if reason is None else 'unavailable: ' + reason}")
    dirs = [model_dir(t) for t in available()] + ([model] if model else [])
    click.echo("\nmodels:" if dirs else "\nmodels: none shipped")
    for d in dirs:
        m = load_manifest(d)
        cfg = m.model
        click.echo(f"  {m.task}: {d}")
        click.echo(
            f"    hidden {cfg['hidden']}, {cfg['n_blocks']} blocks, mixer {cfg['mixer']}, T={cfg['T']} "
            f"n={cfg['n']}, N_sup={cfg['N_sup']}"
        )
        for role, entry in m.files.items():
            click.echo(
                f"    {role}: {entry['path']} ({entry['bytes'] / 1e6:.1f} MB, sha256 {entry['sha256'][:12]})"
            )
        for name, row in m.raw.get("evaluation", {}).get("sets", {}).items():
            click.echo(
                f"    {name}: {row['exact_halting']:.1%} exact with halting, "
                f"{row['exact_all_steps']:.1%} with all steps"
            )


@main.command()
@click.option(
    "--level",
    type=click.Choice(["easy", "medium", "hard", "minimal"]),
    default=None,
    help="Difficulty by blank count: easy 30-40, medium 41-50, hard 51-56, minimal.",
)
@click.option("--blanks", type=click.IntRange(0, 64), default=None, help="Exactly this many blanks instead.")
@click.option("--count", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="Same seed, same puzzles.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="CSV file (default: stdout).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_errors_as_messages
def generate(
    level: str | None, blanks: int | None, count: int, seed: int, out: Path | None, quiet: bool
) -> None:
    """Generate unique-solution Sudoku puzzles as puzzle,solution CSV."""
    from .tasks.sudoku import codec
    from .tasks.sudoku import generate as gen

    if (level is None) == (blanks is None):
        raise click.UsageError("give exactly one of --level and --blanks")
    rng = np.random.default_rng(seed)
    rows = []
    with click.progressbar(
        range(count), label="generating", file=sys.stderr, hidden=quiet or out is None
    ) as bar:
        for _ in bar:
            puzzle, solution = gen.make_level(rng, level) if level else gen.make_puzzle(rng, blanks=blanks)
            rows.append(f"{codec.to_string(puzzle)},{codec.to_string(solution)}\n")
    text = "puzzle,solution\n" + "".join(rows)
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@main.command(name="eval")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@_solver_options
@click.option("--limit", type=click.IntRange(min=1), default=None, help="First N puzzles of each file.")
@click.option("--write-manifest", is_flag=True, help="Record the results in the model's manifest.json.")
@click.option("--json", "as_json", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_errors_as_messages
def evaluate(
    files: tuple[str, ...],
    opts: SolverOptions,
    limit: int | None,
    write_manifest: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Exact whole-grid accuracy on FILES of puzzle,solution pairs: with halting and with all steps."""
    from .tasks.sudoku import datasets

    halting = opts.build()
    fixed = opts.build(threshold=1.0)
    rows: dict[str, dict[str, Any]] = {}
    for path in files:
        data = datasets.load(path, limit=limit)
        if data.solutions is None:
            raise click.ClickException(f"{path} has no solutions to score against")
        row = _score(halting, fixed, data.puzzles, data.solutions, Path(path).stem, quiet)
        rows[_set_name(Path(path))] = row
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        click.echo(f"{'set':45s} {'n':>5s} {'halting':>8s} {'steps':>6s} {'all steps':>9s} {'ms/puzzle':>9s}")
        for name, r in rows.items():
            click.echo(
                f"{name:45s} {r['puzzles']:5d} {r['exact_halting']:8.1%} {r['mean_steps']:6.2f} "
                f"{r['exact_all_steps']:9.1%} {r['ms_per_puzzle_halting']:9.1f}"
            )
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
        exact = [
            bool(r.solved and np.array_equal(r.grid, s)) for r, s in zip(results, solutions, strict=True)
        ]
        out[f"exact_{key}"] = round(float(np.mean(exact)), 4)
        out[f"ms_per_puzzle_{key}"] = round(1000 * elapsed / max(len(puzzles), 1), 2)
        if key == "halting":
            out["mean_steps"] = round(float(np.mean([r.steps for r in results])), 2)
    return out


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


if __name__ == "__main__":
    main()
