"""Loaders: each file format, every malformed-row message, the shared data's counts, eval-only rules."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks.sudoku import codec, datasets

P1 = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
S1 = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
P2 = "4.....8.5.3..........7......2.....6.....8.4......1.......6.3.7.5..2.....1.4......"
S2 = "417369825632158947958724316825437169791586432346912758289643571573291684164875293"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, newline="")
    return path


def refused(path: Path) -> str:
    with pytest.raises(InvalidPuzzleError) as info:
        datasets.load(path)
    message = str(info.value)
    assert str(path) in message
    return message


# --------------------------------------------------------------------------------------------------
# formats


def test_sudoku_extreme_csv(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "extreme.csv",
        f"source,question,answer,rating\npuzzles0_kaggle,{P1},{S1},0\npuzzles4_hardest,{P2},{S2},57\n",
    )
    loaded = datasets.load(path)
    assert loaded.name == "extreme" and loaded.path == path and len(loaded) == 2
    assert loaded.puzzles.shape == (2, 9, 9) and loaded.puzzles.dtype == np.int8
    assert loaded.solutions is not None and loaded.solutions.dtype == np.int8
    np.testing.assert_array_equal(loaded.puzzles[0], codec.parse(P1))
    np.testing.assert_array_equal(loaded.solutions[1], codec.parse(S2))


def test_puzzle_solution_csv_with_zero_blanks_and_crlf(tmp_path: Path) -> None:
    text = f"puzzle,solution\r\n{P1.replace('.', '0')},{S1}\r\n\r\n{P2},{S2}\r\n"
    loaded = datasets.load(write(tmp_path, "pairs.csv", text))
    assert len(loaded) == 2
    np.testing.assert_array_equal(loaded.puzzles[0], codec.parse(P1))
    assert codec.are_solutions(loaded.solutions, loaded.puzzles).all()


def test_headerless_and_quoted_csv(tmp_path: Path) -> None:
    bare = datasets.load(write(tmp_path, "bare.csv", f"{P1},{S1}\n{P2},{S2}\n"))
    assert len(bare) == 2 and bare.solutions is not None
    quoted = datasets.load(write(tmp_path, "quoted.csv", f'"quizzes","solutions"\n"{P1}","{S1}"\n'))
    np.testing.assert_array_equal(quoted.solutions[0], codec.parse(S1))
    only = datasets.load(write(tmp_path, "only.csv", f"puzzle\n{P1}\n{P2}\n"))
    assert len(only) == 2 and only.solutions is None


def test_text_file(tmp_path: Path) -> None:
    text = f"# a comment\n\n{P1}\n   \n{P2.replace('.', '0')}  \r\n# trailing\n"
    loaded = datasets.load(write(tmp_path, "set.txt", text))
    assert loaded.name == "set" and loaded.solutions is None
    np.testing.assert_array_equal(loaded.puzzles, np.stack([codec.parse(P1), codec.parse(P2)]))
    no_suffix = datasets.load(write(tmp_path, "original_copy", text))
    assert len(no_suffix) == 2


def test_limit_and_empty_files(tmp_path: Path) -> None:
    txt = write(tmp_path, "three.txt", f"{P1}\n{P2}\n{P1}\n")
    assert len(datasets.load(txt, limit=2)) == 2
    assert len(datasets.load(txt, limit=0)) == 0
    csv = write(tmp_path, "three.csv", f"puzzle,solution\n{P1},{S1}\n{P2},{S2}\n{P1},{S1}\n")
    limited = datasets.load(csv, limit=1)
    assert len(limited) == 1 and limited.solutions.shape == (1, 9, 9)
    empty = datasets.load(write(tmp_path, "empty.txt", "# nothing\n"))
    assert empty.puzzles.shape == (0, 9, 9)
    assert len(datasets.load(write(tmp_path, "header.csv", "puzzle,solution\n"))) == 0
    with pytest.raises(ValueError):
        datasets.load(txt, limit=-1)


def test_load_many_and_without(tmp_path: Path) -> None:
    a = write(tmp_path, "a.txt", f"{P1}\n{P2}\n")
    b = write(tmp_path, "b.csv", f"puzzle,solution\n{P2},{S2}\n")
    sets = datasets.load_many([a, b])
    assert [s.name for s in sets] == ["a", "b"] and [len(s) for s in sets] == [2, 1]
    rest = datasets.without(sets[0], sets[1])
    assert len(rest) == 1
    np.testing.assert_array_equal(rest.puzzles[0], codec.parse(P1))
    assert datasets.without(sets[0]) is sets[0]


# --------------------------------------------------------------------------------------------------
# malformed rows


def test_short_row_names_line(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "short.txt", f"# header\n{P1}\n{P2[:-1]}\n"))
    assert "line 3" in message and "80 characters" in message and "81" in message


def test_bad_character_names_line_position_and_cell(tmp_path: Path) -> None:
    bad = P2[:22] + "x" + P2[23:]
    message = refused(write(tmp_path, "bad.txt", f"{P1}\n{bad}\n"))
    assert "line 2" in message and "'x'" in message and "position 23" in message and "r3c5" in message


def test_non_ascii_character(tmp_path: Path) -> None:
    bad = P1[:80] + "é"
    message = refused(write(tmp_path, "accent.txt", f"{bad}\n"))
    assert "line 1" in message and "'é'" in message and "r9c9" in message


def test_wrong_field_count(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "fields.csv", f"puzzle,solution\n{P1},{S1}\n{P2}\n"))
    assert "line 3" in message and "2" in message and "found 1" in message


def test_blank_in_solution(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "blank.csv", f"puzzle,solution\n{P1},{S1[:5]}.{S1[6:]}\n"))
    assert "line 2" in message and "solution" in message and "r1c6" in message


def test_solution_disagreeing_with_givens(tmp_path: Path) -> None:
    wrong = S2  # a valid grid, but not this puzzle's
    message = refused(write(tmp_path, "wrong.csv", f"puzzle,solution\n{P2},{S2}\n{P1},{wrong}\n"))
    assert "line 3" in message and "r1c1" in message and "does not solve" in message


def test_invalid_solution_grid(tmp_path: Path) -> None:
    broken = "".join(sorted(S1))  # right digits, wrong places; puzzle left blank to isolate that
    message = refused(write(tmp_path, "broken.csv", f"puzzle,solution\n{'.' * 81},{broken}\n"))
    assert "line 2" in message and "not a valid Sudoku grid" in message


def test_clashing_givens_in_text_file(tmp_path: Path) -> None:
    clash = "5" + P1[1:6] + "5" + P1[7:]  # a second 5 in row 1 at r1c7
    message = refused(write(tmp_path, "clash.txt", f"{P2}\n{clash}\n"))
    assert "line 2" in message and "digit 5 appears twice in row 1: r1c1 and r1c7" in message


def test_unknown_header(tmp_path: Path) -> None:
    message = refused(write(tmp_path, "odd.csv", "a,b\n1,2\n"))
    assert "line 1" in message and "header" in message and "puzzle" in message


# --------------------------------------------------------------------------------------------------
# shared data


@pytest.mark.parametrize(
    ("relative", "count", "solved"),
    [
        ("sudoku/tdoku/puzzles3_magictour_top1465.csv", 1465, True),
        ("sudoku/tdoku/puzzles3_magictour_top1465.txt", 1465, False),
        ("sudoku/tdoku/original/puzzles3_magictour_top1465", 1465, False),
        ("sudoku/tdoku/puzzles6_forum_hardest_1106.csv", 375, True),
        ("sudoku/tdoku/puzzles7_serg_benchmark.txt", 10_000, False),
        ("sudoku/norvig/easy50.csv", 50, True),
        ("sudoku/norvig/top95.csv", 95, True),
        ("sudoku/norvig/hardest.txt", 11, False),
        ("sudoku/kaggle_bryanpark/kaggle_1m_first1000.csv", 1000, True),
        ("sudoku/sudoku_extreme/train_subsample1000.csv", 1000, True),
    ],
)
def test_shared_files(relative: str, count: int, solved: bool, shared_data: Callable[[str], Path]) -> None:
    loaded = datasets.load(shared_data(relative))
    assert len(loaded) == count
    assert (loaded.solutions is not None) == solved
    if solved:
        assert codec.are_solutions(loaded.solutions, loaded.puzzles).all()


def test_big_file_loads_fast_and_right(shared_data: Callable[[str], Path]) -> None:
    path = shared_data("sudoku/tdoku/puzzles2_17_clue.csv")
    start = time.perf_counter()
    loaded = datasets.load(path)
    elapsed = time.perf_counter() - start
    assert len(loaded) == 49_158
    assert ((loaded.puzzles > 0).sum(axis=(1, 2)) == 17).all()
    assert codec.are_solutions(loaded.solutions, loaded.puzzles).all()
    assert elapsed < 3.0, f"loading took {elapsed:.2f} s"  # ~0.25 s here; generous for slow CI


@pytest.mark.slow
def test_puzzles5_minus_puzzles6(shared_data: Callable[[str], Path]) -> None:
    p5 = datasets.load(shared_data("sudoku/tdoku/puzzles5_forum_hardest_1905_11+.csv"))
    p6 = datasets.load(shared_data("sudoku/tdoku/puzzles6_forum_hardest_1106.csv"))
    assert len(p5) == 48_766
    assert len(datasets.without(p5, p6)) == 48_766 - 131 - 78  # exact copies, then likely relabelled ones


# --------------------------------------------------------------------------------------------------
# which files may be trained on, and where they are


def test_eval_only_paths() -> None:
    root = Path("/anywhere/shared/data")
    for entry in datasets.EVAL_ONLY:
        assert datasets.is_eval_only(root / entry), entry
    assert datasets.is_eval_only(root / "sudoku/norvig/original/top95.txt")
    assert datasets.is_eval_only("sudoku/tdoku/puzzles6_forum_hardest_1106.csv")
    for trainable in (
        "sudoku/tdoku/puzzles2_17_clue.csv",
        "sudoku/tdoku/puzzles5_forum_hardest_1905_11+.txt",
        "maze/maze_30x30_hard_1k/train.csv",
    ):
        assert not datasets.is_eval_only(root / trainable), trainable
    assert not datasets.is_eval_only("/tmp/norvig_like.txt")


def test_eval_only_entries_exist_in_shared_data(shared_data: Callable[[str], Path]) -> None:
    root = shared_data("")
    for entry in datasets.EVAL_ONLY + datasets.MULTI_SOLUTION:
        assert (root / entry).exists(), entry
    assert not any(datasets.is_eval_only(p) for p in (root / "sudoku/tdoku").glob("puzzles[25]_*"))


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRM_DATA_DIR", str(tmp_path))
    assert datasets.default_data_dir() == tmp_path
    monkeypatch.setenv("TRM_DATA_DIR", str(tmp_path / "missing"))
    assert datasets.default_data_dir() is None
    monkeypatch.delenv("TRM_DATA_DIR")
    work = tmp_path / "checkout"
    (tmp_path / "shared" / "data").mkdir(parents=True)
    work.mkdir()
    monkeypatch.chdir(work)
    assert datasets.default_data_dir() == tmp_path / "shared" / "data"
