"""Model manifests: checksums are verified on use, and every broken directory gets a clear ModelError."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trm_sdk.errors import ModelError
from trm_sdk.manifest import FORMAT_VERSION, load_manifest, sha256_file, write_manifest

FIELDS = {
    "task": "sudoku",
    "encoding": {"seq_len": 81, "vocab_size": 11},
    "model": {"seq_len": 81, "n_prefix": 4, "hidden": 32, "N_sup": 16},
    "halting": {"threshold": 0.5, "max_steps": 16},
    "files": {"step": "step.onnx"},
}


def _model_dir(tmp_path: Path) -> Path:
    (tmp_path / "step.onnx").write_bytes(b"graph bytes")
    write_manifest(tmp_path, FIELDS)
    return tmp_path


def test_round_trip_and_checksums(tmp_path: Path) -> None:
    m = load_manifest(_model_dir(tmp_path))
    assert m.task == "sudoku"
    assert m.state_shape == (85, 32)
    assert m.files["step"]["sha256"] == sha256_file(tmp_path / "step.onnx")
    assert m.files["step"]["bytes"] == len(b"graph bytes")
    assert m.path("step") == tmp_path / "step.onnx"
    assert json.loads((tmp_path / "manifest.json").read_text())["format"] == FORMAT_VERSION


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    m = load_manifest(_model_dir(tmp_path))
    (tmp_path / "step.onnx").write_bytes(b"graph bytez")
    with pytest.raises(ModelError, match=r"model file corrupt: .*step\.onnx"):
        m.path("step")


def test_missing_file_and_role(tmp_path: Path) -> None:
    m = load_manifest(_model_dir(tmp_path))
    with pytest.raises(ModelError, match="no 'unrolled' graph"):
        m.path("unrolled")
    (tmp_path / "step.onnx").unlink()
    with pytest.raises(ModelError, match="model file missing"):
        m.path("step")


def test_broken_manifests(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no manifest\.json"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(ModelError, match="cannot read"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"format": FORMAT_VERSION, "task": "sudoku"}))
    with pytest.raises(ModelError, match="lacks required field"):
        load_manifest(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({**FIELDS, "format": 99}))
    with pytest.raises(ModelError, match="manifest format 99"):
        load_manifest(tmp_path)
