"""trm-train and trm-export in an install with only the runtime: help works, a run names the extra to install.

Each command runs in a fresh interpreter where ``import torch`` and ``import onnx`` fail, as they do when
neither the ``train`` nor the ``export`` extra is installed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BLOCK = "import sys; sys.modules.update(torch=None, onnx=None)"  # an entry of None makes the import fail


def run_without_extras(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    code = f"{BLOCK}; from {module} import main; main({list(args)!r}, prog_name={module.split('.')[-2]!r})"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("module", "words"),
    [("trm_sdk.train.cli", ["--task", "--resume"]), ("trm_sdk.export.cli", ["--checkpoint", "tensorrt"])],
)
def test_help_needs_neither_torch_nor_onnx(module: str, words: list[str]) -> None:
    result = run_without_extras(module, "--help")
    assert result.returncode == 0, result.stderr
    assert all(w in result.stdout for w in words), result.stdout
    assert "maze" in result.stdout  # the task choices come from trm_sdk.tasks


def test_a_run_without_the_extra_names_the_fix(tmp_path: Path) -> None:
    result = run_without_extras("trm_sdk.train.cli", "--steps", "1", "--out", str(tmp_path / "run"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "trm-train needs PyTorch: pip install 'trm-sdk[train]'" in result.stderr

    ckpt = tmp_path / "latest.pt"
    ckpt.write_bytes(b"")
    result = run_without_extras("trm_sdk.export.cli", "--checkpoint", str(ckpt), "--out", str(tmp_path / "m"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "trm-export needs PyTorch and onnx: pip install 'trm-sdk[export]'" in result.stderr
