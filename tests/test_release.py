"""trm calibrate and trm compare: the release steps, generic over tasks, writing through the manifest."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from trm_sdk import Solver, evaluation, release
from trm_sdk.cli import main
from trm_sdk.manifest import update
from trm_sdk.tasks import get_task


def test_calibrate_records_a_threshold_the_solver_uses(
    tiny_model_dir: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    calib = generated_csv(tmp_path / "calib.csv", "sudoku", "easy", 8, seed=3)
    args = ["calibrate", "--model", str(model), str(calib), "--write-manifest", "--data-note", "test", "-q"]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "chosen threshold:" in out.output
    body = json.loads((model / "manifest.json").read_text())
    halting = body["halting"]
    table = halting["calibration"]["files"]["calib.csv"]
    assert set(table) >= {"all_steps", "0.5", "0.95"} and halting["calibration"]["data"] == "test"
    assert halting["calibration"]["command"].startswith("trm ")
    assert (
        halting["max_steps"]
        == json.loads((tiny_model_dir / "manifest.json").read_text())["halting"]["max_steps"]
    )
    chosen = halting["threshold"]
    # the rule: the first threshold within the tolerance of the all-steps accuracy, else every step
    within = [t for t in release.THRESHOLDS if table[str(t)][0] >= table["all_steps"][0] - 0.005]
    assert chosen == (within[0] if within else 1.0)
    assert Solver("sudoku", backend="cpu", model=model).halt_threshold == chosen  # checksums still hold
    assert table["all_steps"][1] == body["model"]["N_sup"]  # calibrated over the model's own N_sup


def test_calibration_table_matches_solving_at_each_threshold(
    tiny_model_dir: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    """The table is read off one run of every step; solving at a threshold must give the same figures."""
    calib = generated_csv(tmp_path / "calib.csv", "sudoku", "easy", 12, seed=4)
    result = release.calibrate(tiny_model_dir, [calib])
    table = result["files"]["calib.csv"]
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    data = get_task("sudoku").load(calib)
    for threshold in ("0.5", "0.9"):
        solved = solver.solve_batch(list(data.puzzles), halt_threshold=float(threshold))
        exact = np.mean([solver.task.is_exact(r, s) for r, s in zip(solved, data.solutions, strict=True)])
        assert table[threshold] == [
            round(float(exact), 4),
            round(float(np.mean([r.steps for r in solved])), 2),
        ]


def test_calibrate_works_for_mazes(
    maze_model: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    calib = generated_csv(tmp_path / "mazes.csv", "maze", "easy", 3, seed=5)
    result = release.calibrate(maze_model, [calib])
    assert set(result["files"]["mazes.csv"]) >= {"all_steps", "0.99"}


def test_budget_table_matches_solving_within_each_budget(
    maze_model: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    """Read off one stop-on-verified run, the accuracy within k steps is what a run of k steps gives."""
    calib = generated_csv(tmp_path / "mazes.csv", "maze", "easy", 6, seed=6)
    solver = Solver("maze", backend="cpu", model=maze_model, stop_on_verified=True)
    table = evaluation.budget_table(solver, calib, max_steps=12, views=4)
    assert list(table["by_steps"]) == ["8", "12"] and list(table["by_views"]) == ["1", "4"]
    data = get_task("maze").load(calib)
    for k in (8, 12):
        solved = solver.solve_batch(list(data.puzzles), max_steps=k, halt_threshold=1.0, views=1)
        assert table["by_steps"][str(k)] == round(float(np.mean([r.solved for r in solved])), 4)
    solved = solver.solve_batch(list(data.puzzles), max_steps=12, halt_threshold=1.0, views=4)
    assert table["by_views"]["4"] == table["solved"] == round(float(np.mean([r.solved for r in solved])), 4)


def test_calibrate_chooses_a_budget_for_a_model_that_stops_when_verified(
    maze_model: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    model = tmp_path / "model"
    shutil.copytree(maze_model, model)
    calib = generated_csv(tmp_path / "mazes.csv", "maze", "easy", 4, seed=7)
    # A views record from an earlier choice, which the new one must replace, not merge into.
    update(model, {"inference": {"views": 3, "rule": "old", "measured_on": {"old.csv": {"1": 0.5}}}})
    refused = CliRunner().invoke(main, ["calibrate", "--model", str(model), "--max-steps", "8", str(calib)])
    assert refused.exit_code == 2 and "--stop-on-verified" in refused.output
    args = ["calibrate", "--model", str(model), str(calib), "--stop-on-verified", "--max-steps", "16"]
    out = CliRunner().invoke(main, [*args, "--views", "8", "--write-manifest", "--data-note", "test", "-q"])
    assert out.exit_code == 0, out.output
    body = json.loads((model / "manifest.json").read_text())
    halting, table = body["halting"], body["halting"]["calibration"]["files"]["mazes.csv"]
    assert halting["threshold"] == 1.0 and halting["stop_on_verified"] is True
    # the rule: the first budget (and then wave total) within the tolerance of the largest
    first = next(k for k, acc in table["by_steps"].items() if acc >= table["by_steps"]["16"] - 0.005)
    assert halting["max_steps"] == int(first) and list(table["by_steps"]) == ["8", "16"]
    views = next(w for w, acc in table["by_views"].items() if acc >= table["by_views"]["8"] - 0.005)
    assert body["inference"]["views"] == int(views) and list(table["by_views"]) == ["1", "4", "8"]
    assert body["inference"]["measured_on"] == {"mazes.csv": table["by_views"]}
    solver = Solver("maze", backend="cpu", model=model)  # checksums still hold; the choice is the default
    assert (solver.max_steps, solver.halt_threshold, solver.stop_on_verified) == (int(first), 1.0, True)
    assert f"chosen: max_steps {first}, views {views}" in out.output


def test_calibrate_refuses_evaluation_sets(tiny_model_dir: Path, shared_data: Callable[[str], Path]) -> None:
    top95 = shared_data("sudoku/norvig/top95.csv")
    out = CliRunner().invoke(main, ["calibrate", "--model", str(tiny_model_dir), str(top95)])
    assert out.exit_code == 2 and "evaluation-only" in out.output  # bad input (issue 16)


def _model_with(path: Path, sets: dict[str, tuple[int, float]], task: str = "sudoku") -> Path:
    path.mkdir()
    evaluation = {
        name: {"puzzles": n, "exact_halting": acc, "exact_all_steps": acc, "mean_steps": 3.0}
        for name, (n, acc) in sets.items()
    }
    body = {"format": 1, "task": task, "encoding": {}, "model": {}, "halting": {}, "files": {}}
    (path / "manifest.json").write_text(json.dumps({**body, "evaluation": {"sets": evaluation}}))
    return path


def test_compare_replaces_only_when_hard_sets_gain_and_easy_ones_hold(tmp_path: Path) -> None:
    def verdict(old: dict, new: dict, task: str = "sudoku") -> tuple[int, str]:
        a = _model_with(tmp_path / f"old{len(list(tmp_path.iterdir()))}", old)
        b = _model_with(tmp_path / f"new{len(list(tmp_path.iterdir()))}", new, task)
        out = CliRunner().invoke(main, ["compare", str(a), str(b)])
        return out.exit_code, out.output

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
    rc, text = verdict(old, old, task="maze")
    assert rc == 2 and "maze" in text
    rc, text = verdict({"kaggle/first1000": (1000, 0.99)}, {})
    assert rc == 2 and "no evaluation" in text


def test_compare_asks_the_task_which_sets_are_easy(tmp_path: Path) -> None:
    # For mazes no set is easy: a loss anywhere counts against the pooled figure, not as forgetting.
    old = _model_with(tmp_path / "a", {"maze/test": (100, 0.5), "generated/maze_easy": (100, 1.0)}, "maze")
    new = _model_with(tmp_path / "b", {"maze/test": (100, 0.7), "generated/maze_easy": (100, 0.95)}, "maze")
    result = release.compare(old, new)
    assert result["easy_lost"] == [] and result["verdict"] == "replace"
    assert result["hard_old"] == pytest.approx(0.75) and result["hard_new"] == pytest.approx(0.825)
