"""A time budget per call: waves stop starting when they would overrun it, running rows end at the deadline
with their answers so far, ``solved`` stays true to the answer, and batch calls share the budget."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from click.testing import CliRunner

from trm_sdk import Solver, views
from trm_sdk import solver as solver_module
from trm_sdk.cli import main
from trm_sdk.options import LIBRARY_DEFAULTS, SolveOptions
from trm_sdk.tasks import get_task

SUDOKU = get_task("sudoku")
STEP_SECONDS = 0.01  # what one fake step costs per row (sleeping, so a busy machine barely stretches it)
SLACK = 0.05  # for a busy test runner


def _fake_recurse(steps: int, calls: list[int]):  # type: ignore[no-untyped-def]
    """A recursion whose steps cost STEP_SECONDS a row and never verify; honours ``stop`` each step."""

    def recurse(tokens: np.ndarray, stop):  # type: ignore[no-untyped-def]
        calls.append(len(tokens))
        n = len(tokens)
        logits = np.zeros((n, 81, 11), np.float32)
        done = np.zeros(n, np.int64)
        active = np.arange(n)
        for k in range(1, steps + 1):
            time.sleep(STEP_SECONDS * len(active))
            end = np.ones(len(active), bool) if k == steps else np.zeros(len(active), bool)
            if stop is not None and not end.all():
                end |= np.asarray(stop(active, logits[active]), bool)
            done[active[end]] = k
            active = active[~end]
            if not len(active):
                break
        return logits, np.zeros(n, np.float32), done

    return recurse


TOKENS = SUDOKU.encode(SUDOKU.generate(np.random.default_rng(0), "easy")[0][None])


def _run(views_wanted: int, deadline: float | None, calls: list[int], steps: int = 4) -> views.ViewRun:
    return views.run_views(
        TOKENS,
        views_wanted,
        0,
        _fake_recurse(steps, calls),
        lambda logits, rows: np.zeros(len(rows), bool),
        SUDOKU.draw_views,
        deadline=deadline,
    )


def test_without_a_budget_every_wave_runs() -> None:
    calls: list[int] = []
    run = _run(16, None, calls)
    assert calls == [1, 3, 12] and run.views_run.tolist() == [16]


def test_a_wave_that_would_overrun_the_budget_does_not_start() -> None:
    # View 1: 4 steps of 1 row (40 ms); wave 2: 4 steps of 3 rows (120 ms); wave 3's first step alone, 12
    # rows, would take about 120 ms, past a 200 ms budget.
    calls: list[int] = []
    start = time.perf_counter()
    run = _run(64, start + 0.200, calls)
    elapsed = time.perf_counter() - start
    assert calls == [1, 3]
    assert run.views_run.tolist() == [4] and not run.verified[0]
    assert elapsed < 0.200 + 3 * STEP_SECONDS + SLACK  # within the budget plus one step of the last wave


def test_a_running_wave_ends_at_the_deadline_with_its_answers_so_far() -> None:
    calls: list[int] = []
    start = time.perf_counter()
    run = _run(1, start + 0.025, calls, steps=20)  # 20 steps need 200 ms: it ends after about 3
    assert calls == [1]
    assert 1 <= run.steps[0] < 20
    assert time.perf_counter() - start < 0.025 + STEP_SECONDS + SLACK


def test_the_first_step_always_runs_so_a_game_gets_an_answer() -> None:
    calls: list[int] = []
    run = _run(64, time.perf_counter() - 1.0, calls)  # already past the deadline
    assert calls == [1] and run.steps.tolist() == [1] and run.views_run.tolist() == [1]


def test_the_option_is_checked_and_inf_means_no_budget() -> None:
    assert LIBRARY_DEFAULTS.time_budget == math.inf
    assert SolveOptions(time_budget=np.float32(0.25)).time_budget == 0.25
    assert SolveOptions(time_budget=math.inf).time_budget == math.inf
    for bad in (0, -1.0, float("nan"), True, "1s", 1e9):
        with pytest.raises(ValueError, match="time_budget must be a number of seconds above 0"):
            SolveOptions(time_budget=bad)


def test_the_shipped_model_within_a_budget_keeps_solved_honest() -> None:
    solver = Solver("sudoku", backend="cpu")
    rng = np.random.default_rng(5)
    puzzles = [SUDOKU.generate(rng, "minimal")[0] for _ in range(6)]
    solver.solve(puzzles[0])  # the first call pays for lazy initialisation
    for puzzle in puzzles:
        start = time.perf_counter()
        r = solver.solve(puzzle, time_budget=0.03)
        elapsed = time.perf_counter() - start
        # One step of the largest wave at batch 1 (48 rows) is well under 0.5 s even on a busy runner.
        assert elapsed < 0.03 + 0.5
        assert r.solved == bool(SUDOKU.verify(r.grid[None], puzzle[None])[0])
        if r.solved:
            assert ((puzzle == 0) | (r.grid == puzzle)).all()


def test_a_batch_call_gives_each_chunk_its_share_of_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    solver = Solver("sudoku", backend="cpu")
    seen: list[float | None] = []
    monkeypatch.setattr(
        solver, "_solve_parsed", lambda parsed, opts, deadline=None: seen.append(deadline) or []
    )
    rng = np.random.default_rng(1)
    puzzles = [SUDOKU.generate(rng, "easy")[0] for _ in range(10)]
    start = time.perf_counter()
    solver.solve_batch(puzzles, batch_size=4, time_budget=1.0)  # chunks of 4, 4, 2
    assert len(seen) == 3 and all(d is not None for d in seen)
    offsets = [d - start for d in seen]  # type: ignore[operator]
    assert offsets == pytest.approx([0.4, 0.8, 1.0], abs=0.05)
    seen.clear()
    solver.solve_batch(puzzles, batch_size=4)
    assert seen == [None, None, None]


def test_the_search_gets_what_is_left_of_the_budget() -> None:
    opts = SolveOptions(search_time_limit=10.0, time_budget=1.0)
    assert solver_module._search_limit(opts, None) == 10.0
    assert 0.3 < solver_module._search_limit(opts, time.perf_counter() + 0.4) <= 0.4
    assert solver_module._search_limit(opts, time.perf_counter() - 5) == solver_module._LEAST_SEARCH_SECONDS


def test_the_cli_takes_a_time_budget() -> None:
    puzzle = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
    result = CliRunner().invoke(main, ["solve", "--time-budget", "0.5", "--json", puzzle])
    assert result.exit_code == 0, result.output
    assert '"solved": true' in result.output
    bad = CliRunner().invoke(main, ["solve", "--time-budget", "0", puzzle])
    assert bad.exit_code == 2 and "time-budget" in bad.output
