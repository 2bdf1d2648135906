"""Verified views: symmetries that map back exactly, reproducible draws, waves that stop at a verified
view, and a single view that is exactly the single pass."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from trm_sdk import ModelError, Solver, recursion, views
from trm_sdk.limits import MAX_VIEWS
from trm_sdk.tasks import get_task

SUDOKU = get_task("sudoku")
MAZE = get_task("maze")
CLASSIC = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"


def _one_hot(tokens: np.ndarray, vocab: int) -> np.ndarray:
    return np.eye(vocab, dtype=np.float32)[tokens]


def _pairs(task, n: int, level: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    pairs = [task.generate(rng, level) for _ in range(n)]
    return np.stack([p for p, _ in pairs]), np.stack([a for _, a in pairs])


@pytest.mark.parametrize("task,level", [(SUDOKU, "minimal"), (MAZE, "medium")])
@pytest.mark.parametrize("seed", range(5))
def test_a_view_maps_back_exactly_and_keeps_solutions_valid(task, level: str, seed: int) -> None:
    puzzles, answers = _pairs(task, 3, level, seed)
    n = min(6, task.max_views - 1)
    drawn = task.draw_views(views.ViewStream(seed), n)
    for k in range(n):
        v = drawn[np.full(3, k)]
        seen_p = views.apply(task.encode(puzzles), v)
        seen_a = views.apply(task.encode(answers), v)
        # The viewed answer solves the viewed puzzle: a view keeps validity ...
        decoded_a = task.decode(_one_hot(seen_a, task.vocab_size))
        if task is SUDOKU:  # tokens: blank 1, digit d is d + 1
            viewed = np.where(seen_p == 1, 0, seen_p - 1).reshape(-1, 9, 9).astype(np.int8)
            assert (viewed != 0).sum() == (puzzles != 0).sum()
            assert task.verify(decoded_a, viewed).all()
        else:  # maze tokens are the cell codes (padding shows as wall)
            assert task.verify(decoded_a, seen_p.reshape(-1, 30, 30).astype(np.int8)).all()
        # ... and undoing it on the network's beliefs about the view gives back the original answer.
        back = views.undo_logits(_one_hot(seen_a, task.vocab_size), v)
        assert np.array_equal(back, _one_hot(task.encode(answers), task.vocab_size))
        assert task.verify(task.decode(back), puzzles).all()


def test_views_are_distinct_and_never_the_puzzle_as_given() -> None:
    drawn = SUDOKU.draw_views(views.ViewStream(0), 200)
    keys = {c.tobytes() + t.tobytes() for c, t in zip(drawn.cells, drawn.tokens, strict=True)}
    assert len(keys) == 200
    assert np.arange(81).tobytes() + np.arange(11).tobytes() not in keys  # the puzzle as given
    assert (drawn.tokens[:, :2] == [0, 1]).all()  # pad and blank stay what they are
    mazes = MAZE.draw_views(views.ViewStream(0), 7)
    assert len({c.tobytes() for c in mazes.cells}) == 7 and not (mazes.cells == np.arange(900)).all(1).any()
    with pytest.raises(ValueError):
        MAZE.draw_views(views.ViewStream(0), 8)


def test_the_same_seed_and_puzzle_give_the_same_views() -> None:
    tokens = SUDOKU.encode(SUDOKU.parse(CLASSIC)[None])[0]
    a = SUDOKU.draw_views(views.puzzle_rng(3, tokens), 10)
    b = SUDOKU.draw_views(views.puzzle_rng(3, tokens), 10)
    c = SUDOKU.draw_views(views.puzzle_rng(4, tokens), 10)
    assert np.array_equal(a.cells, b.cells) and np.array_equal(a.tokens, b.tokens)
    assert not np.array_equal(a.tokens, c.tokens)


def test_waves_grow_fourfold() -> None:
    assert views.waves(1) == [1]
    assert views.waves(64) == [1, 3, 12, 48]
    assert views.waves(20) == [1, 3, 12, 4]
    assert np.cumsum(views.waves(256)).tolist() == [1, 4, 16, 64, 256]


class _Scripted:
    """A network that 'solves' puzzle b only in view number solve_at[b] (0-based), with a halting logit
    that names the view, and that records each batch it runs."""

    def __init__(self, solve_at: list[int | None]) -> None:
        self.solve_at = solve_at
        self.batches: list[np.ndarray] = []
        self.view_of: dict[bytes, int] = {}

    def recurse(self, tokens: np.ndarray, stop=None):
        self.batches.append(tokens.copy())
        n = len(tokens)
        logits = _one_hot(tokens, 11)
        q = np.arange(n, dtype=np.float32)
        return logits, q, np.full(n, 3)

    def draw(self, rng: views.ViewStream, n: int) -> views.Views:
        return SUDOKU.draw_views(rng, n)


def test_waves_stop_at_the_first_verified_view_and_never_run_a_verified_puzzle_again() -> None:
    tokens = SUDOKU.encode(_pairs(SUDOKU, 3, "easy", 1)[0])
    solve_at = [0, 2, None]  # puzzle 0 as given, puzzle 1 in its third view, puzzle 2 never
    net = _Scripted(solve_at)
    ran: list[np.ndarray] = []

    def verify(logits: np.ndarray, rows: np.ndarray) -> np.ndarray:
        ran.append(rows.copy())
        # Which view each row is: count rows of the same puzzle seen before.
        out = np.zeros(len(rows), bool)
        counts: dict[int, int] = {}
        for i, b in enumerate(rows):
            k = sum(int((r == b).sum()) for r in ran[:-1]) + counts.get(int(b), 0)
            counts[int(b)] = counts.get(int(b), 0) + 1
            out[i] = solve_at[b] == k
        return out

    run = views.run_views(tokens, 16, 0, net.recurse, verify, net.draw)
    assert [len(r) for r in ran] == [3, 2 * 3, 1 * 12]  # puzzle 0 left after view 1, puzzle 1 after wave 2
    assert ran[1].tolist() == [1, 1, 1, 2, 2, 2] and ran[2].tolist() == [2] * 12
    assert run.verified.tolist() == [True, True, False]
    assert run.view.tolist()[:2] == [0, 2] and run.views_run.tolist() == [1, 4, 16]
    # Puzzle 2 never verified: it keeps its surest view (the scripted q grows with the row).
    assert run.view[2] == 15


class _Counter:
    """A backend stand-in whose state is the step count; each row's answer is its own tokens, and no row
    ever halts by itself."""

    def __init__(self) -> None:
        self.rows_per_step: list[int] = []

    def start(self, tokens: np.ndarray):
        return tokens, 0

    def step(self, state):
        tokens, k = state
        self.rows_per_step.append(len(tokens))
        return (tokens, k + 1), np.full(len(tokens), -10.0, np.float32)

    def logits(self, state, rows: np.ndarray) -> np.ndarray:
        return _one_hot(state[0][rows], 11)

    def keep(self, state, rows: np.ndarray):
        return state[0][rows], state[1]


def test_a_stopped_row_ends_at_that_step_and_leaves_the_batch() -> None:
    tokens = np.arange(4)[:, None].repeat(81, axis=1)
    ends = {1: 2, 3: 5}  # row -> the step at which the caller ends it
    net = _Counter()

    def stop(rows: np.ndarray, logits: np.ndarray) -> np.ndarray:
        assert np.array_equal(logits.argmax(-1), tokens[rows])  # the logits of exactly those rows
        return np.array([ends.get(int(r)) == len(net.rows_per_step) for r in rows])

    run = recursion.run(net, tokens, 8, 0.5, stop)  # type: ignore[arg-type]
    assert run.steps.tolist() == [8, 2, 8, 5]
    assert net.rows_per_step == [4, 4, 3, 3, 3, 2, 2, 2]
    assert np.array_equal(run.logits.argmax(-1), tokens)


def test_a_wave_ends_every_view_of_a_puzzle_at_the_step_one_verifies() -> None:
    """Puzzle 0 verifies as given; puzzle 1's views verify from step 4 of wave 2 on; puzzle 2 never."""
    tokens = SUDOKU.encode(_pairs(SUDOKU, 3, "easy", 1)[0])
    net, step = _Counter(), [0]

    def recurse(batch: np.ndarray, stop):
        net.rows_per_step.clear()
        step[0] = 0
        if stop is None:  # view 1 runs as the single pass: no stop
            return _one_hot(batch, 11), np.zeros(len(batch), np.float32), np.full(len(batch), 16)

        def counting(rows: np.ndarray, logits: np.ndarray) -> np.ndarray:
            step[0] = len(net.rows_per_step)
            return stop(rows, logits)

        run = recursion.run(net, batch, 16, 0.5, counting)  # type: ignore[arg-type]
        return run.logits, run.q_halt, run.steps

    def verify(logits: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return (rows == 0) | ((rows == 1) & (step[0] >= 4))

    run = views.run_views(tokens, 4, 0, recurse, verify, SUDOKU.draw_views)
    # Wave 2 holds 3 views each of puzzles 1 and 2; puzzle 1's end together at step 4.
    assert net.rows_per_step == [6, 6, 6, 6] + [3] * 12
    assert run.verified.tolist() == [True, True, False]
    assert run.steps[1] == 4 and run.view[1] == 1 and run.views_run.tolist() == [1, 4, 4]


def test_stop_on_verified_ends_each_puzzle_as_given_at_its_first_verified_step() -> None:
    tokens = np.arange(3)[:, None].repeat(81, axis=1)
    verifies_from = {0: 3, 1: 7}  # puzzle -> first step whose answer verifies; puzzle 2 never
    net = _Counter()

    def recurse(batch: np.ndarray, stop):
        run = recursion.run(net, batch, 10, 0.5, stop)  # type: ignore[arg-type]
        return run.logits, run.q_halt, run.steps

    def verify(logits: np.ndarray, rows: np.ndarray) -> np.ndarray:
        step = len(net.rows_per_step)
        return np.array([verifies_from.get(int(r), 99) <= step for r in rows])

    run = views.run_views(tokens, 1, 0, recurse, verify, SUDOKU.draw_views, stop_on_verified=True)
    assert run.steps.tolist() == [3, 7, 10] and run.verified.tolist() == [True, True, False]
    assert net.rows_per_step == [3, 3, 3, 2, 2, 2, 2, 1, 1, 1]
    net.rows_per_step.clear()
    plain = views.run_views(tokens, 1, 0, recurse, verify, SUDOKU.draw_views)  # the halting head alone
    assert plain.steps.tolist() == [10, 10, 10] and net.rows_per_step == [3] * 10


def test_stop_on_verified_default_comes_from_the_manifest(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert Solver("sudoku", backend="cpu", model=tiny_model_dir).stop_on_verified is False
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    body = json.loads((model / "manifest.json").read_text())
    body["halting"]["stop_on_verified"] = True
    (model / "manifest.json").write_text(json.dumps(body))
    assert Solver("sudoku", backend="cpu", model=model).stop_on_verified is True
    assert Solver("sudoku", backend="cpu", model=model, stop_on_verified=False).stop_on_verified is False
    body["halting"]["stop_on_verified"] = "yes"
    (model / "manifest.json").write_text(json.dumps(body))
    with pytest.raises(ModelError, match=r"halting\.stop_on_verified"):
        Solver("sudoku", backend="cpu", model=model)


def test_pooled_belief_is_the_mean_of_every_view_s_probabilities() -> None:
    tokens = SUDOKU.encode(_pairs(SUDOKU, 2, "easy", 3)[0])
    rng = np.random.default_rng(0)
    made: list[np.ndarray] = []

    def recurse(batch: np.ndarray, stop):
        made.append(rng.normal(size=(len(batch), 81, 11)).astype(np.float32))
        return made[-1], np.zeros(len(batch), np.float32), np.full(len(batch), 16)

    def softmax(x: np.ndarray) -> np.ndarray:
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)

    never = lambda logits, rows: np.zeros(len(rows), bool)  # noqa: E731
    run = views.run_views(tokens, 4, 0, recurse, never, SUDOKU.draw_views)
    assert run.views_run.tolist() == [4, 4]
    drawn = [SUDOKU.draw_views(views.puzzle_rng(0, tokens[b]), 3) for b in range(2)]
    for b in range(2):
        wave = views.undo_logits(made[1][3 * b : 3 * b + 3], drawn[b])  # rows of puzzle b, mapped back
        mean = (softmax(made[0][b]) + softmax(wave).sum(0)) / 4
        np.testing.assert_allclose(np.exp(run.pooled[b]), mean, rtol=1e-5, atol=1e-7)
    single = views.run_views(tokens, 1, 0, recurse, never, SUDOKU.draw_views)  # one view: its own belief
    np.testing.assert_allclose(np.exp(single.pooled), softmax(made[-1]), rtol=1e-5, atol=1e-7)


def test_views_need_a_task_with_symmetries() -> None:
    from trm_sdk.errors import TRMError
    from trm_sdk.tasks.base import Task

    with pytest.raises(TRMError, match="lists no symmetries, so it has no views"):
        Task.draw_views(SUDOKU, views.ViewStream(0), 1)


def test_one_view_is_exactly_the_single_pass(tiny_model_dir: Path) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir, views=1)
    puzzles = _pairs(SUDOKU, 6, "hard", 2)[0]
    got = solver.solve_batch(list(puzzles), halt_threshold=0.0 + 1e-3)
    direct = recursion.run(solver._backend, SUDOKU.encode(puzzles), solver.max_steps, 1e-3)
    answers = SUDOKU.decode(direct.logits)
    for i, r in enumerate(got):
        assert np.array_equal(r.grid, answers[i]) and r.steps == direct.steps[i] and r.views == 1
        assert r.confidence == float(recursion.confidence(direct.q_halt)[i])


