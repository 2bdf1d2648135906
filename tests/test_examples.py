"""The bundled examples run as a user would run them, against the installed package and shipped model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from trm_sdk.shipped import available

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
pytestmark = pytest.mark.skipif(
    "sudoku" not in available() or not EXAMPLES.is_dir(), reason="needs the shipped model and examples/"
)


def test_quickstart_script_solves_and_checks() -> None:
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "quickstart.py")], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    assert "independent check: True; SDK says solved: True" in out.stdout


def test_trm_solve_on_the_bundled_puzzle() -> None:
    from click.testing import CliRunner

    from trm_sdk.cli import main

    result = CliRunner().invoke(main, ["solve", str(EXAMPLES / "puzzle.txt")])
    assert result.exit_code == 0, result.output
    assert "sudoku: solved" in result.stdout


def _run_example(name: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_terminal_game_scripted_session() -> None:
    import numpy as np

    from trm_sdk.tasks.sudoku import generate, search

    givens, _ = generate.make_level(np.random.default_rng(11), "easy")  # what the game will deal
    solution = search.solution(givens)
    assert solution is not None
    r, c = (int(v) for v in np.argwhere(givens == 0)[0])
    wrong = 1 + int(solution[r, c]) % 9
    blanks = int((givens == 0).sum())
    script = "\n".join(
        ["help", "rate", f"{r + 1} {c + 1} {wrong}", "check", "hint", f"{r + 1} {c + 1} 0", "check"]
        + ["hint"] * blanks
        + ["quit"]
    )
    out = _run_example("sudoku_game.py", "--seed", "11", stdin=script + "\n")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"new easy puzzle, {blanks} cells to fill" in text
    assert "difficulty " in text and "commands:" in text
    assert f"wrong: row {r + 1} column {c + 1}" in text
    assert f"first fix row {r + 1}, column {c + 1}" in text  # no hint while an entry is wrong
    assert "all your entries are right" in text
    assert text.count("hint: row") == blanks  # one cell per hint, every one right, until the end
    assert "Solved! Well played." in text


def test_batch_solve_writes_verified_answers(tmp_path: Path) -> None:
    import csv

    import numpy as np

    from trm_sdk.tasks.sudoku import codec, generate

    puzzles, solutions = generate.make_batch(np.random.default_rng(4), 6, "medium")
    source = tmp_path / "in.txt"
    source.write_text("".join(codec.to_string(p) + "\n" for p in puzzles))
    out = _run_example("batch_solve.py", str(source), str(tmp_path / "out.csv"), "--exact")
    assert out.returncode == 0, out.stderr
    assert "6 puzzles in" in out.stdout
    rows = list(csv.DictReader((tmp_path / "out.csv").open()))
    assert [row["answer"] for row in rows] == [codec.to_string(s) for s in solutions]
    assert all(row["solved"] == "True" and row["method"] in ("trm", "trm+search") for row in rows)
    bad = tmp_path / "bad.txt"
    bad.write_text("12345\n")
    failed = _run_example("batch_solve.py", str(bad), str(tmp_path / "x.csv"))
    assert failed.returncode != 0 and "Traceback" not in failed.stderr


def test_maze_example_runs_with_and_without_a_model(maze_model: Path, tmp_path: Path) -> None:
    from trm_sdk.shipped import available as shipped

    out = _run_example("maze.py", "--model", str(maze_model), "--level", "easy", "--seed", "3")
    assert out.returncode == 0, out.stderr
    assert "breadth-first search:" in out.stdout and "maze: " in out.stdout
    # The tiny model cannot solve mazes: the example must say so and guess nothing.
    assert "nothing is guessed" in out.stdout and "the network's route" not in out.stdout
    (tmp_path / "m.txt").write_text("S #\n  #\n  G\n")
    small = _run_example("maze.py", "--model", str(maze_model), "--file", str(tmp_path / "m.txt"))
    assert small.returncode == 0 and "maze (3x3):" in small.stdout
    bad = _run_example("maze.py", "--file", str(tmp_path / "missing.txt"))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    default = _run_example("maze.py")
    if "maze" not in shipped():
        assert default.returncode == 0 and "ships no maze model yet" in default.stdout
    else:  # the shipped model runs; the example itself asserts that a solved route is a shortest one
        assert default.returncode == 0, default.stderr
        assert "the network's route" in default.stdout  # the shipped model solves the example's maze
