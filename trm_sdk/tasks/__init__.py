"""Puzzle tasks: each one's codec (parse, encode, decode, verify) in its own sub-package."""

from __future__ import annotations

from functools import cache

from ..errors import TRMError
from .base import Task

__all__ = ["TASKS", "Task", "get_task"]

TASKS = ("sudoku", "maze")


def get_task(name: str) -> Task:
    """The task called ``name``, built once: a task holds no state, so every caller shares one object."""
    if not isinstance(name, str):
        raise TRMError(f"a task is named by a string ({', '.join(TASKS)}), not {type(name).__name__}")
    return _build(name)


@cache
def _build(name: str) -> Task:
    # Each task's package is imported on first use, so a program that solves Sudoku never loads Maze's.
    if name == "sudoku":
        from .sudoku.task import SudokuTask

        return SudokuTask()
    if name == "maze":
        from .maze.task import MazeTask

        return MazeTask()
    raise TRMError(f"unknown task {name!r}; available: {', '.join(TASKS)}")