def test_fewer_views_run_exactly_the_first_views_of_more(tiny_model_dir: Path) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir)
    puzzles = list(_pairs(SUDOKU, 4, "minimal", 3)[0])
    many = solver.predict(puzzles, views=16, seed=5)
    few = solver.predict(puzzles, views=4, seed=5)
    assert few.views is not None and many.views is not None and many.view is not None
    for i in range(len(puzzles)):
        if many.solved[i] and many.views[i] <= 4:
            assert few.solved[i] and few.view is not None and few.view[i] == many.view[i]
    again = solver.predict(puzzles, views=16, seed=5)
    assert np.array_equal(again.logits, many.logits)  # reproducible


def test_solutions_from_views_are_verified_network_answers(tiny_model_dir: Path) -> None:
    solver = Solver("sudoku", backend="cpu", model=tiny_model_dir, views=8)
    for r in solver.solve_batch([CLASSIC, CLASSIC]):
        assert r.method == "trm" and 1 <= r.views <= 8
        assert r.solved == bool(SUDOKU.verify(r.grid[None], SUDOKU.parse(CLASSIC)[None])[0])


def test_views_default_comes_from_the_manifest(tiny_model_dir: Path, tmp_path: Path) -> None:
    assert Solver("sudoku", backend="cpu", model=tiny_model_dir).views == 1  # none recorded
    model = tmp_path / "m"
    shutil.copytree(tiny_model_dir, model)
    body = json.loads((model / "manifest.json").read_text())
    body["inference"] = {"views": 12}
    (model / "manifest.json").write_text(json.dumps(body))
    assert Solver("sudoku", backend="cpu", model=model).views == 12
    assert Solver("sudoku", backend="cpu", model=model, views=2).views == 2
    body["inference"] = {"views": 0}
    (model / "manifest.json").write_text(json.dumps(body))
    with pytest.raises(ModelError, match=r"inference\.views"):
        Solver("sudoku", backend="cpu", model=model)
    with pytest.raises(ValueError, match="views"):
        Solver("sudoku", backend="cpu", model=tiny_model_dir).solve(CLASSIC, views=MAX_VIEWS + 1)


def test_a_maze_has_eight_views_at_most(maze_model: Path) -> None:
    solver = Solver("maze", backend="cpu", model=maze_model, max_steps=1)
    maze = _pairs(MAZE, 1, "easy", 4)[0][0]
    r = solver.solve(maze, views=64)
    assert r.views <= 8
