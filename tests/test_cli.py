"""The ``trm`` command line, driven through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from trm_sdk.cli import main
from trm_sdk.tasks.sudoku import codec, generate, search

PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"


def _run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input)


def test_every_command_has_help() -> None:
    assert _run("-h").exit_code == 0
    for command in main.commands:
        result = _run(command, "--help")
        assert result.exit_code == 0, command
        assert main.commands[command].help, f"{command} has no help text"


def test_version() -> None:
    from trm_sdk import __version__

    assert __version__ in _run("--version").output


def test_info_lists_every_backend_with_a_reason() -> None:
    result = _run("info")
    assert result.exit_code == 0
    for name in ("cpu", "cuda", "tensorrt"):
        assert name in result.output
    assert "cpu       available" in result.output
    assert "unavailable:" in result.output


def test_info_reads_every_kind_of_evaluation_row(tiny_model_dir: Path, tmp_path: Path) -> None:
    # A --no-every-step evaluation with views (the maze model's) records no all-steps figure.
    import shutil

    from trm_sdk import manifest

    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    rows = {
        "views": {"exact_halting": 0.793, "views": 8, "exact_by_views": {"1": 0.328, "8": 0.793}},
        "plain": {"exact_halting": 0.5, "exact_all_steps": 0.25, "ms_per_puzzle_halting": 1234.5},
    }
    manifest.update(model, {"evaluation": {"sets": rows}})
    result = _run("info", "--model", str(model))
    assert result.exit_code == 0, result.output
    assert "views: 79.3% exact with 8 views (32.8% with 1)" in result.output
    assert "plain: 50.0% exact with halting, 25.0% with all steps, 1,234 ms each" in result.output
    threshold = manifest.load_manifest(model).halting["threshold"]
    assert f"stops when sigmoid(q_halt) > {threshold}, within 4 steps; one view" in result.output


def test_info_says_how_long_a_model_trained_and_where_its_curve_is(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import shutil

    from trm_sdk import manifest, training_log

    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    manifest.update(model, {"training": {"step": 1234, "elapsed_s": 600.0, "init_from": {"cpu_minutes": 20}}})
    (model / training_log.TRAINING_LOG_NAME).unlink(missing_ok=True)
    alone = _run("info", "--model", str(model)).output.split(str(model))[-1]  # this model's lines
    assert "trained 1,234 steps, 30 minutes" in alone and "learning curve" not in alone
    training_log.write(model, {"learning_curve": [{"step": 1}, {"step": 2}]})
    logged = _run("info", "--model", str(model)).output.split(str(model))[-1]
    assert "learning curve: 2 evaluations in training_log.json" in logged
    (model / training_log.TRAINING_LOG_NAME).write_text("[1, 2]")
    broken = _run("info", "--model", str(model))
    assert broken.exit_code == 2 and "training_log.json" in broken.output and "Traceback" not in broken.output


def test_info_says_how_each_model_stops(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    from trm_sdk import manifest

    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    manifest.update(model, {"halting": {"threshold": 1.0, "stop_on_verified": True, "max_steps": 12}})
    manifest.update(model, {"inference": {"views": 64}})
    result = _run("info", "--model", str(model))
    assert result.exit_code == 0, result.output
    assert "stops at its first verified answer, within 12 steps; up to 64 views" in result.output
    manifest.update(model, {"halting": {"threshold": 0.9}})
    both = _run("info", "--model", str(model)).output
    assert "stops when sigmoid(q_halt) > 0.9 or at its first verified answer, within 12 steps" in both


def test_solve_string_json(tiny_model_dir: Path) -> None:
    result = _run("solve", PUZZLE, "--model", str(tiny_model_dir), "--json", "--max-steps", "2")
    row = json.loads(result.stdout.strip().splitlines()[0])
    # The answer as text, then Solution.to_dict(): every field the repr shows, JSON-ready.
    shown = {"grid", "solved", "steps", "confidence", "backend", "task", "method", "path", "status"}
    assert set(row) == {"solution", *shown, "search_nodes", "views"}
    assert row["backend"] == "cpu" and row["steps"] == 2 and len(row["solution"]) == 81
    assert "".join(str(d) for line in row["grid"] for d in line) == row["solution"]
    assert (row["task"], row["path"], row["search_nodes"]) == ("sudoku", None, None)
    assert row["views"] == 1  # the tiny model's manifest records no views: a single pass
    many = _run("solve", PUZZLE, "--model", str(tiny_model_dir), "--json", "--max-steps", "1", "--views", "4")
    assert 1 <= json.loads(many.stdout.strip().splitlines()[0])["views"] <= 4
    # Exit status 1 when an answer fails verification (the tiny model's answers do).
    assert result.exit_code == (0 if row["solved"] else 1)


def test_solve_file_and_stdin(tiny_model_dir: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    lines = [codec.to_string(generate.make_puzzle(rng, blanks=30)[0]) for _ in range(3)]
    path = tmp_path / "p.txt"
    path.write_text("\n".join(lines) + "\n")
    from_file = _run("solve", str(path), "--model", str(tiny_model_dir), "--json", "--max-steps", "1")
    assert len(from_file.stdout.strip().splitlines()) == 3
    grid = "\n".join(PUZZLE[i : i + 9] for i in range(0, 81, 9))
    from_stdin = _run("solve", "-", "--model", str(tiny_model_dir), "--json", "--max-steps", "1", input=grid)
    assert len(from_stdin.stdout.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "args,message",
    [
        (("solve", "12345"), "81"),
        (("solve", "missing.txt"), "no such puzzle file"),
        (("solve", PUZZLE, "--backend", "tensorrt"), "backend 'tensorrt' is unavailable"),
        (("solve", PUZZLE, "--model", "/nonexistent"), "no manifest.json"),
    ],
)
def test_errors_are_messages_not_tracebacks(
    tiny_model_dir: Path, args: tuple[str, ...], message: str
) -> None:
    model = () if "--model" in args else ("--model", str(tiny_model_dir))
    result = _run(*args, *model)
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_eval_measures_and_records(tiny_model_dir: Path, tmp_path: Path) -> None:
    import shutil

    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    rng = np.random.default_rng(2)
    rows = [generate.make_puzzle(rng, blanks=20) for _ in range(4)]
    data = tmp_path / "set.csv"
    data.write_text(
        "puzzle,solution\n" + "".join(f"{codec.to_string(p)},{codec.to_string(s)}\n" for p, s in rows)
    )
    result = _run("eval", str(data), "--model", str(model), "--max-steps", "2", "--json", "--write-manifest")
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    row = scores[f"{tmp_path.name}/set"]
    assert row["puzzles"] == 4
    assert 0.0 <= row["exact_halting"] <= 1.0 and 0.0 <= row["exact_all_steps"] <= 1.0
    recorded = json.loads((model / "manifest.json").read_text())["evaluation"]
    assert recorded["sets"][f"{tmp_path.name}/set"] == row
    assert recorded["command"].startswith("trm ")
    # The manifest edit must not break the checksums the runtime verifies.
    from trm_sdk import Solver

    Solver("sudoku", backend="cpu", model=model).solve(PUZZLE)


def test_generate_writes_unique_puzzles_reproducibly(tmp_path: Path) -> None:
    from trm_sdk.tasks.sudoku import datasets, search

    out = tmp_path / "g.csv"
    assert _run("generate", "--blanks", "25", "--count", "3", "--seed", "4", "--out", str(out)).exit_code == 0
    data = datasets.load(out)
    assert len(data.puzzles) == 3 and ((data.puzzles == 0).sum(axis=(1, 2)) == 25).all()
    assert all(search.count_solutions(p) == 1 for p in data.puzzles)
    assert codec.are_solutions(data.solutions, data.puzzles).all()
    again = _run("generate", "--blanks", "25", "--count", "3", "--seed", "4")
    assert again.stdout == out.read_text()
    assert _run("generate", "--count", "1").exit_code != 0  # neither --level nor --blanks


HARD = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
HARD_SOLUTION = "417369825632158947958724316825437169791586432346912758289643571573291684164875293"


def test_solve_with_search_fallback_rating_and_hint(tiny_model_dir: Path) -> None:
    model = ["--model", str(tiny_model_dir)]
    exact = _run("solve", HARD, *model, "--fallback", "search", "--rate", "--json")
    assert exact.exit_code == 0, exact.output
    row = json.loads(exact.stdout)
    assert row["solution"] == HARD_SOLUTION and row["solved"] and row["status"] == "solved"
    assert row["method"] in ("trm", "trm+search") and row["rating"]["level"] in (
        "easy",
        "medium",
        "hard",
        "extreme",
    )
    text = _run("solve", HARD, *model, "--fallback", "search", "--rate")
    assert "difficulty " in text.stdout
    hint = _run("solve", HARD, *model, "--fallback", "search", "--hint", "--json")
    h = json.loads(hint.stdout)
    assert h["verified"] and h["digit"] == int(HARD_SOLUTION[9 * h["row"] + h["col"]])
    assert "hint: row" in _run("solve", HARD, *model, "--hint").stdout
    both = _run("solve", HARD, *model, "--hint", "--rate")
    assert both.exit_code == 2 and "cannot be combined" in both.output
    bad = _run("solve", HARD, *model, "--fallback", "maybe")
    assert bad.exit_code == 2 and "maybe" in bad.output


def test_eval_with_fallback_reports_search_and_rating(tiny_model_dir: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    rows = [generate.make_puzzle(rng, blanks=50) for _ in range(3)]
    data = tmp_path / "s.csv"
    data.write_text(
        "puzzle,solution\n" + "".join(f"{codec.to_string(p)},{codec.to_string(s)}\n" for p, s in rows)
    )
    args = ["eval", str(data), "--model", str(tiny_model_dir), "--max-steps", "2", "-q"]
    result = _run(*args, "--fallback", "search", "--json")
    assert result.exit_code == 0, result.output
    row = json.loads(result.stdout)[f"{tmp_path.name}/s"]
    assert row["exact_with_search"] == 1.0  # the search behind the network never misses
    assert 0.0 <= row["mean_rating"] <= 1.0
    gain = row["search_gain"]["all"]
    unguided = [search.solve(p, limit=1).nodes for p, _ in rows]  # the same search, digits in order
    assert gain["puzzles"] == 3 and gain["mean_nodes_unguided"] == round(float(np.mean(unguided)), 2)
    table = _run(*args, "--fallback", "search")
    assert "+search" in table.stdout and "100.0%" in table.stdout


def test_bench_table_and_json(tiny_model_dir: Path) -> None:
    args = ["bench", "--model", str(tiny_model_dir), "--count", "4", "--latency-runs", "2"]
    args += ["--batch-sizes", "2,3", "--backend", "all", "-q", "--views-table", "4", "--views-puzzles", "2"]
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    by_name = {b["backend"]: b for b in report["backends"]}
    assert by_name["cpu"]["available"] and set(by_name["cpu"]["throughput"]) == {"2", "3"}
    assert set(by_name["cpu"]["views_table"]["hard"]) == {"1", "4"}
    assert all(b["available"] or b["reason"] for b in report["backends"])
    table = _run(*args).stdout
    assert "batch-1 latency easy mean/p95 ms" in table and "batch-3 hard ms/puzzle mean/p95" in table
    assert "views -> solved, ms/puzzle (hard) 1:" in table
    assert _run("bench", "--batch-sizes", "x").exit_code == 2
    assert _run("bench", "--easy", "no-such-level-or-file").exit_code == 2
