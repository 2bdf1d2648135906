"""The task registry (trm_sdk.tasks.registry) and the checks a task passes on load (trm_sdk.tasks.checks).

Plugins here are real: a module written to a temporary folder on ``sys.path``, named as ``module:Class``
or registered through a ``*.dist-info/entry_points.txt`` beside it, which is what ``pip install`` leaves.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from trm_sdk import Solver
from trm_sdk.cli import main as trm
from trm_sdk.errors import ModelError, TRMError
from trm_sdk.shipped import model_dir
from trm_sdk.tasks import GROUP, get_task, installed, task_names
from trm_sdk.views import ViewStream

# A small task that obeys the contract: a row of four cells to fill with 1..4, each once. Its puzzles are
# not unique, which the checks do not ask; the variants below break it one way each.
GOOD = """
import numpy as np
from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks import Task
from trm_sdk.views import Views

class RowTask(Task):
    name = "row"
    seq_len = 4
    vocab_size = 6  # pad, blank, digits 1..4 as tokens 2..5
    levels = ("easy", "hard")

    def parse(self, puzzle):
        text = puzzle if isinstance(puzzle, str) else "".join(".1234"[int(v) - 1] for v in puzzle)
        if len(text) != 4 or any(c not in ".1234" for c in text):
            raise InvalidPuzzleError(f"a row is 4 characters of . and 1-4, got {text!r}")
        return np.array([".1234".index(c) + 1 for c in text], np.int8)

    def encode(self, parsed):
        return np.asarray(parsed, np.int64).reshape(len(parsed), 4)

    def decode(self, logits):
        return (2 + np.argmax(logits[..., 2:], axis=-1)).astype(np.int8)

    def verify(self, answers, parsed):
        answers, parsed = np.asarray(answers), np.asarray(parsed)
        kept = ((parsed == 1) | (answers == parsed)).all(axis=1)
        return kept & (np.sort(answers, axis=1) == np.arange(2, 6)).all(axis=1)

    def format(self, grid):
        return self.to_string(grid)

    def split_text(self, text):
        return [line.strip() for line in text.splitlines() if line.strip()]

    def to_string(self, grid):
        return "".join(".1234"[int(v) - 1] for v in grid)

    def generate(self, rng, level=None, **options):
        answer = (2 + rng.permutation(4)).astype(np.int8)
        puzzle = answer.copy()
        puzzle[rng.choice(4, 2 if level == "easy" else 3, replace=False)] = 1
        return puzzle, answer

    def symmetries(self):
        cells = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])  # the row as given, and mirrored
        return Views(cells, np.tile(np.arange(6), (2, 1)))
