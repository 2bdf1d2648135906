"""What the commands share: solver options built one way, errors turned into messages, puzzle input."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click
import numpy as np

from .. import backends
from ..errors import TRMError
from ..solver import Solver
from ..tasks import TASKS

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
)


@dataclass(frozen=True)
class SolverOptions:
    """The options every solving command shares, gathered so commands build Solvers one way."""

    task: str
    backend: str
    model: Path | None
    max_steps: int
    threshold: float | None
    threads: int | None
    batch_size: int
    fallback: str | None
    time_limit: float

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
            fallback=values["fallback"],
            search_time_limit=values["time_limit"],
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
            default=16,
            show_default=True,
            help="Most supervision steps per puzzle.",
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
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper


def errors_as_messages(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (TRMError, ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


def _split_text(text: str) -> list[str]:
    """Many one-line puzzles, or one puzzle pasted as a grid over several lines."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    return lines if lines and all(len(ln) >= 81 for ln in lines) else [text]


def read_puzzles(source: str, task: str = "sudoku") -> list[str]:
    """A puzzle string, a file (.csv, or text with one puzzle per line or one grid), or '-' for stdin."""
    if task == "maze":
        return _read_mazes(source)
    if source == "-":
        return _split_text(sys.stdin.read())
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            from ..tasks.sudoku import codec, datasets

            return [codec.to_string(p) for p in datasets.load(path).puzzles]
        return _split_text(path.read_text(encoding="utf-8"))
    if source.endswith((".txt", ".csv")):
        raise click.ClickException(f"no such puzzle file: {source}")
    return [source]


def _read_mazes(source: str) -> list[str]:
    """Mazes keep every space and a line may start with '#' (a wall row), so they get their own reader."""
    from ..tasks.maze import codec, datasets

    if source == "-":
        return codec.split_text(sys.stdin.read())
    path = Path(source)
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return [codec.to_string(p) for p in datasets.load(path).puzzles]
        return codec.split_text(path.read_text(encoding="utf-8"))
    if source.endswith((".txt", ".csv")):
        raise click.ClickException(f"no such maze file: {source}")
    return [source]


def answer_text(task: str, grid: Any) -> str:
    """An answer in its one-line data-file form: 81 digits, or a maze's 900 characters."""
    if task == "maze":  # padded back to 30x30, the Maze-Hard file form
        from ..tasks.maze import codec as maze_codec

        return maze_codec.to_string(maze_codec.to_cells(list(grid)))
    from ..tasks.sudoku import codec

    return codec.to_string(grid)


def is_exact(task: str, solution: Any, expected: np.ndarray) -> bool:
    # A maze has many shortest paths and any one is right: the verifier's word is the exact score.
    if task == "maze":
        return bool(solution.solved)
    return bool(solution.solved and np.array_equal(solution.grid, expected))
