"""Shared fixtures: a tiny exported model, built once per session when torch is present."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly trained-for-a-few-steps tiny TRM, exported through the real export path.

    Its answers are mostly wrong; tests use it for mechanics (shapes, halting, checksums, errors), and the
    shipped model for answers.
    """
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from trm_sdk.export.exporter import export_onnx
    from trm_sdk.train.model import TRMConfig
    from trm_sdk.train.trainer import TrainConfig, Trainer

    root = tmp_path_factory.mktemp("tiny")
    cfg = TrainConfig(
        batch_size=8,
        lr=1e-3,
        warmup_steps=1,
        eval_every=0,
        eval_size=8,
        device="cpu",
        max_steps=2,
        save_every_s=1e9,
    )
    Trainer(TRMConfig(hidden=16, n_prefix=2, T=1, n=1, N_sup=4, multiple_of=16), cfg, root / "run").train()
    export_onnx(root / "run" / "latest.pt", root / "model", n_verify=2, levels=("easy",), progress=False)
    return root / "model"


@pytest.fixture(scope="session")
def maze_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny TRM-Att maze model, trained two steps and exported: it cannot solve mazes (mechanics only)."""
    pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from trm_sdk.export.exporter import export_onnx
    from trm_sdk.tasks import get_task
    from trm_sdk.train.maze_data import MODEL_DEFAULTS
    from trm_sdk.train.model import TRMConfig
    from trm_sdk.train.trainer import TrainConfig, Trainer

    root = tmp_path_factory.mktemp("maze")
    cfg = TrainConfig(
        task="maze",
        batch_size=4,
        lr=1e-3,
        warmup_steps=1,
        eval_every=0,
        eval_size=4,
        device="cpu",
        max_steps=2,
        save_every_s=1e9,
    )
    tiny = {"hidden": 16, "n_heads": 2, "n_prefix": 2, "T": 1, "n": 1, "N_sup": 3, "multiple_of": 16}
    model_cfg = TRMConfig(**{**MODEL_DEFAULTS, **tiny})
    assert model_cfg.mixer == "attention" and model_cfg.seq_len == 900
    Trainer(model_cfg, cfg, root / "run").train()
    manifest = export_onnx(
        root / "run" / "latest.pt", root / "model", n_verify=2, levels=("easy",), progress=False
    )
    assert manifest.task == "maze" and manifest.encoding == get_task("maze").encoding()
    return root / "model"
