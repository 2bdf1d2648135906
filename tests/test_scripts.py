"""The maintenance scripts under scripts/ run and do what their figures in the README rely on."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
pytestmark = pytest.mark.skipif(not SCRIPTS.is_dir(), reason="scripts/ is not in this checkout")


def _generated_csv(path: Path, level: str, n: int, seed: int) -> Path:
    from trm_sdk.tasks.sudoku import codec, generate

    puzzles, solutions = generate.make_batch(np.random.default_rng(seed), n, level)
    pairs = zip(puzzles, solutions, strict=True)
    path.write_text(
        "puzzle,solution\n" + "".join(f"{codec.to_string(p)},{codec.to_string(s)}\n" for p, s in pairs)
    )
    return path


def test_calibrate_halting_records_a_threshold_the_solver_uses(tiny_model_dir: Path, tmp_path: Path) -> None:
    from trm_sdk import Solver

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    calib = _generated_csv(tmp_path / "calib.csv", "easy", 8, seed=3)
    cmd = [sys.executable, str(SCRIPTS / "calibrate_halting.py"), "--model", str(model), str(calib)]
    out = subprocess.run([*cmd, "--write-manifest", "--data-note", "test"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "chosen threshold:" in out.stdout
    halting = json.loads((model / "manifest.json").read_text())["halting"]
    table = halting["calibration"]["files"]["calib.csv"]
    assert set(table) >= {"all_steps", "0.5", "0.95"} and halting["calibration"]["data"] == "test"
    chosen = halting["threshold"]
    # the rule: the first threshold within the tolerance of the all-steps accuracy
    assert chosen == 1.0 or table[str(chosen)][0] >= table["all_steps"][0] - 0.005
    assert Solver("sudoku", backend="cpu", model=model).halt_threshold == chosen  # checksums still hold


def test_calibrate_halting_refuses_evaluation_sets(tiny_model_dir: Path) -> None:
    from trm_sdk.tasks.sudoku import datasets

    root = datasets.default_data_dir()
    if root is None or not (root / "sudoku" / "norvig" / "top95.csv").is_file():
        pytest.skip("shared data not found")
    top95 = root / "sudoku" / "norvig" / "top95.csv"
    out = subprocess.run(
        [sys.executable, str(SCRIPTS / "calibrate_halting.py"), "--model", str(tiny_model_dir), str(top95)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "evaluation-only" in out.stderr


def test_gpu_window_trains_scores_saves_the_split_state_and_resumes_from_it(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    data = tmp_path / "data"
    (data / "generated").mkdir(parents=True)
    _generated_csv(data / "generated" / "sudoku_minimal.csv", "easy", 6, seed=11)
    (data / "sudoku" / "tdoku").mkdir(parents=True)
    _generated_csv(data / "sudoku" / "tdoku" / "puzzles2_17_clue.csv", "easy", 20, seed=12)
    out = tmp_path / "out"
    cmd = [sys.executable, str(SCRIPTS / "gpu_window.py"), "train", "--quick", "--device", "cpu"]
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


def _manifest_with(path: Path, sets: dict[str, tuple[int, float]]) -> Path:
    path.mkdir()
    evaluation = {
        name: {"puzzles": n, "exact_halting": acc, "exact_all_steps": acc, "mean_steps": 3.0}
        for name, (n, acc) in sets.items()
    }
    (path / "manifest.json").write_text(json.dumps({"evaluation": {"sets": evaluation}}))
    return path


def test_compare_models_replaces_only_when_hard_sets_gain_and_easy_ones_hold(tmp_path: Path) -> None:
    def verdict(old: dict, new: dict) -> tuple[int, str]:
        a = _manifest_with(tmp_path / f"old{len(list(tmp_path.iterdir()))}", old)
        b = _manifest_with(tmp_path / f"new{len(list(tmp_path.iterdir()))}", new)
        out = subprocess.run(
            [sys.executable, str(SCRIPTS / "compare_models.py"), str(a), str(b)],
            capture_output=True,
            text=True,
        )
        return out.returncode, out.stdout

    old = {"kaggle/first1000": (1000, 0.99), "tdoku/magictour": (1000, 0.05), "norvig/hardest": (10, 0.5)}
    # Pooled: the 10-puzzle set falling from 5 to 0 solved does not outweigh 40 more on magictour.
    rc, text = verdict(old, {**old, "tdoku/magictour": (1000, 0.09), "norvig/hardest": (10, 0.0)})
    assert rc == 0 and "verdict: replace" in text and "5.45% -> 8.91%" in text
    rc, text = verdict(old, {**old, "tdoku/magictour": (1000, 0.2), "kaggle/first1000": (1000, 0.97)})
    assert rc == 1 and "easy sets lost: kaggle/first1000" in text
    rc, text = verdict(old, old)
    assert rc == 1 and "verdict: keep" in text
    rc, text = verdict(old, {"tdoku/magictour": (500, 0.5)})
    assert rc == 2 and "not comparable" in text


def test_gpu_check_backends_runs_from_a_bare_checkout(tmp_path: Path) -> None:
    """The GPU machine has no install: the script must import the checkout it sits in, not a copy on the
    path. A decoy ``trm_sdk`` ahead of site-packages fails the run if the script ever reaches it."""
    pytest.importorskip("torch")
    decoy = tmp_path / "decoy" / "trm_sdk"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("raise ImportError('the decoy trm_sdk was imported')\n")
    out = tmp_path / "out"
    cmd = [sys.executable, str(SCRIPTS / "gpu_check_backends.py"), "--out", str(out), "--device", "cpu"]
    env = {**os.environ, "PYTHONPATH": str(decoy.parent)}
    run = subprocess.run([*cmd, "--quick"], capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agreement"]["fp32"]["same_answer"] >= 0.9  # fp32 on the CPU: the same network
    threshold = json.loads((SCRIPTS.parent / "models" / "sudoku" / "manifest.json").read_text())["halting"]
    assert f"threshold {threshold['threshold']}" in run.stdout  # the model's calibrated threshold
