"""What the commands share: solver options built one way, errors turned into messages, puzzle input."""

from __future__ import annotations

import dataclasses
import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .. import backends, limits
from ..errors import TRMError
from ..limits import MAX_BATCH_SIZE, MAX_THREADS
from ..manifest import load_manifest
from ..options import LIBRARY_DEFAULTS, SolveOptions
from ..solver import Solver
from ..tasks import Task, get_task, task_for_model, task_names


def chosen_task(task: str | None, model: Path | None) -> Task:
    """The task a command's Solver will solve (``--task``, else the one ``--model`` names, else Sudoku),
    read from the manifest without loading the graphs, so input is checked before a model loads."""
    if task is None and model is not None:
        return task_for_model(load_manifest(model, verify=False))
    return get_task(task or "sudoku")


@dataclass(frozen=True)
class SolverSetup:
    """What a command line chose for its one Solver: how to load it, and the defaults of its calls."""

    task: str | None  # None: the task the model's manifest names, or sudoku without a model
    backend: str
    model: Path | None
    threads: int | None
    batch_size: int
    options: SolveOptions  # the per-call choices given as flags; None fields take the model's defaults

    def chosen_task(self) -> Task:
        return chosen_task(self.task, self.model)

    def build(self) -> Solver:
        """The one Solver a command uses; ``options`` become its per-call defaults."""
        return Solver(
            self.task,
            backend=self.backend,
            model=self.model,
            threads=self.threads,
            batch_size=self.batch_size,
            options=self.options,
        )


_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class TaskName(click.ParamType):
    """``--task``: an installed task's name or a ``module:Class``, loaded and checked as the command line
    is read, so a mistyped name or a broken plugin is a usage error naming what is installed."""

    name = "task"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            get_task(value)
        except TRMError as exc:
            self.fail(str(exc), param, ctx)
        return str(value)


def _task_help() -> str:
    try:
        names = ", ".join(task_names())
    except TRMError:  # two packages claim one name: the option says so when it is used
        names = "see trm info"
    return f"The puzzle task: an installed one ({names}), or module:Class of one that is not registered."


TASK = TaskName()
TASK_HELP = _task_help()


def _choice_flag(f: dataclasses.Field[Any]) -> _Decorator:
    """The flag of one SolveOptions field: its name with dashes, its help and click type from the field's
    metadata (no click type: an on/off pair), and the default it gets. Unset, it passes None, so the Solver
    fills it in: the help says from where."""
    flag = "--" + f.name.replace("_", "-")
    default = getattr(LIBRARY_DEFAULTS, f.name)  # None: the model's manifest holds it
    if default is None:
        shown = "the model's, from its manifest"
    else:
        shown = f"{default:g}" if isinstance(default, float) else str(default)
    help = f"{f.metadata['help']} [default: {shown}]"
    make_type = f.metadata["click_type"]
    if make_type is None:
        return click.option(f"{flag}/--no-{flag[2:]}", f.name, default=None, help=help)
    return click.option(flag, f.name, type=make_type(click), default=None, help=help)


def solver_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared solver options: how to load the Solver, then one flag per SolveOptions field; the
    command receives them as one ``opts: SolverSetup``."""
    loading = [f.name for f in dataclasses.fields(SolverSetup) if f.name != "options"]
    choices = [f.name for f in dataclasses.fields(SolveOptions)]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        options = SolveOptions(**{key: kwargs.pop(key) for key in choices})
        opts = SolverSetup(**{key: kwargs.pop(key) for key in loading}, options=options)
        return func(*args, opts=opts, **kwargs)

    flags: list[_Decorator] = [
        click.option("--task", type=TASK, help=f"{TASK_HELP} [default: the model's task, else sudoku]"),
        click.option(
            "--backend", type=click.Choice(["auto", *backends.BACKENDS]), default="auto", show_default=True
        ),
        click.option(
            "--model",
            type=click.Path(file_okay=False, path_type=Path),
            help="Exported model folder (default: the model shipped for the task).",
        ),
        click.option("--threads", type=click.IntRange(1, MAX_THREADS), default=None, help="CPU threads."),
        click.option("--batch-size", type=click.IntRange(1, MAX_BATCH_SIZE), default=256, show_default=True),
        *(_choice_flag(f) for f in dataclasses.fields(SolveOptions)),
    ]
    command: Callable[..., Any] = wrapper
    for flag in reversed(flags):
        command = flag(command)
    return command


# Exit statuses, in click's tradition: 0 every puzzle solved, 1 some unsolved, 2 bad usage or input (a
# message, never a traceback), 130 interrupted by Ctrl-C (after the finished results are written).
EXIT_UNSOLVED = 1
EXIT_INTERRUPTED = 130


class InputError(click.ClickException):
    """Bad input, a bad option value or an unusable model: the message, and exit status 2."""

    exit_code = 2


def errors_as_messages(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TRMError, ValueError, OSError, MemoryError) as exc:
            raise InputError(str(exc) or type(exc).__name__) from exc
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)

    return wrapper


def read_puzzles(source: str, task: Task) -> list[tuple[str, str]]:
    """A puzzle string, a file of puzzles (.csv, or text with one puzzle per line or one grid), or '-':
    each puzzle's text with where it came from ("file.txt, line 3"; "" for a puzzle given inline)."""
    try:
        return task.read_puzzles(source, _read_stdin() if source == "-" else None)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(exc)) from exc


def _read_stdin() -> str:
    """Standard input, at most ``MAX_INPUT_BYTES`` characters of it: an endless stream is refused."""
    cap = limits.MAX_INPUT_BYTES
    text = sys.stdin.read(cap + 1)
    if len(text) > cap:
        raise InputError(f"standard input holds more than {cap:,} characters; split it into smaller batches")
    return text
