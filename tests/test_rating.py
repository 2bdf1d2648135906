"""The difficulty score: monotone in steps, penalises doubt, and puts unsolved puzzles at the top."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk import rating
from trm_sdk.solution import Solution


def test_score_grows_with_steps_and_doubt() -> None:
    assert (
        rating.score(1, 0.99, True, 16) < rating.score(2, 0.99, True, 16) < rating.score(16, 0.99, True, 16)
    )
    assert rating.score(3, 0.9, True, 16) < rating.score(3, 0.6, True, 16)
    assert rating.score(1, 1.0, True, 16) == 0.0
    assert rating.score(16, 0.0, True, 16) == 1.0
    assert rating.score(1, 0.99, False, 16) == 1.0  # beyond the model, however quickly it gave up


@pytest.mark.parametrize(
    ("steps", "confidence", "solved", "level"),
    [(1, 0.95, True, "easy"), (3, 0.9, True, "medium"), (8, 0.9, True, "hard"), (16, 0.9, True, "extreme")],
)
def test_levels(steps: int, confidence: float, solved: bool, level: str) -> None:
    r = rating.rate(steps, confidence, solved, 16)
    assert r.level == level and r.steps == steps and r.solved == solved
    assert level in str(r)


def test_levels_are_ordered_bounds() -> None:
    bounds = [b for _, b in rating.LEVELS]
    assert bounds == sorted(bounds) and 0 < bounds[0] and bounds[-1] < 1


def test_an_answer_the_search_finished_counts_as_unsolved_by_the_network() -> None:
    grid = np.ones((9, 9), np.int8)
    by_search = Solution(grid, True, 16, 0.1, "cpu", method="trm+search")
    by_network = Solution(grid, True, 2, 0.9, "cpu")
    assert rating.rate_solution(by_search, 16).score == 1.0
    assert not rating.rate_solution(by_search, 16).solved
    assert rating.rate_solution(by_network, 16).score == pytest.approx((2 - 0.9) / 16, abs=1e-4)
    assert "did not solve" in str(rating.rate_solution(by_search, 16))


def _run_correlation(tmp_path, model: list[str]) -> str:  # type: ignore[no-untyped-def]
    """`trm eval --rank-correlation` on an easy file and a minimal one, easiest first: its last line."""
    from click.testing import CliRunner

    from trm_sdk.cli import main
    from trm_sdk.tasks.sudoku import codec, generate

    rng = np.random.default_rng(0)
    files = []
    for level in ("easy", "minimal"):
        puzzles, solutions = generate.make_batch(rng, 6, level)
        path = tmp_path / f"{level}.csv"
        pairs = zip(puzzles, solutions, strict=True)
        path.write_text(
            "puzzle,solution\n" + "".join(f"{codec.to_string(p)},{codec.to_string(s)}\n" for p, s in pairs)
        )
        files.append(str(path))
    args = ["eval", "--backend", "cpu", "--views", "1", "--no-every-step", "--rank-correlation", "-q"]
    out = CliRunner().invoke(main, [*args, *model, *files])
    assert out.exit_code == 0, out.output
    lines = out.output.strip().splitlines()
    # one line per file, easiest first: its puzzles, mean score and the count of every level
    assert lines[-3].startswith(f"{tmp_path.name}/easy: 6 puzzles, mean score ")
    assert lines[-2].startswith(f"{tmp_path.name}/minimal: 6 puzzles, mean score ")
    assert all(level in lines[-2] for level in (" easy", " medium", " hard", " extreme"))
    return lines[-1]


def test_rating_correlation_runs_in_trm_eval(tiny_model_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    last = _run_correlation(tmp_path, ["--model", str(tiny_model_dir)])
    assert last.startswith("Spearman rank correlation, score vs file rank: ")


def test_rank_correlation_needs_two_files(tiny_model_dir, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from trm_sdk.cli import main
    from trm_sdk.tasks.sudoku import codec, generate

    puzzles, solutions = generate.make_batch(np.random.default_rng(1), 2, "easy")
    path = tmp_path / "one.csv"
    pairs = zip(puzzles, solutions, strict=True)
    path.write_text(
        "puzzle,solution\n" + "".join(f"{codec.to_string(p)},{codec.to_string(s)}\n" for p, s in pairs)
    )
    args = ["eval", "--model", str(tiny_model_dir), "--rank-correlation", "-q", str(path)]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 2 and "at least two FILES" in out.output


def test_shipped_model_rates_minimal_puzzles_harder_than_easy_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from trm_sdk.shipped import available

    if "sudoku" not in available():
        pytest.skip("no shipped sudoku model")
    rho = float(_run_correlation(tmp_path, []).rsplit(" ", 1)[1])
    assert rho > 0.5


def test_a_puzzle_that_needed_views_rates_between_solved_as_given_and_unsolved() -> None:
    grid = np.ones((9, 9), np.int8)
    as_given = rating.rate_solution(Solution(grid, True, 2, 0.99, "cpu"), 16)
    by_views = rating.rate_solution(Solution(grid, True, 2, 0.99, "cpu", views=4), 16)
    unsolved = rating.rate_solution(Solution(grid, False, 2, 0.99, "cpu", views=64), 16)
    assert as_given.score < by_views.score < unsolved.score == 1.0
    assert as_given.score == pytest.approx((2 - 0.99) / 16, abs=1e-4)  # one view: the score as before
    assert by_views.score == pytest.approx(1 - (1 - as_given.score) / 4, abs=1e-4)
    assert by_views.level == "extreme" and by_views.views == 4 and "4 views" in str(by_views)
    assert rating.rate_solution(Solution(grid, True, 2, 0.99, "cpu", views=64), 16).score > by_views.score
