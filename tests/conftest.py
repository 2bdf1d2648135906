"""Shared fixtures: tiny exported models, built once per session when torch is present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def _train_and_export(root: Path, task: str, model: dict[str, Any], batch_size: int) -> Path:
    """Two optimizer steps of a tiny TRM, exported through the real export path; returns the model folder."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from trm_sdk.export.exporter import export_onnx
    from trm_sdk.network import TRMConfig
    from trm_sdk.tasks import get_task
    from trm_sdk.train.trainer import TrainConfig, Trainer

    cfg = TrainConfig(
        task=task,
        batch_size=batch_size,
        lr=1e-3,
        warmup_steps=1,
        eval_every=0,
        eval_size=batch_size,
        device="cpu",
        max_steps=2,
        save_every_s=1e9,
    )
    Trainer(TRMConfig(**model), cfg, root / "run").train()
    manifest = export_onnx(
        root / "run" / "latest.pt", root / "model", n_verify=2, levels=("easy",), progress=False
    )
    assert manifest.task == task and manifest.encoding == get_task(task).encoding()
    return root / "model"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Sudoku TRM-MLP. Its answers are mostly wrong; tests use it for mechanics (shapes, halting,
    checksums, errors), and the shipped model for answers."""
    tiny = {"hidden": 16, "n_prefix": 2, "T": 1, "n": 1, "N_sup": 4, "multiple_of": 16}
    return _train_and_export(tmp_path_factory.mktemp("tiny"), "sudoku", tiny, batch_size=8)


@pytest.fixture(scope="session")
def maze_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny maze model of the shipped kind (conv mixer): it cannot solve mazes (mechanics only)."""
    pytest.importorskip("torch")
    from trm_sdk.tasks import get_task

    tiny = {"hidden": 16, "T": 1, "n": 1, "N_sup": 3, "multiple_of": 16}
    model = {**get_task("maze").model_defaults, **tiny}
    assert model["mixer"] == "conv" and model["seq_len"] == 900
    return _train_and_export(tmp_path_factory.mktemp("maze"), "maze", model, batch_size=4)
