"""Commands that prepare a model for release: ``trm calibrate`` (its halting threshold) and ``trm compare``
(whether it replaces the shipped one). The rules are :mod:`trm_sdk.release`'s; these only read and print."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import click

from .. import backends, manifest, release
from ..errors import TRMError
from ..limits import MAX_STEPS, MAX_VIEWS
from ..tasks import task_for_model
from .common import errors_as_messages


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--model", required=True, type=click.Path(file_okay=False, path_type=Path), help="Exported model folder."
)
@click.option(
    "--tolerance",
    type=click.FloatRange(0.0, 1.0),
    default=0.005,
    show_default=True,
    help="Accuracy halting may lose against all steps, on every file.",
)
@click.option("--backend", type=click.Choice(list(backends.BACKENDS)), default="cpu", show_default=True)
@click.option(
    "--stop-on-verified",
    is_flag=True,
    help="Calibrate a model that stops at its first verified answer, not on its halting head's word: "
    "choose its step budget and views instead of a threshold.",
)
@click.option(
    "--max-steps",
    type=click.IntRange(1, MAX_STEPS),
    default=None,
    help="--stop-on-verified: the largest step budget considered [default: twice the model's N_sup].",
)
@click.option(
    "--views",
    type=click.IntRange(1, MAX_VIEWS),
    default=None,
    help="--stop-on-verified: the most views considered [default: the task's symmetries, at most 64].",
)
@click.option("--write-manifest", is_flag=True, help="Record the choice and the tables in the model.")
@click.option("--data-note", default="", help="How the calibration files were made, for the record.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@errors_as_messages
def calibrate(
    files: tuple[str, ...],
    model: Path,
    tolerance: float,
    backend: str,
    stop_on_verified: bool,
    max_steps: int | None,
    views: int | None,
    write_manifest: bool,
    data_note: str,
    quiet: bool,
) -> None:
    """Choose how MODEL stops, on FILES of puzzle,answer pairs, which must not be evaluation sets.

    The halting threshold is the smallest whose accuracy with halting is within --tolerance of the
    accuracy with all steps on every file. With --stop-on-verified (a model that stops at its first
    verified answer, as both shipped models do) the choice is instead the smallest step budget, and then
    the smallest number of views, within --tolerance of --max-steps and --views on every file. Make
    calibration files with `trm generate` and seeds no evaluation set uses.
    """
    model_manifest = manifest.load_manifest(model)
    task = task_for_model(model_manifest)
    total = sum(len(task.load(f)) for f in files)
    if not stop_on_verified and (max_steps is not None or views is not None):
        raise click.UsageError("--max-steps and --views choose a budget: they need --stop-on-verified")
    if stop_on_verified:
        max_steps = max_steps or 2 * int(model_manifest.model.get("N_sup", 16))
        views = views or min(task.max_views, 64)
        with click.progressbar(length=total, label="calibrating", file=sys.stderr, hidden=quiet) as bar:
            budget = release.calibrate_budget(model, files, max_steps, views, tolerance, backend, bar.update)
        for name, table in budget["files"].items():
            click.echo(
                f"{name}: " + json.dumps({k: table[k] for k in ("by_steps", "by_views", "ms_per_puzzle")})
            )
        click.echo(f"chosen: max_steps {budget['max_steps']}, views {budget['views']} ({budget['rule']})")
        if write_manifest:
            path = release.record_budget(model, budget, data_note, _command())
            click.echo(f"recorded in {path}", err=True)
        return
    with click.progressbar(length=total, label="calibrating", file=sys.stderr, hidden=quiet) as bar:
        result = release.calibrate(model, files, tolerance, backend, bar.update)
    for name, table in result["files"].items():
        cells = "  ".join(f"{k}: {acc:.3f} @ {steps:.2f}" for k, (acc, steps) in table.items())
        click.echo(f"{name}: {cells}")
    click.echo(f"chosen threshold: {result['threshold']} ({result['rule']})")
    if write_manifest:
        path = release.record_threshold(model, result, data_note, _command())
        click.echo(f"recorded in {path}", err=True)


def _command() -> str:
    """The command line as run, for the record: how to redo a measurement."""
    return "trm " + shlex.join(sys.argv[1:])


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


@click.command()
@click.argument("old", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("new", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--easy-tolerance",
    type=click.FloatRange(0.0, 1.0),
    default=0.005,
    show_default=True,
    help="Accuracy a candidate may lose on an easy set.",
)
@click.option("--json", "as_json", is_flag=True)
def compare(old: Path, new: Path, easy_tolerance: float, as_json: bool) -> None:
    """Should model NEW replace model OLD? Compares the `trm eval --write-manifest` results they record.

    NEW must solve more of the hard sets both measured (pooled) and lose no easy set by more than
    --easy-tolerance. Exit status 0 means replace, 1 keep, 2 not comparable.
    """
    try:
        result = release.compare(old, new, easy_tolerance)
    except (TRMError, ValueError, OSError) as exc:  # not a model folder, no evaluation, other tasks
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    else:
        click.echo(f"{'set':<44} {'n':>5}  {'old':>7} {'new':>7}  {'old all':>7} {'new all':>7}  steps")
        for r in result["rows"]:
            if "note" in r:
                click.echo(f"{r['set']:<44} {r['note']}")
                continue
            tag = " (easy)" if r["easy"] else ""
            click.echo(
                f"{r['set'] + tag:<44} {r['puzzles']:>5}  {_pct(r['old']):>7} {_pct(r['new']):>7}  "
                f"{_pct(r['old_all_steps']):>7} {_pct(r['new_all_steps']):>7}  "
                f"{r['old_steps']} -> {r['new_steps']}"
            )
        if "hard_old" in result:
            click.echo(
                f"hard sets, {result['hard_puzzles']} puzzles, solved with halting: "
                f"{result['hard_old']:.2%} -> {result['hard_new']:.2%}"
            )
        if result["easy_lost"]:
            click.echo(f"easy sets lost: {', '.join(result['easy_lost'])}")
        click.echo(f"verdict: {result['verdict']}")
    sys.exit({"replace": 0, "keep": 1}.get(result["verdict"], 2))
