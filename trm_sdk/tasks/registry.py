"""Where tasks come from: the ``trm_sdk.tasks`` entry-point group, or a ``module:Class`` named directly.

Sudoku and Maze register in trm-sdk's own ``pyproject.toml`` the way a plugin registers in its own, so
every task, built in or not, is found, loaded and checked by the same few lines below. A task is loaded
on first use and checked then (:mod:`.checks`), so a broken plugin fails with its own name and what is
wrong, not later inside a solve. A model records where its task came from (:func:`source_record`), so a
model whose plugin is missing names the package to install.
"""

from __future__ import annotations

import importlib
from functools import cache
from importlib import metadata
from typing import Any

from ..errors import ModelError, TRMError
from ..manifest import Manifest
from .base import Task, TaskSource
from .checks import check_task

__all__ = ["GROUP", "get_task", "installed", "source_record", "task_for_model", "task_names"]

GROUP = "trm_sdk.tasks"


def installed() -> dict[str, TaskSource]:
    """Every task registered under the entry-point group, by name. Two distributions registering one name
    is an error naming both, since which of them wins would depend on the order of ``sys.path``."""
    found: dict[str, TaskSource] = {}
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist
        source = TaskSource(ep.name, ep.value, dist.name if dist else None, dist.version if dist else None)
        other = found.get(ep.name)
        if other is not None and other.target != source.target:
            raise TRMError(
                f"two installed packages register the task {ep.name!r}: {other.describe()} and "
                f"{source.describe()}; uninstall one of them"
            )
        found[ep.name] = source
    return found


def task_names() -> list[str]:
    """The installed tasks' names: the built-in ones first, then the plugins', each in name order."""
    found = installed()  # one scan of the installed distributions, not one per name
    return sorted(found, key=lambda name: (found[name].package != "trm-sdk", name))


def get_task(name: str) -> Task:
    """The task called ``name`` (registered under the entry-point group), or the class named by a
    ``module:Class`` string, built and checked once: a task holds no state, so every caller shares one."""
    if not isinstance(name, str):
        raise TRMError(f"a task is named by a string (installed: {_listing()}), not {type(name).__name__}")
    return _build(name)


@cache
def _build(name: str) -> Task:
    if ":" in name:
        return _load(TaskSource(name, name, *_distribution_of(name)), expected=None)
    source = installed().get(name)
    if source is None:
        raise TRMError(
            f"unknown task {name!r}; installed: {_listing()}. A plugin registers its task under the "
            f"entry-point group {GROUP!r}; a task that is not registered can be named as 'module:Class'"
        )
    return _load(source, expected=name)


def _listing() -> str:
    return ", ".join(task_names()) or "none"


def _load(source: TaskSource, expected: str | None) -> Task:
    """Import, build and check the task ``source`` points at; every failure names the plugin."""
    where = f"task {source.name!r} ({source.describe()})"
    module_name, _, attr = source.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TRMError(f"{where} cannot be imported: {exc}") from exc
    except Exception as exc:  # a plugin's module failing at import time is the plugin's bug, not ours
        raise TRMError(f"{where} fails on import: {type(exc).__name__}: {exc}") from exc
    cls: Any = module
    for part in attr.split(".") if attr else []:
        cls = getattr(cls, part, None)
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise TRMError(f"{where} must name a subclass of trm_sdk.tasks.Task, but names {cls!r}")
    missing = sorted(getattr(cls, "__abstractmethods__", ()))
    if missing:
        raise TRMError(f"{where} lacks the required member(s) {', '.join(missing)} (see trm_sdk.tasks.Task)")
    try:
        task = cls()
    except Exception as exc:
        raise TRMError(f"{where} cannot be built: {type(exc).__name__}: {exc}") from exc
    check_task(task, where, expected)
    task.source = TaskSource(task.name, source.target, source.package, source.version)
    return task


def _distribution_of(target: str) -> tuple[str | None, str | None]:
    """The installed distribution that holds ``module:Class``'s top-level package, if one does."""
    top = target.partition(":")[0].split(".")[0]
    names = metadata.packages_distributions().get(top, [])
    if not names:
        return None, None
    return names[0], metadata.version(names[0])


def source_record(task: Task) -> dict[str, Any]:
    """What a model's manifest records of its task's origin (``task_source``)."""
    source = task.source or TaskSource(
        task.name, f"{type(task).__module__}:{type(task).__qualname__}", None, None
    )
    return {"target": source.target, "package": source.package, "version": source.version}


def task_for_model(manifest: Manifest) -> Task:
    """The task a model's manifest names, with a one-line error naming the package to install when it is
    not; ``task_source`` says where the task came from (absent in models exported before it)."""
    name, record, directory = manifest.task, manifest.raw.get("task_source"), manifest.directory
    if name in installed():
        return get_task(name)
    record = record if isinstance(record, dict) else {}
    package, target, version = record.get("package"), record.get("target"), record.get("version")
    if isinstance(target, str) and ":" in target and package is None:
        return get_task(target)  # a task named by module:Class, outside any distribution
    if isinstance(package, str) and package:
        pinned = f"{package}=={version}" if isinstance(version, str) and version else package
        raise ModelError(
            f"model {directory} is for the task {name!r} of the package {package}, which is not installed: "
            f"pip install {pinned}"
        )
    raise ModelError(
        f"model {directory} is for the task {name!r}, which is not installed (installed: {_listing()})"
    )
