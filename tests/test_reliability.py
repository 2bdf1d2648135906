"""Hostile input, one test per defect of issue 16: every odd argument gets a typed error, bounds are named,
the runtime never unpickles, and a hint is verified only where the puzzle has one solution.

The model-folder matrix, the CLI's exit codes, memory and threads are in test_reliability_model.py,
test_reliability_cli.py and test_reliability_runtime.py.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from trm_sdk import InvalidPuzzleError, Solver
from trm_sdk.limits import MAX_STEPS, MAX_THREADS
from trm_sdk.tasks.maze import codec as maze_codec
from trm_sdk.tasks.sudoku import codec as sudoku_codec
from trm_sdk.tasks.sudoku import search

SOLVED = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"


@pytest.fixture(scope="module")
def solver() -> Solver:
    return Solver("sudoku", backend="cpu", threads=1, views=1)


# 2. lone surrogates ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["\ud800" * 81, "1" * 80 + "\udfff", "\ud83d" + "." * 80])
def test_sudoku_surrogates_are_bad_characters(text: str) -> None:
    with pytest.raises(InvalidPuzzleError, match="bad character"):
        sudoku_codec.parse(text)


def test_maze_surrogates_are_bad_characters() -> None:
    with pytest.raises(InvalidPuzzleError, match="unknown character"):
        maze_codec.parse("\ud800" * 900)
    with pytest.raises(InvalidPuzzleError, match="unknown character"):
        maze_codec.parse(["#S\ud800", "# G"])


# 3. bounded arguments -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [10**6, 10**18, MAX_STEPS + 1, 0, -1, True, 2.0, "4"])
def test_max_steps_is_bounded(solver: Solver, value: object) -> None:
    with pytest.raises(ValueError, match=f"max_steps must be an integer from 1 to {MAX_STEPS}"):
        solver.solve(SOLVED, max_steps=value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_steps"):
        Solver("sudoku", backend="cpu", max_steps=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [1000, MAX_THREADS + 1, 0, True, False, 1.5])
def test_threads_are_bounded_and_bools_refused(value: object) -> None:
    with pytest.raises(ValueError, match=f"threads must be .*from 1 to {MAX_THREADS}"):
        Solver("sudoku", backend="cpu", threads=value)  # type: ignore[arg-type]


def test_numpy_integers_are_accepted_everywhere(solver: Solver) -> None:
    s = Solver("sudoku", backend="cpu", threads=np.int64(2), max_steps=np.int32(3), batch_size=np.uint8(4))
    assert s.max_steps == 3 and s.batch_size == 4
    assert s.solve(SOLVED, max_steps=np.int64(1)).solved


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 10.0**9, 0, -1, True])
def test_search_time_limit_is_bounded(solver: Solver, value: float) -> None:
    with pytest.raises(ValueError, match="search_time_limit must be a number of seconds above 0 and at most"):
        solver.solve(SOLVED, search_time_limit=value)


def test_batch_size_is_bounded(solver: Solver) -> None:
    with pytest.raises(ValueError, match="batch_size must be an integer from 1 to"):
        solver.solve_batch([SOLVED], batch_size=10**9)


# 9. a maze given as a list of character lists -------------------------------------------------------------

MAZE = ["#S #", "#  #", "# G#"]


@pytest.mark.parametrize(
    "form",
    [
        [list(row) for row in MAZE],
        tuple(tuple(row) for row in MAZE),
        np.array([list(row) for row in MAZE]),
        np.array(MAZE),
        MAZE,
    ],
)
def test_maze_forms_keep_their_shape(form: object) -> None:
    cells = maze_codec.parse(form)
    assert maze_codec.maze_size(cells) == (3, 4)
    np.testing.assert_array_equal(cells, maze_codec.parse("\n".join(MAZE)))


def test_maze_grid_of_strings_needs_one_character_per_cell() -> None:
    with pytest.raises(InvalidPuzzleError, match="one character per cell"):
        maze_codec.parse(np.array([["#S", "#"], ["G", " "]]))


# 12. odd containers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("puzzles", [None, 5, 3.5, np.array(5), object()])
def test_odd_containers_are_invalid_puzzle_errors(solver: Solver, puzzles: object) -> None:
    with pytest.raises(InvalidPuzzleError, match=r"list .*of puzzles"):
        solver.solve_batch(puzzles)  # type: ignore[arg-type]
    with pytest.raises(InvalidPuzzleError, match=r"list .*of puzzles"):
        solver.predict(puzzles)  # type: ignore[arg-type]


def test_matrix_and_2d_arrays_are_rows_of_puzzles(solver: Solver) -> None:
    grid = np.array([int(c) for c in SOLVED])
    pair = np.stack([grid, grid])
    for batch in (np.asmatrix(pair), pair, pair.reshape(2, 9, 9)):
        results = solver.solve_batch(batch, max_steps=1)
        assert len(results) == 2 and all(r.solved for r in results)
    assert solver.solve_batch(np.empty((0, 81), np.int64)) == []


# 13. a hint on a puzzle with several solutions ------------------------------------------------------------


def _deadly_pattern() -> str:
    """SOLVED with four cells blanked that form a swappable rectangle: the puzzle has two solutions."""
    g = np.array([int(c) for c in SOLVED]).reshape(9, 9)
    for r1 in range(9):
        for r2 in range(r1 + 1, 9):
            if r1 // 3 != r2 // 3:
                continue
            for c1 in range(9):
                for c2 in range(c1 + 1, 9):
                    if c1 // 3 == c2 // 3 or g[r1, c1] != g[r2, c2] or g[r1, c2] != g[r2, c1]:
                        continue
                    p = g.copy()
                    p[[r1, r1, r2, r2], [c1, c2, c1, c2]] = 0
                    return "".join(map(str, p.reshape(81)))
    raise AssertionError("no rectangle in SOLVED")


def test_hint_on_a_puzzle_with_several_solutions_is_not_verified(solver: Solver) -> None:
    puzzle = _deadly_pattern()
    found = search.solve(puzzle, limit=2).solutions
    assert len(found) == 2
    # With the search behind it, the answer verifies but is only one of the two: no verified hint.
    hint = solver.hint(puzzle, fallback="search")
    assert hint.verified is False
    # The task's rule alone, given a verified full answer, as when the network's answer verifies.
    task, parsed = solver.task, solver.task.parse(puzzle)
    logits = solver.predict([puzzle]).logits[0]
    for answer in found:
        h = task.hint(parsed, logits, answer)
        assert h.verified is False and answer[h.row, h.col] == h.digit


def test_hint_on_a_unique_puzzle_stays_verified(solver: Solver) -> None:
    puzzle = "." + SOLVED[1:40] + "." + SOLVED[41:]
    hint = solver.hint(puzzle)
    assert hint.verified and (hint.row, hint.col) in ((0, 0), (4, 4))
    assert hint.digit == int(SOLVED[hint.row * 9 + hint.col])


# 7. checkpoints are loaded without unpickling code --------------------------------------------------------


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (print, ("pwned: a checkpoint ran code",))


def test_hostile_checkpoint_is_refused_not_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch = pytest.importorskip("torch")
    from trm_sdk.train import checkpoint

    path = tmp_path / "evil.pt"
    torch.save({"format": 1, "payload": _Boom()}, path)
    with pytest.raises(ValueError, match="safe load refuses"):
        checkpoint.load(path)
    assert "pwned" not in capsys.readouterr().out
    plain = tmp_path / "evil.pkl"
    plain.write_bytes(pickle.dumps({"format": 1, "payload": _Boom()}))
    with pytest.raises((ValueError, RuntimeError)):
        checkpoint.load(plain)
    assert "pwned" not in capsys.readouterr().out


def test_checkpoint_data_state_round_trips_numpy(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from trm_sdk.network import TRM, TRMConfig
    from trm_sdk.train import checkpoint

    model = TRM(TRMConfig(hidden=16, n_prefix=2, T=1, n=1, N_sup=2, multiple_of=16))
    pools = {"gen:easy": (np.arange(6, dtype=np.int8).reshape(2, 3), np.ones((2, 3), np.int8))}
    state = {"rng": {"state": {"state": 2**100, "inc": 3}}, "stage": np.int64(2), "pools": pools}
    path = checkpoint.save(
        tmp_path / "c.pt",
        task="sudoku",
        model=model,
        ema=model.state_dict(),
        optimizer=None,
        step=1,
        train_config={},
        data_state=state,
        info={"loss": np.float32(0.5)},
    )
    body = checkpoint.load(path)
    puzzles, _ = body["data_state"]["pools"]["gen:easy"]
    assert isinstance(puzzles, np.ndarray) and puzzles.dtype == np.int8
    np.testing.assert_array_equal(puzzles, pools["gen:easy"][0])
    assert body["data_state"]["rng"]["state"]["state"] == 2**100 and body["data_state"]["stage"] == 2


def test_checkpoints_use_weights_only_loads() -> None:
    source = (Path(__file__).parents[1] / "train" / "checkpoint.py").read_text()
    assert "weights_only=False" not in source and "weights_only=True" in source
