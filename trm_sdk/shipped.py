"""The models that ship with the installed tasks, each found through its task's ``model_resource``.

trm-sdk's own models are the package data of ``trm_sdk.models`` (``pyproject.toml`` installs the
top-level ``models/`` folder as that package); a plugin ships its model inside its own package. Either way
``importlib.resources`` finds it, in a wheel and in an editable install alike.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import ModelError, TRMError
from .tasks import get_task, task_names
from .version import __version__

__all__ = ["available", "model_dir"]

log = logging.getLogger("trm_sdk")


def model_dir(task: str) -> Path:
    """Folder of the model shipped for ``task``; ModelError, saying what to pass instead, if it has none."""
    folder = get_task(task).shipped_model()
    if folder is None:
        raise ModelError(
            f"trm-sdk {__version__} and the task's package ship no {task} model; pass model=<folder made by "
            "trm-export>"
        )
    return folder


def available() -> list[str]:
    """Installed tasks that ship a model. A plugin that fails to load is left out (and logged); loading it
    by name reports why."""
    found = []
    for name in task_names():
        try:
            if get_task(name).shipped_model() is not None:
                found.append(name)
        except TRMError as exc:
            log.warning("trm_sdk: %s", exc)
    return found
