"""The CLI under hostile input (issue 16, defects 6, 8, 10, 11): exit status 0 all solved, 1 some unsolved,
2 bad usage or input, 130 on Ctrl-C after the finished results; errors name the file and line; never a
Python traceback for a user error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from trm_sdk.cli import main
from trm_sdk.solver import Solver
from trm_sdk.tasks import get_task

SOLVED = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
EASY = "." + SOLVED[1:20] + "." + SOLVED[21:]


def _run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def _no_traceback(result: Result) -> None:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_empty_csv_is_bad_input(tmp_path: Path) -> None:
    for name, text in (("empty.csv", ""), ("header_only.csv", "puzzle,solution\n"), ("blank.txt", "\n\n")):
        path = tmp_path / name
        path.write_text(text)
        for extra in ((), ("--json",)):
            result = _run("solve", "-q", *extra, str(path))
            assert result.exit_code == 2 and "no puzzles" in result.output, (name, extra, result.output)
            _no_traceback(result)


def test_eval_of_a_header_only_file_is_bad_input_not_nan(tmp_path: Path) -> None:
    path = tmp_path / "header_only.csv"
    path.write_text("puzzle,solution\n")
    result = _run("eval", "-q", "--json", str(path))
    assert result.exit_code == 2 and "no puzzles" in result.output and "NaN" not in result.output
    _no_traceback(result)


def test_bom_in_a_text_file(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + f"{EASY}\n{EASY}\n".encode())
    result = _run("solve", "-q", "--json", str(path))
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["solution"] for line in result.output.splitlines()] == [SOLVED, SOLVED]


def test_a_short_line_is_reported_by_its_line_not_glued_into_one_puzzle(tmp_path: Path) -> None:
    path = tmp_path / "short.txt"
    path.write_text(f"# three puzzles\n{EASY}\n{EASY[:80]}\n{EASY}\n")
    result = _run("solve", "-q", str(path))
    assert result.exit_code == 2 and f"{path}, line 3" in result.output and "80" in result.output
    _no_traceback(result)
    skipped = _run("solve", "-q", "--json", "--skip-bad", str(path))
    rows = [json.loads(line) for line in skipped.stdout.splitlines()]
    assert skipped.exit_code == 1 and len(rows) == 3 and "line 3" in rows[1]["error"]
    assert rows[0]["solved"] and rows[2]["solved"]


def test_a_bad_csv_row_is_named_by_line_and_skipped_on_request(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        f"puzzle,solution\n{EASY},{SOLVED}\n{'1' * 81},{SOLVED}\n{EASY[:70]},{SOLVED}\n{EASY},{SOLVED}\n"
    )
    result = _run("solve", "-q", str(path))
    assert result.exit_code == 2 and f"{path}, line 3" in result.output and "--skip-bad" in result.output
    skipped = _run("solve", "-q", "--skip-bad", str(path))
    assert skipped.exit_code == 1
    assert f"skipped {path}, line 3" in skipped.output and f"skipped {path}, line 4" in skipped.output
    assert "2/4 solved, 2 skipped" in skipped.output


def test_a_long_inline_argument_is_a_puzzle_not_a_file_name() -> None:
    for text in ("é" * 200, "x" * 900, "\ud800" * 81):
        assert get_task("sudoku").read_puzzles(text) == [(text, "")]
        result = _run("solve", "-q", text)
        assert result.exit_code == 2 and "File name too long" not in result.output
        _no_traceback(result)
    maze = "#" * 899 + "S"
    assert get_task("maze").read_puzzles(maze) == [(maze, "")]


def test_exit_statuses(tmp_path: Path) -> None:
    assert _run("solve", "-q", EASY).exit_code == 0
    assert _run("solve", "-q", "--max-steps", "1", "." * 81).exit_code == 1  # an empty grid: unsolved
    assert _run("solve", "-q", "12345").exit_code == 2  # bad input
    assert _run("solve", "-q", "no_such_file.txt").exit_code == 2
    missing = _run("solve", "-q", "--model", str(tmp_path / "nowhere"), EASY)
    assert missing.exit_code == 2 and "manifest.json" in missing.output
    _no_traceback(missing)
    assert _run("solve", "--max-steps", "0", EASY).exit_code == 2  # bad usage (click)


def test_ctrl_c_flushes_finished_results_and_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Solver.solve_batch
    calls = []

    def interrupted(self: Solver, puzzles: list[str], **kwargs: object) -> list[object]:
        calls.append(len(puzzles))
        if len(calls) > 1:
            raise KeyboardInterrupt
        return real(self, puzzles, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Solver, "solve_batch", interrupted)
    result = _run("solve", "-q", "--json", "--batch-size", "2", EASY, EASY, EASY, EASY)
    assert result.exit_code == 130
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 2 and all(r["solved"] for r in rows)
    assert "interrupted after 2 of 4" in result.stderr


def test_keyboard_interrupt_elsewhere_exits_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Solver, "__init__", boom)
    result = _run("solve", "-q", EASY)
    assert result.exit_code == 130 and "interrupted" in result.output
