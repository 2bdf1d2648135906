"""The finished experiments under experiments/ still run, against the installed package, and measure
what their write-ups report."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
pytestmark = pytest.mark.skipif(not EXPERIMENTS.is_dir(), reason="experiments/ is not in this checkout")


@pytest.mark.slow
def test_sudoku_study_scores_each_candidate_once_on_sets_it_never_trains_on(
    tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    pytest.importorskip("torch")
    data = tmp_path / "data"
    (data / "sudoku" / "tdoku").mkdir(parents=True)
    puzzles5 = generated_csv(
        data / "sudoku" / "tdoku" / "puzzles5_forum_hardest_1905_11+.csv", "sudoku", "easy", 30, 1
    )
    generated_csv(data / "sudoku" / "tdoku" / "puzzles2_17_clue.csv", "sudoku", "easy", 10, seed=2)
    results, work = tmp_path / "study.json", tmp_path / "work"
    cmd = [sys.executable, str(EXPERIMENTS / "sudoku_study.py"), "--minutes", "0.25", "--only", "base"]
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


def test_sudoku_isomorphs_counts_exact_and_relabelled_copies(
    tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    train = generated_csv(tmp_path / "train.csv", "sudoku", "medium", 5, seed=21)
    lines = train.read_text().splitlines()
    puzzle, solution = lines[1].split(",")
    relabel = str.maketrans("123456789", "912345678")  # every digit moved on by one

    def copy(grid: str) -> str:  # transposed, then every digit moved on by one
        return "".join(grid[9 * c + r] for r in range(9) for c in range(9)).translate(relabel)

    unrelated = (
        generated_csv(tmp_path / "other.csv", "sudoku", "medium", 1, seed=22).read_text().splitlines()[1]
    )
    evaluation = tmp_path / "eval.csv"
    evaluation.write_text(
        "puzzle,solution\n"
        f"{lines[2]}\n"  # an exact copy of a training puzzle
        f"{copy(puzzle)},{copy(solution)}\n"  # a relabelled, transposed copy
        f"{unrelated}\n"  # a puzzle of its own
    )
    done = subprocess.run(
        [sys.executable, str(EXPERIMENTS / "sudoku_isomorphs.py"), str(evaluation), str(train)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "3 puzzles; exact copies in train.csv: 1" in done.stdout
    assert "likely relabelled copies): 1" in done.stdout
    assert "training keeps 5 of the 5 puzzles of train.csv" in done.stdout


def test_views_table_reads_what_trm_eval_scores(
    tiny_model_dir: Path, tmp_path: Path, generated_csv: Callable[..., Path]
) -> None:
    """views_table runs the batches trm eval runs, through trm_sdk.evaluation: the same figures."""
    from trm_sdk import Solver, evaluation

    files = [
        generated_csv(tmp_path / "easy.csv", "sudoku", "easy", 6, seed=31),
        generated_csv(tmp_path / "minimal.csv", "sudoku", "minimal", 5, seed=32),
    ]
    out = tmp_path / "views.json"
    cmd = [
        sys.executable,
        str(EXPERIMENTS / "views_table.py"),
        *map(str, files),
        "--model",
        str(tiny_model_dir),
    ]
    cmd += ["--views", "4", "--rank", "0,1", "--json", str(out)]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = json.loads(out.read_text())
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir, views=4)
    for path in files:
        row = evaluation.score_file(solver, path, every_step=False).row
        got = report["sets"][str(path)]
        assert list(got["exact_by_views"]) == ["1", "4"]
        for key in ("exact_by_views", "mean_views", "mean_steps", "mean_rating"):
            assert got[key] == row[key], key
        assert len(got["scores"]) == row["puzzles"]
    assert report["spearman"]["files"] == [str(p) for p in files]
    assert "Spearman rank correlation, score vs file rank" in run.stdout


def _reaches_inside(source: str) -> list[str]:
    """Monkeypatching and path tricks in a script: assigning or deleting a private attribute of another
    object (``solver._predict = ...``), and ``sys.path`` edits."""
    found = []
    for node in ast.walk(ast.parse(source)):
        targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else []
        for t in targets:
            if isinstance(t, ast.Attribute) and t.attr.startswith("_") and not t.attr.startswith("__"):
                found.append(f"line {node.lineno}: sets or deletes {t.attr}")
        if isinstance(node, ast.Call) and "sys.path" in ast.unparse(node.func):
            found.append(f"line {node.lineno}: {ast.unparse(node.func)}")
    return found


def test_no_script_monkeypatches_the_sdk_or_edits_sys_path() -> None:
    assert (
        len(_reaches_inside("solver._predict = keep\ndel solver._predict\nsys.path.insert(0, ROOT)\n")) == 3
    )
    scripts = sorted(EXPERIMENTS.glob("*.py")) + sorted((EXPERIMENTS.parent / "tools").glob("*.py"))
    assert len(scripts) >= 7
    found = [f"{p.name} {hit}" for p in scripts for hit in _reaches_inside(p.read_text(encoding="utf-8"))]
    assert not found, "\n".join(found)
