"""The developer tools under tools/ run against the installed package and do what the docs say of them."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TOOLS = Path(__file__).resolve().parents[1] / "tools"
# Each tool runs end to end, training included: slow by nature.
pytestmark = [
    pytest.mark.skipif(not TOOLS.is_dir(), reason="tools/ is not in this checkout"),
    pytest.mark.slow,
]


def test_gpu_window_trains_scores_saves_the_split_state_and_resumes_from_it(
    tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    pytest.importorskip("torch")
    data = tmp_path / "data"
    (data / "generated").mkdir(parents=True)
    generated_csv(data / "generated" / "sudoku_minimal.csv", "sudoku", "easy", 6, seed=11)
    (data / "sudoku" / "tdoku").mkdir(parents=True)
    generated_csv(data / "sudoku" / "tdoku" / "puzzles2_17_clue.csv", "sudoku", "easy", 20, seed=12)
    out = tmp_path / "out"
    cmd = [sys.executable, str(TOOLS / "gpu_window.py"), "train", "--quick", "--device", "cpu"]
    cmd += ["--data", str(data), "--out", str(out), "--deadline-s", "20"]
    first = subprocess.run(cmd, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    assert "generated/sudoku_minimal" in first.stdout and "state: index.json" in first.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["train_files"] == ["puzzles2_17_clue.csv"]
    assert summary["summary"]["eval_files"]["generated/sudoku_minimal"]["puzzles"] == 6
    assert all(size < 15 * 2**20 for size in summary["state_files"].values())
    steps = summary["summary"]["steps"]
    assert steps > 0 and len(list(out.iterdir())) + len(list((out / "state").iterdir())) <= 8

    again = subprocess.run(
        [*cmd[:-4], "--out", str(tmp_path / "out2"), "--deadline-s", "20", "--resume", str(out / "state")],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 0, again.stderr
    resumed = json.loads((tmp_path / "out2" / "summary.json").read_text())
    assert resumed["summary"]["steps"] > steps and resumed["resumed_from"] == str(out / "state")


def test_gpu_check_backends_runs_with_the_installed_package(tmp_path: Path) -> None:
    """The tool imports trm_sdk as installed (pip install -e . in a checkout): run from elsewhere, with
    no path tricks, it still finds the package and the shipped model."""
    pytest.importorskip("torch")
    out = tmp_path / "out"
    cmd = [sys.executable, str(TOOLS / "gpu_check_backends.py"), "--out", str(out), "--device", "cpu"]
    run = subprocess.run([*cmd, "--quick"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agreement"]["fp32"]["same_answer"] >= 0.9  # fp32 on the CPU: the same network
    threshold = json.loads((TOOLS.parent / "models" / "sudoku" / "manifest.json").read_text())["halting"]
    assert f"threshold {threshold['threshold']}" in run.stdout  # the model's calibrated threshold


def test_train_speed_times_the_real_step_by_precision(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    tiny = "hidden=16 n_prefix=2 T=1 n=1 N_sup=2 multiple_of=16 eval_size=4".split()
    rows = {}
    for batch in (4, 8):
        out = tmp_path / f"speed{batch}.json"
        cmd = [
            sys.executable,
            str(TOOLS / "train_speed.py"),
            "--compile",
            "off",
            "--precision",
            "fp32,bf16",
        ]
        cmd += ["--steps", "50", "--warmup", "25", "--json", str(out)]
        cmd += [arg for pair in [*tiny, f"batch_size={batch}"] for arg in ("--set", pair)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        rows[batch] = json.loads(out.read_text())
    assert [r["precision"] for r in rows[4]] == ["fp32", "bf16"]  # asked for, whatever the CPU has
    assert all(r["steps_per_s"] > 0 and r["compile_error"] is None for r in rows[4] + rows[8])
    # The FLOP count is the step's: twice the puzzles, twice the products.
    assert rows[8][0]["gflop_per_step"] == pytest.approx(2 * rows[4][0]["gflop_per_step"], rel=0.02)