"""

BROKEN = {
    "lacks_members": (
        "class Bare(Task):\n    name = 'bare'\n    def parse(self, puzzle):\n        return puzzle\n"
        "RowTask = Bare",
        "lacks the required member(s) decode, encode, format, generate, split_text, to_string, verify",
    ),
    "wrong_shape": (
        "RowTask.encode = lambda self, p: np.zeros((len(p), 3), np.int64)",
        "encode(puzzles) must be integer tokens of shape (3, 4)",
    ),
    "too_many_tokens": ("RowTask.vocab_size = 5", "holds tokens outside 0..4"),
    "accepts_anything": (
        "RowTask.verify = lambda self, a, p: np.ones(len(a), bool)",
        "verify() accepts a wrong answer",
    ),
    "rejects_its_own": (
        "RowTask.verify = lambda self, a, p: np.zeros(len(a), bool)",
        "verify() rejects the generator's own answers",
    ),
    "verify_not_bool": (
        "RowTask.verify = lambda self, a, p: np.ones(len(a))",
        "verify() must return one bool per puzzle",
    ),
    "generate_fails": (
        "def _gen(self, rng, level=None):\n    raise RuntimeError('no puzzles today')\n"
        "RowTask.generate = _gen",
        "generate() raised RuntimeError: no puzzles today",
    ),
    "bad_name": ('RowTask.name = "row task"', "name must be an identifier"),
    "bad_views": (
        "RowTask.symmetries = lambda self: Views(np.array([[0, 1, 2, 3], [0, 0, 1, 2]]), "
        "np.tile(np.arange(6), (2, 1)))",
        "every view's cells must be a permutation",
    ),
    "no_levels": ("RowTask.levels = ()", "levels must be a non-empty tuple"),
}


def _module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, extra: str = "") -> str:
    """A module ``name`` holding RowTask (changed by ``extra``) importable from ``tmp_path``."""
    (tmp_path / f"{name}.py").write_text(GOOD + "\n" + extra + "\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:RowTask"


def _register(tmp_path: Path, dist: str, entries: str) -> None:
    """What pip leaves for a package that registers tasks: a dist-info with its entry points."""
    info = tmp_path / f"{dist}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{GROUP}]\n{entries}\n", encoding="utf-8")


def test_the_built_in_tasks_come_through_the_entry_point_group() -> None:
    found = installed()
    assert found["sudoku"].target == "trm_sdk.tasks.sudoku.task:SudokuTask"
    assert found["maze"].target == "trm_sdk.tasks.maze.task:MazeTask"
    assert found["sudoku"].package == "trm-sdk"
    assert {"sudoku", "maze"} <= set(task_names())
    sudoku = get_task("sudoku")
    assert sudoku.source is not None and sudoku.source.package == "trm-sdk"
    assert get_task("sudoku") is sudoku  # built and checked once


def test_an_unknown_task_names_what_is_installed_and_how_to_add_one() -> None:
    with pytest.raises(TRMError) as info:
        get_task("chess")
    assert "unknown task 'chess'" in str(info.value)
    assert "sudoku" in str(info.value) and GROUP in str(info.value) and "module:Class" in str(info.value)
    with pytest.raises(TRMError, match="named by a string"):
        get_task(3)  # type: ignore[arg-type]


def test_a_task_named_by_module_and_class_works_with_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = get_task(_module(tmp_path, monkeypatch, "row_plugin_ok"))
    assert task.name == "row" and task.max_views == 2
    assert task.source is not None and task.source.package is None
    assert task.curricula["easy-to-hard"] == [{"gen:easy": 1.0}, {"gen:easy": 0.5, "gen:hard": 0.5}]
    assert task.without_files == "gen:hard" and task.bench_levels == ("easy", "hard")
    rng = np.random.default_rng(0)
    puzzles, answers = task.generate_pairs(rng, "gen:hard", 64)
    assert puzzles.shape == (64, 4) and task.verify(answers, puzzles).all()
    q, a = task.training_tokens(puzzles, answers, rng)
    mirrored = (q == task.encode(puzzles)[:, ::-1]).all(axis=1) & ~(q == task.encode(puzzles)).all(axis=1)
    assert 10 < mirrored.sum() < 54  # about half the pairs are shown mirrored, answers with them
    assert ((a == task.encode(answers)).all(1) | (a == task.encode(answers)[:, ::-1]).all(1)).all()
    views = task.draw_views(ViewStream(0, q[0]), 1)
    assert views.cells.tolist() == [[3, 2, 1, 0]]
    with pytest.raises(TRMError, match="1 views besides"):
        task.draw_views(ViewStream(0, q[0]), 2)
    questions, solved = task.eval_set(0, 10)
    assert questions.shape == solved.shape == (10, 4)


def test_the_default_files_are_puzzle_answer_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    task = get_task(_module(tmp_path, monkeypatch, "row_plugin_files"))
    puzzles, answers = task.generate_pairs(np.random.default_rng(1), "gen:easy", 5)
    path = tmp_path / "rows.csv"
    path.write_text(task.to_csv(puzzles, answers), encoding="utf-8")
    data = task.load(path)
    assert np.array_equal(data.puzzles, puzzles) and data.solutions is not None
    assert np.array_equal(data.solutions, answers) and len(data) == 5
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].split(",")[0] + "," + lines[3].split(",")[0].replace(".", "1")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(TRMError, match=r"rows.csv, line 4: the answer does not solve the puzzle"):
        task.load(path)
    path.write_text("grid\n1234\n", encoding="utf-8")
    with pytest.raises(TRMError, match="line 1: a header 'puzzle,answer'"):
        task.load(path)


@pytest.mark.parametrize("flaw", sorted(BROKEN))
def test_a_broken_plugin_is_refused_on_load_with_what_is_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flaw: str
) -> None:
    change, message = BROKEN[flaw]
    spec = _module(tmp_path, monkeypatch, f"row_plugin_{flaw}", change)
    with pytest.raises(TRMError) as info:
        get_task(spec)
    text = str(info.value)
    assert message in text, text
    assert text.startswith(f"task '{spec}' ({spec})") and "\n" not in text


def test_a_module_that_is_missing_or_names_no_task_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(TRMError, match="cannot be imported: No module named 'no_such_plugin'"):
        get_task("no_such_plugin:Task")
    spec = _module(tmp_path, monkeypatch, "row_plugin_names_a_function", "def make(): pass")
    with pytest.raises(TRMError, match=r"must name a subclass of trm_sdk\.tasks\.Task"):
        get_task(spec.replace("RowTask", "make"))
    spec = _module(tmp_path, monkeypatch, "row_plugin_fails_on_import", "raise KeyError('setting')")
    with pytest.raises(TRMError, match="fails on import: KeyError"):
        get_task(spec)


def test_a_registered_plugin_is_found_and_its_name_must_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _module(tmp_path, monkeypatch, "row_plugin_registered")
    _register(
        tmp_path, "row_plugins", "row = row_plugin_registered:RowTask\nrows = row_plugin_registered:RowTask"
    )
    assert "row" in task_names() and task_names().index("sudoku") < task_names().index("row")
    task = get_task("row")
    assert task.source is not None and (task.source.package, task.source.version) == ("row_plugins", "1.2.3")
    with pytest.raises(TRMError, match="is registered as 'rows' but its name is 'row'"):
        get_task("rows")
    result = CliRunner().invoke(trm, ["info"])
    assert result.exit_code == 0, result.output
    assert "row_plugins 1.2.3; levels easy, hard; 2 views; search no" in result.output
    assert "rows       cannot be loaded: task 'rows'" in result.output


def test_two_packages_claiming_one_name_is_an_error_naming_both(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    _register(tmp_path, "first_pkg", "twin = first_mod:Task")
    _register(tmp_path, "second_pkg", "twin = second_mod:Task")
    with pytest.raises(
        TRMError,
        match=r"two installed packages register the task 'twin'.*(first|second)_pkg.*(first|second)_pkg",
    ):
        installed()


def _model_of_missing_plugin(tmp_path: Path, source: object) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(model_dir("sudoku"), folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["task"] = "kakuro"
    manifest.pop("task_source", None)
    if source is not None:
        manifest["task_source"] = source
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_a_model_whose_plugin_is_missing_names_the_package_to_install(tmp_path: Path) -> None:
    folder = _model_of_missing_plugin(
        tmp_path, {"target": "trm_kakuro.task:KakuroTask", "package": "trm-kakuro", "version": "0.3.0"}
    )
    with pytest.raises(
        ModelError, match=r"task 'kakuro' of the package trm-kakuro, .*pip install trm-kakuro==0.3.0"
    ):
        Solver(model=folder)
    result = CliRunner().invoke(trm, ["solve", "--model", str(folder), "." * 81])
    assert result.exit_code == 2
    assert "pip install trm-kakuro==0.3.0" in result.output and "Traceback" not in result.output
    older = _model_of_missing_plugin(tmp_path / "older", None)
    with pytest.raises(ModelError, match="task 'kakuro', which is not installed"):
        Solver(model=older)


def test_the_model_names_its_task_so_solver_and_cli_need_no_task() -> None:
    solver = Solver(model=model_dir("maze"))
    assert solver.task.name == "maze"
    with pytest.raises(ModelError, match="is for task 'maze', not 'sudoku'"):
        Solver("sudoku", model=model_dir("maze"))
    result = CliRunner().invoke(trm, ["solve", "--task", "chess", "." * 81])
    assert result.exit_code == 2 and "unknown task 'chess'" in result.output


def test_check_task_reports_a_plugin_by_its_own_words() -> None:
    # the message a user sees names the registered task and its package before the problem
    from trm_sdk.tasks.checks import check_task

    with pytest.raises(TRMError, match=r"^plugin X: is registered as 'maze' but its name is 'sudoku'"):
        check_task(get_task("sudoku"), "plugin X", expected="maze")
