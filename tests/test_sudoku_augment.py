"""Symmetries: each keeps puzzles valid and paired with their solutions, and actually changes them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from trm_sdk.tasks.sudoku import augment, codec, search

PUZZLE = codec.parse("53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79")
SOLUTION = codec.parse("534678912672195348198342567859761423426853791713924856961537284287419635345286179")

Transform = Callable[[np.ndarray], np.ndarray]

TRANSFORMS: dict[str, Transform] = {
    "digits": lambda g: augment.permute_digits(g, [2, 3, 4, 5, 6, 7, 8, 9, 1]),
    "transpose": augment.transpose,
    "rot90": lambda g: augment.rotate(g, 1),
    "rot180": lambda g: augment.rotate(g, 2),
    "rot270": lambda g: augment.rotate(g, 3),
    "bands": lambda g: augment.permute_bands(g, [2, 0, 1]),
    "rows-in-band": lambda g: augment.permute_rows_in_band(g, 1, [1, 0, 2]),
    "stacks": lambda g: augment.permute_stacks(g, [1, 2, 0]),
    "cols-in-stack": lambda g: augment.permute_cols_in_stack(g, 2, [2, 1, 0]),
}


def check_pair(puzzle: np.ndarray, solution: np.ndarray) -> None:
    """The pair is still a puzzle and its one solution, with givens agreeing."""
    assert codec.is_solution(solution, puzzle)
    assert codec.conflicts(puzzle) == []
    np.testing.assert_array_equal(search.solution(puzzle), solution)


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_keeps_validity_and_correspondence(name: str) -> None:
    transform = TRANSFORMS[name]
    puzzle, solution = transform(PUZZLE), transform(SOLUTION)
    assert puzzle.shape == (9, 9) and puzzle.dtype == PUZZLE.dtype
    check_pair(puzzle, solution)
    assert not np.array_equal(puzzle, PUZZLE), "transform must not be the identity"
    assert not np.array_equal(solution, SOLUTION)
    assert (puzzle == 0).sum() == (PUZZLE == 0).sum()


@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_works_on_batches(name: str) -> None:
    transform = TRANSFORMS[name]
    batch = np.stack([PUZZLE, SOLUTION, SOLUTION.T])
    out = transform(batch)
    assert out.shape == batch.shape
    for k in range(len(batch)):
        np.testing.assert_array_equal(out[k], transform(batch[k]))


def test_geometry_matches_numpy_and_composes() -> None:
    np.testing.assert_array_equal(augment.rotate(SOLUTION, 1), np.rot90(SOLUTION))
    np.testing.assert_array_equal(augment.transpose(SOLUTION), SOLUTION.T)
    four = SOLUTION
    for _ in range(4):
        four = augment.rotate(four)
    np.testing.assert_array_equal(four, SOLUTION)
    np.testing.assert_array_equal(augment.permute_bands(SOLUTION, [0, 1, 2]), SOLUTION)
    moved = augment.permute_bands(SOLUTION, [2, 0, 1])
    np.testing.assert_array_equal(moved[:3], SOLUTION[6:])
    np.testing.assert_array_equal(moved[3:6], SOLUTION[:3])
    inner = augment.permute_rows_in_band(SOLUTION, 2, [2, 0, 1])
    np.testing.assert_array_equal(inner[6:], SOLUTION[[8, 6, 7]])
    np.testing.assert_array_equal(inner[:6], SOLUTION[:6])
    cols = augment.permute_cols_in_stack(SOLUTION, 0, [1, 0, 2])
    np.testing.assert_array_equal(cols[:, :3], SOLUTION[:, [1, 0, 2]])
    stacks = augment.permute_stacks(SOLUTION, [1, 2, 0])
    np.testing.assert_array_equal(stacks[:, :3], SOLUTION[:, 3:6])


def test_digit_permutation_keeps_blanks() -> None:
    perm = [9, 8, 7, 6, 5, 4, 3, 2, 1]
    out = augment.permute_digits(PUZZLE, perm)
    np.testing.assert_array_equal(out == 0, PUZZLE == 0)
    np.testing.assert_array_equal(out[PUZZLE > 0], 10 - PUZZLE[PUZZLE > 0])


def test_transform_argument_errors() -> None:
    with pytest.raises(ValueError, match=r"1\.\.9"):
        augment.permute_digits(PUZZLE, [1, 1, 2, 3, 4, 5, 6, 7, 8])
    with pytest.raises(ValueError, match="0, 1, 2"):
        augment.permute_bands(PUZZLE, [0, 0, 1])
    with pytest.raises(ValueError, match="band"):
        augment.permute_rows_in_band(PUZZLE, 3, [0, 1, 2])
    with pytest.raises(ValueError, match="9, 9"):
        augment.transpose(np.zeros((9, 8)))


def pairs_batch(n: int) -> tuple[np.ndarray, np.ndarray]:
    return np.repeat(PUZZLE[None], n, axis=0), np.repeat(SOLUTION[None], n, axis=0)


def test_random_augment_keeps_every_pair_valid() -> None:
    puzzles, solutions = pairs_batch(256)
    kept_p, kept_s = puzzles.copy(), solutions.copy()
    out_p, out_s = augment.random_augment(puzzles, solutions, np.random.default_rng(0))
    np.testing.assert_array_equal(puzzles, kept_p)  # inputs untouched
    np.testing.assert_array_equal(solutions, kept_s)
    assert out_p.shape == out_s.shape == (256, 9, 9)
    assert out_p.dtype == out_s.dtype == np.int8
    assert codec.are_solutions(out_s, out_p).all()
    assert not codec.have_conflicts(out_p).any()
    np.testing.assert_array_equal((out_p == 0).sum(axis=(1, 2)), (PUZZLE == 0).sum())
    for k in range(0, 256, 32):
        check_pair(out_p[k], out_s[k])


def test_random_augment_draws_per_sample() -> None:
    puzzles, solutions = pairs_batch(128)
    out_p, _ = augment.random_augment(puzzles, solutions, np.random.default_rng(1))
    assert len({p.tobytes() for p in out_p}) >= 120  # independent draws, not one for the batch
    assert not any(np.array_equal(p, PUZZLE) for p in out_p)
    # The blank pattern alone (digits forgotten) moves too, so it is not only relabelling.
    assert len({(p == 0).tobytes() for p in out_p}) > 60
    # Both orientations occur: line shuffles keep the sorted per-row given counts, a transpose
    # swaps them with the per-column ones, which differ for this puzzle.
    row_counts = sorted((PUZZLE > 0).sum(axis=1).tolist())
    col_counts = sorted((PUZZLE > 0).sum(axis=0).tolist())
    assert row_counts != col_counts
    seen = [sorted((p > 0).sum(axis=1).tolist()) for p in out_p]
    assert row_counts in seen and col_counts in seen
    assert all(counts in (row_counts, col_counts) for counts in seen)


def test_random_augment_reproducible_and_errors() -> None:
    puzzles, solutions = pairs_batch(4)
    a = augment.random_augment(puzzles, solutions, np.random.default_rng(5))
    b = augment.random_augment(puzzles, solutions, np.random.default_rng(5))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="same shape"):
        augment.random_augment(puzzles, solutions[:2], np.random.default_rng(0))
    with pytest.raises(ValueError, match="integer"):
        augment.random_augment(puzzles.astype(float), solutions, np.random.default_rng(0))
    empty = np.zeros((0, 9, 9), dtype=np.int8)
    out = augment.random_augment(empty, empty, np.random.default_rng(0))
    assert out[0].shape == (0, 9, 9)
