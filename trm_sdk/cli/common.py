"""What the commands share: solver options built one way, errors turned into messages, puzzle input."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .. import backends
from ..errors import TRMError
from ..limits import MAX_VIEWS
from ..solver import Solver
from ..tasks import TASKS, Task

_SOLVER_KEYS = (
    "task",
    "backend",
    "model",
    "max_steps",
    "threshold",
    "threads",
    "batch_size",
    "fallback",
    "time_limit",
    "views",
    "seed",
    "stop_on_verified",
)


@dataclass(frozen=True)
class SolverOptions:
    """The options every solving command shares, gathered so commands build Solvers one way."""

    task: str
    backend: str
    model: Path | None
    max_steps: int | None
    threshold: float | None
    threads: int | None
    batch_size: int
    fallback: str | None
    time_limit: float
    views: int | None
    seed: int
    stop_on_verified: bool | None

    def build(self) -> Solver:
        """The one Solver a command uses; the choices here become its per-call defaults."""
        return Solver(
            self.task,
            backend=self.backend,
            model=self.model,
            max_steps=self.max_steps,
            halt_threshold=self.threshold,
            threads=self.threads,
            batch_size=self.batch_size,
            fallback=self.fallback,
            search_time_limit=self.time_limit,
            views=self.views,
            seed=self.seed,
            stop_on_verified=self.stop_on_verified,
        )


def solver_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared solver options; the command receives them as one ``opts: SolverOptions``."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        opts = SolverOptions(**{key: kwargs.pop(key) for key in _SOLVER_KEYS})
        return func(*args, opts=opts, **kwargs)

    options = [
        click.option("--task", type=click.Choice(list(TASKS)), default="sudoku", show_default=True),
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
            default=None,
            help="Most supervision steps per puzzle [default: the N_sup the model was trained with].",
        ),
        click.option(
            "--threshold",
            type=click.FloatRange(0.0, 1.0),
            default=None,
            help="Halt when sigmoid(q_halt) exceeds this; 1.0 always runs --max-steps "
            "[default: the threshold in the model's manifest].",
        ),
        click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads."),
        click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True),
        click.option(
            "--fallback",
            type=click.Choice(["none", "search"]),
            default="none",
            show_default=True,
            callback=lambda ctx, param, value: None if value == "none" else value,
            help="search: finish answers that fail verification with an exact search guided by the network.",
        ),
        click.option(
            "--time-limit",
            type=click.FloatRange(min=0.0, min_open=True),
            default=10.0,
            show_default=True,
            help="Seconds the exact search may spend on one puzzle (with --fallback search).",
        ),
        click.option(
            "--views",
            type=click.IntRange(1, MAX_VIEWS),
            default=None,
            help="Most symmetric views of a puzzle to try until one verifies; 1 is a single pass "
            "[default: the model's, from its manifest].",
        ),
        click.option(
            "--seed",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            help="Which views a puzzle gets.",
        ),
        click.option(
            "--stop-on-verified/--no-stop-on-verified",
            default=None,
            help="Also end a puzzle at the first step whose answer verifies, whatever the halting head "
            "says [default: the model's, from its manifest].",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


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
        return task.read_puzzles(source, sys.stdin.read() if source == "-" else None)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(exc)) from exc
