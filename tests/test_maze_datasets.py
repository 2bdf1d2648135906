"""Maze-Hard loader: the real files' counts and checks, eval-only marking, and bad rows named by line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks.maze import codec, datasets, generate


@pytest.fixture
def maze_hard(shared_data: Callable[[str], Path]) -> Callable[[str], Path]:
    return lambda split: shared_data(f"{datasets.MAZE_HARD}/{split}.csv")


def test_maze_hard_train_and_test_load_and_verify(maze_hard: Callable[[str], Path]) -> None:
    train = datasets.load(maze_hard("train"))
    test = datasets.load(maze_hard("test"), limit=50)
    assert len(train) == 1000 and len(test) == 50
    assert train.solutions is not None and train.path_lengths is not None
    assert 109 <= train.path_lengths.min() and train.path_lengths.max() <= 153
    assert codec.are_solutions(train.solutions[:20], train.puzzles[:20]).all()
    assert not datasets.is_eval_only(maze_hard("train")) and datasets.is_eval_only(maze_hard("test"))


def test_the_training_stream_refuses_the_test_split(maze_hard: Callable[[str], Path]) -> None:
    from trm_sdk.tasks import get_task
    from trm_sdk.train.data import CurriculumStream, StreamConfig

    with pytest.raises(ValueError, match="evaluation-only"):
        CurriculumStream(get_task("maze"), StreamConfig(files=(str(maze_hard("test")),)))


def test_generated_csv_round_trips_and_bad_rows_are_named(tmp_path: Path) -> None:
    p, a = generate.make_batch(np.random.default_rng(1), 3, "easy")
    good = tmp_path / "mazes.csv"
    good.write_text(datasets.to_csv(p, a))
    loaded = datasets.load(good)
    assert np.array_equal(loaded.puzzles, np.where(p == 0, codec.WALL, p))
    assert loaded.solutions is not None and codec.are_solutions(loaded.solutions, loaded.puzzles).all()

    lines = good.read_text().splitlines()
    q, ans, n = lines[2].split(",")
    cases = {
        "x in maze": (f"{q[:5]}x{q[6:]},{ans},{n}", "line 3: the maze: unknown character 'x'"),
        "short row": (f"{q[:-1]},{ans},{n}", "line 3: the maze: a one-line maze needs 900"),
        "wrong length": (f"{q},{ans},{int(n) + 1}", "line 3: path_length says"),
        "not shortest": (f"{q},{q},{n}", "line 3: the answer does not mark a shortest path"),
        "two goals": (f"{q.replace(' ', 'G', 1)},{ans},{n}", "line 3: the maze has 2 of goal"),
    }
    for name, (row, message) in cases.items():
        bad = tmp_path / f"{name}.csv"
        bad.write_text("\n".join([lines[0], lines[1], row]) + "\n")
        with pytest.raises(InvalidPuzzleError) as info:
            datasets.load(bad)
        assert message in str(info.value) and str(bad) in str(info.value), name
