"""Likely copies of a Sudoku under its symmetries, and training's refusal of those of evaluation puzzles."""

from __future__ import annotations

import numpy as np

from trm_sdk.tasks import get_task
from trm_sdk.tasks.sudoku import codec, datasets, generate, isomorph
from trm_sdk.views import ViewStream, apply

SUDOKU = get_task("sudoku")


def _copies(grid: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` relabelled, permuted and transposed copies of ``grid``, drawn as views are."""
    views = SUDOKU.draw_views(ViewStream(seed), n)
    seen = apply(np.repeat(codec.encode(grid), len(views), axis=0), views)
    return np.where(seen == codec.BLANK, 0, seen - codec.DIGIT_OFFSET).astype(np.int8).reshape(-1, 9, 9)


def test_the_fingerprint_is_the_same_for_every_view_and_tells_puzzles_apart() -> None:
    puzzles, _ = generate.make_batch(np.random.default_rng(5), 6, "minimal")
    prints = []
    for grid in puzzles:
        prints.append(isomorph.fingerprint(grid))
        assert {isomorph.fingerprint(c) for c in _copies(grid, 20, 6)} == {prints[-1]}
    assert len(set(prints)) == len(prints)


def test_twins_finds_the_copies_among_other_puzzles() -> None:
    puzzles, _ = generate.make_batch(np.random.default_rng(7), 8, "minimal")
    copies = _copies(puzzles[0], 3, 8)
    mixed = np.concatenate([puzzles[1:5], copies, puzzles[5:]])
    found = isomorph.twins(mixed, puzzles[:1])
    assert found.tolist() == [False] * 4 + [True] * 3 + [False] * 3
    assert not isomorph.twins(mixed, np.zeros((0, 9, 9), np.int8)).any()


def test_training_drops_relabelled_copies_of_evaluation_puzzles() -> None:
    puzzles, solutions = generate.make_batch(np.random.default_rng(9), 6, "minimal")
    evaluation = datasets.PuzzleSet("eval", puzzles[:2], solutions[:2])
    copy = _copies(puzzles[0], 1, 10)
    base = datasets.PuzzleSet(
        "train",
        np.concatenate([puzzles[:1], copy, puzzles[2:]]),
        np.concatenate([solutions[:1], solutions[:1], solutions[2:]]),  # the copy's answer is not used
    )
    kept = datasets.without(base, evaluation)
    # the exact copy and the relabelled one go; puzzles 2-5, which no evaluation puzzle matches, stay
    assert len(kept) == 4
    np.testing.assert_array_equal(kept.puzzles, puzzles[2:])
