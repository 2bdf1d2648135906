"""The maintenance scripts under scripts/ run and do what their figures in the README rely on."""

from __future__ import annotations

import json
import os
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


def test_maze_steps_reads_accuracy_at_every_step_budget_from_one_run(
    maze_model: Path, tmp_path: Path
) -> None:
    from trm_sdk.tasks.maze import datasets, generate

    puzzles, answers = generate.make_batch(np.random.default_rng(3), 3, "easy")
    csv = tmp_path / "mazes.csv"
    csv.write_text(datasets.to_csv(puzzles, answers))
    out = tmp_path / "report.json"
    cmd = [sys.executable, str(SCRIPTS / "maze_steps.py"), str(csv), "--model", str(maze_model)]
    cmd += ["--max-steps", "8", "--views", "4", "--json", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    row = json.loads(out.read_text())[str(csv)]
    assert row["puzzles"] == 3 and list(row["by_steps"]) == ["8"] and list(row["by_views"]) == ["1", "4"]
    assert row["by_views"]["1"] <= row["by_views"]["4"] == row["solved"]
    assert row["by_steps"]["8"] == row["by_views"]["1"]


def test_train_speed_times_the_real_step_by_precision(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    tiny = "hidden=16 n_prefix=2 T=1 n=1 N_sup=2 multiple_of=16 eval_size=4".split()
    rows = {}
    for batch in (4, 8):
        out = tmp_path / f"speed{batch}.json"
        cmd = [
            sys.executable,
            str(SCRIPTS / "train_speed.py"),
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


def test_sudoku_study_scores_each_candidate_once_on_sets_it_never_trains_on(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    data = tmp_path / "data"
    (data / "sudoku" / "tdoku").mkdir(parents=True)
    puzzles5 = _generated_csv(
        data / "sudoku" / "tdoku" / "puzzles5_forum_hardest_1905_11+.csv", "easy", 30, 1
    )
    _generated_csv(data / "sudoku" / "tdoku" / "puzzles2_17_clue.csv", "easy", 10, seed=2)
    results, work = tmp_path / "study.json", tmp_path / "work"
    cmd = [sys.executable, str(SCRIPTS / "sudoku_study.py"), "--minutes", "0.25", "--only", "base"]
    cmd += ["--data", str(data), "--results", str(results), "--work", str(work)]
    cmd += ["--held-out", "8", "--set-size", "6"]
    first = subprocess.run(cmd, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    (row,) = json.loads(results.read_text())
    assert row["candidate"] == "base" and row["steps"] >= 1 and row["parameters"] > 0
    sets = {"generated_minimal_6", "generated_blanks55_6", "generated_blanks40_6", "puzzles5_held_out"}
    assert set(row["eval"]) == sets
    assert row["eval"]["puzzles5_held_out"]["puzzles"] == 8
    # the held-out rows are not in the candidates' training file
    lines = puzzles5.read_text().splitlines()
    train = (work / "data" / "puzzles5_train.csv").read_text().splitlines()
    assert train == lines[:-8] and not set(lines[-8:]) & set(train[1:])
    assert "| base |" in first.stdout
    # a set added after a candidate ran is scored from its saved state, without training it again
    del row["eval"]["generated_blanks40_6"]
    results.write_text(json.dumps([row]))
    again = subprocess.run([*cmd, "--rescore"], capture_output=True, text=True)
    assert "already in" in again.stdout and "base: rescored on generated_blanks40_6" in again.stdout
    (rescored,) = json.loads(results.read_text())
    assert set(rescored["eval"]) == sets
    bad = subprocess.run([*cmd[:4], "--only", "nosuch"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown candidates nosuch" in bad.stderr


def test_sudoku_isomorphs_counts_exact_and_relabelled_copies(tmp_path: Path) -> None:
    train = _generated_csv(tmp_path / "train.csv", "medium", 5, seed=21)
    lines = train.read_text().splitlines()
    puzzle, solution = lines[1].split(",")
    relabel = str.maketrans("123456789", "912345678")  # every digit moved on by one

    def copy(grid: str) -> str:  # transposed, then every digit moved on by one
        return "".join(grid[9 * c + r] for r in range(9) for c in range(9)).translate(relabel)

    unrelated = _generated_csv(tmp_path / "other.csv", "medium", 1, seed=22).read_text().splitlines()[1]
    evaluation = tmp_path / "eval.csv"
    evaluation.write_text(
        "puzzle,solution\n"
        f"{lines[2]}\n"  # an exact copy of a training puzzle
        f"{copy(puzzle)},{copy(solution)}\n"  # a relabelled, transposed copy
        f"{unrelated}\n"  # a puzzle of its own
    )
    done = subprocess.run(
        [sys.executable, str(SCRIPTS / "sudoku_isomorphs.py"), str(evaluation), str(train)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "3 puzzles; exact copies in train.csv: 1" in done.stdout
    assert "likely relabelled copies): 1" in done.stdout
    assert "training keeps 5 of the 5 puzzles of train.csv" in done.stdout
