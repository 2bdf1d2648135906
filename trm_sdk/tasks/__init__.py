"""Puzzle tasks: each one's codec (parse, encode, decode, verify) in its own sub-package."""

from __future__ import annotations

from .base import Task

__all__ = ["TASKS", "Task", "get_task"]

TASKS = ("sudoku", "maze")


def get_task(name: str) -> Task:
    from ..errors import TRMError

    if name == "sudoku":
        from .sudoku.task import SudokuTask

        return SudokuTask()
    if name == "maze":
        from .maze.task import MazeTask

        return MazeTask()
    raise TRMError(f"unknown task {name!r}; available: {', '.join(TASKS)}")
