"""trm_sdk.evaluation: scoring files, accuracy within budgets, the rating's rank correlation, recording."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from trm_sdk import Solver, evaluation
from trm_sdk.cli import main
from trm_sdk.rating import rate
from trm_sdk.solution import Solution
from trm_sdk.tasks import get_task


def _result(steps: int, views: int = 1, solved: bool = True) -> Solution:
    return Solution(np.zeros((9, 9), np.int8), solved, steps, 0.5, "cpu", views=views)


def test_score_file_gives_the_row_trm_eval_records(
    tiny_model_dir: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    path = generated_csv(tmp_path / "easy.csv", "sudoku", "easy", 7, seed=1)
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir, batch_size=3)
    seen: list[int] = []
    scored = evaluation.score_file(solver, path, progress=seen.append)
    assert scored.name == f"{tmp_path.name}/easy"
    assert sum(seen) == evaluation.score_work(7, every_step=True) == 14
    assert seen[:3] == [3, 3, 1]  # the Solver's batches, reported as they finish
    row = scored.row
    assert list(row) == [
        "puzzles",
        "exact_halting",
        "ms_per_puzzle_halting",
        "mean_steps",
        "views",
        "mean_views",
        "exact_by_views",
        "mean_rating",
        "exact_all_steps",
        "ms_per_puzzle_all_steps",
    ]
    data = get_task("sudoku").load(path)
    halting = solver.solve_batch(list(data.puzzles))
    every = solver.solve_batch(list(data.puzzles), max_steps=solver.max_steps, halt_threshold=1.0)
    exact = [solver.task.is_exact(r, s) for r, s in zip(halting, data.solutions, strict=True)]
    assert row["puzzles"] == 7 and row["exact_halting"] == round(float(np.mean(exact)), 4)
    assert row["mean_steps"] == round(float(np.mean([r.steps for r in halting])), 2)
    exact_all = [solver.task.is_exact(r, s) for r, s in zip(every, data.solutions, strict=True)]
    assert row["exact_all_steps"] == round(float(np.mean(exact_all)), 4)
    assert len(scored.ratings) == 7
    assert row["mean_rating"] == round(float(np.mean([g.score for g in scored.ratings])), 4)
    quick = evaluation.score_file(solver, path, limit=4, every_step=False)
    assert quick.row["puzzles"] == 4 and "exact_all_steps" not in quick.row


def test_a_stop_on_verified_run_also_gives_accuracy_within_step_budgets(
    maze_model: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    path = generated_csv(tmp_path / "mazes.csv", "maze", "easy", 3, seed=3)
    solver = Solver("maze", backend="cpu", model=maze_model, stop_on_verified=True, halt_threshold=1.0)
    row = evaluation.score_file(solver, path, every_step=False).row
    budgets = list(row["exact_by_steps_view_1"])
    assert budgets[-1] == str(solver.max_steps) and budgets == sorted(budgets, key=int)
    # the accuracy within step budgets and views from trm eval: budget_table's tables, from the same run
    args = ["eval", "--task", "maze", "--model", str(maze_model), "--stop-on-verified", "--halt-threshold"]
    args += ["1.0", "--max-steps", "8", "--views", "4", "--no-every-step", "--json", "-q", str(path)]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    cli = json.loads(out.output)[f"{tmp_path.name}/mazes"]
    assert list(cli["exact_by_steps_view_1"]) == ["8"] and list(cli["exact_by_views"]) == ["1", "4"]
    assert cli["exact_by_views"]["4"] == cli["exact_halting"]
    assert cli["exact_by_steps_view_1"]["8"] == cli["exact_by_views"]["1"]
    assert "exact_all_steps" not in cli
    table = evaluation.budget_table(solver, path, max_steps=8, views=4)
    assert table["by_steps"] == cli["exact_by_steps_view_1"] and table["by_views"] == cli["exact_by_views"]
    text = CliRunner().invoke(main, [a for a in args if a != "--json"])
    assert "within first view, steps: 8:" not in text.output  # one budget is no table
    assert "within views: 1: " in text.output


def test_accuracy_by_budget_on_hand_made_results() -> None:
    results = [_result(3), _result(12), _result(5, views=4), _result(20, views=16), _result(2, solved=False)]
    exact = [True, True, True, False, False]
    read = evaluation.accuracy_by_budget(exact, results, max_steps=20, views=16)
    # first view, within 8 steps: puzzle 0 only; within 16 and 20: puzzles 0 and 1
    assert read["by_steps"] == {"8": 0.2, "16": 0.4, "20": 0.4}
    # within 1 view: 0 and 1; within 4: also 2; puzzle 3 ran 16 views and is wrong
    assert read["by_views"] == {"1": 0.4, "4": 0.6, "16": 0.6}
    with pytest.raises(ValueError, match="one verdict per result"):
        evaluation.accuracy_by_budget(exact[:2], results, 20, 16)


def test_spearman_with_average_ranks_for_ties() -> None:
    assert evaluation.average_ranks([10, 20, 20, 30]).tolist() == [0.0, 1.5, 1.5, 3.0]
    assert evaluation.average_ranks([5, 5, 5]).tolist() == [1.0, 1.0, 1.0]
    assert evaluation.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert evaluation.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    # ranks (0, 1.5, 1.5, 3) against (0.5, 0.5, 2.5, 2.5): covariance 3 over sqrt(4.5 * 4)
    assert evaluation.spearman([1, 2, 2, 3], [0, 0, 1, 1]) == pytest.approx(3 / np.sqrt(18))
    assert evaluation.spearman([0.3, 0.3, 0.3], [0, 1, 2]) is None  # one score for all: no order
    with pytest.raises(ValueError, match="one length"):
        evaluation.spearman([1, 2], [1, 2, 3])


def test_rank_correlation_counts_levels_per_file() -> None:
    easy = [rate(1, 0.9, True, 16), rate(2, 0.9, True, 16)]
    hard = [rate(12, 0.5, True, 16), rate(16, 0.1, False, 16), rate(16, 0.1, False, 16)]
    ranked = evaluation.rank_correlation([("a/easy", easy), ("a/hard", hard)])
    assert [f["set"] for f in ranked["files"]] == ["a/easy", "a/hard"]
    assert ranked["files"][0]["levels"] == {"easy": 2, "medium": 0, "hard": 0, "extreme": 0}
    assert ranked["files"][1]["levels"] == {"easy": 0, "medium": 0, "hard": 1, "extreme": 2}  # 0.72, 1, 1
    scores = [g.score for g in easy + hard]
    assert ranked["spearman"] == round(evaluation.spearman(scores, [0, 0, 1, 1, 1]) or 0.0, 4) > 0.8
    with pytest.raises(ValueError, match="at least two files"):
        evaluation.rank_correlation([("a/easy", easy)])


def test_search_measurements(
    tiny_model_dir: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    path = generated_csv(tmp_path / "minimal.csv", "sudoku", "minimal", 4, seed=5)
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir, fallback="search")
    seen: list[int] = []
    scored = evaluation.score_file(solver, path, every_step=False, progress=seen.append)
    assert sum(seen) == evaluation.score_work(4, every_step=False, search=True) == 12
    row = scored.row
    assert row["exact_with_search"] == 1.0  # the exact search finishes every generated puzzle
    gain = row["search_gain"]["all"]
    # guided by the probabilities the network gave these puzzles, against the same search unguided
    data = get_task("sudoku").load(path)
    pred = solver.predict(list(data.puzzles))
    again = solver.task.search_gain(data.puzzles, pred.logits, pred.solved)
    assert again is not None and gain["puzzles"] == 4
    for key in ("mean_nodes_guided", "mean_nodes_unguided", "guided_fewer", "guided_more"):
        assert gain[key] == again["all"][key], key
    assert row["exact_halting"] <= row["exact_with_search"]


def test_predict_all_joins_the_batches_solve_all_makes(
    tiny_model_dir: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    path = generated_csv(tmp_path / "easy.csv", "sudoku", "easy", 5, seed=6)
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir, batch_size=2)
    data = get_task("sudoku").load(path)
    pred = evaluation.predict_all(solver, data.puzzles, views=4)
    results = evaluation.solve_all(solver, data.puzzles, views=4, fallback="none")
    assert len(pred) == 5 and pred.logits.shape[0] == 5
    assert pred.steps.tolist() == [r.steps for r in results]
    assert pred.solved.tolist() == [r.solved for r in results]
    exact = solver.task.exact_answers(pred.answers, data.puzzles, data.solutions)
    assert exact.tolist() == [
        solver.task.is_exact(r, s) for r, s in zip(results, data.solutions, strict=True)
    ]
    assert evaluation.accuracy_by_budget(exact, pred, 16, 4) == evaluation.accuracy_by_budget(
        exact, results, 16, 4
    )
    with pytest.raises(ValueError, match="at least one puzzle"):
        evaluation.predict_all(solver, data.puzzles[:0])


def test_a_file_without_answers_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    from trm_sdk.tasks.sudoku import codec, generate

    puzzles, _ = generate.make_batch(np.random.default_rng(7), 1, "easy")
    path = tmp_path / "puzzles.txt"
    path.write_text(codec.to_string(puzzles[0]) + "\n")
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    with pytest.raises(ValueError, match="no solutions to score against"):
        evaluation.score_file(solver, path)
    with pytest.raises(ValueError, match="stop_on_verified=True"):
        evaluation.budget_table(solver, path, 8, 1)


def test_record_adds_sets_to_a_copy_of_the_manifest(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    first = Solver("sudoku", backend="cpu", model=model)
    evaluation.record(first, {"x/old": {"puzzles": 3, "exact_halting": 0.5}}, "trm eval old")
    solver = Solver("sudoku", backend="cpu", model=model)  # checksums still hold after the write
    path = evaluation.record(solver, {"x/new": {"puzzles": 2, "exact_halting": 1.0}}, "trm eval new")
    assert path == model / "manifest.json"
    recorded = json.loads(path.read_text())["evaluation"]
    assert recorded["sets"] == {
        "x/old": {"puzzles": 3, "exact_halting": 0.5},
        "x/new": {"puzzles": 2, "exact_halting": 1.0},
    }
    assert recorded["command"] == "trm eval new" and recorded["backend"] == "cpu"
    assert len(recorded["measured"]) == 10  # YYYY-MM-DD
    Solver("sudoku", backend="cpu", model=model)
