"""Puzzle tasks: the :class:`Task` contract, the registry that finds tasks by entry point, and the built-in
Sudoku and Maze, each in its own sub-package."""

from __future__ import annotations

from .base import SearchOutcome, Task, TaskSource
from .registry import GROUP, get_task, installed, task_for_model, task_names

__all__ = [
    "GROUP",
    "SearchOutcome",
    "Task",
    "TaskSource",
    "get_task",
    "installed",
    "task_for_model",
    "task_names",
]
