"""Maze generator: padded sizes, far-apart S and G, shortest-path answers, determinism, refusals."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk.tasks.maze import codec, generate


@pytest.mark.parametrize("size", [4, 11, 30])
def test_mazes_are_padded_and_answers_are_shortest_paths(size: int) -> None:
    rng = np.random.default_rng(size)
    for _ in range(5):
        puzzle, answer = generate.make_maze(rng, size)
        assert puzzle.shape == answer.shape == (30, 30)
        assert codec.maze_size(puzzle)[0] <= size and codec.maze_size(puzzle)[1] <= size
        assert (puzzle[size:] == codec.PAD).all() and (puzzle[:, size:] == codec.PAD).all()
        codec.parse(puzzle)  # one S, one G, valid codes
        assert codec.are_solutions(answer, puzzle)[0]
        # S and G are the ends of a double sweep: G is as far from S as any reachable cell
        dist = codec.distances(puzzle)
        g = tuple(np.argwhere(puzzle == codec.GOAL)[0])
        assert dist[g] == dist.max() >= 1


def test_levels_and_hard_path_length() -> None:
    rng = np.random.default_rng(0)
    p, a = generate.make_batch(rng, 3, "easy")
    assert p.shape == (3, 30, 30) and all(max(codec.maze_size(x)) <= 12 for x in p)
    p, a = generate.make_batch(rng, 2, "hard")
    assert ((a == codec.PATH).sum(axis=(1, 2)) + 1 >= generate.HARD_MIN_PATH).all()
    assert codec.are_solutions(a, p).all()


def test_same_seed_same_mazes_and_bad_requests_fail() -> None:
    one = generate.make_batch(np.random.default_rng(7), 3, "medium")
    two = generate.make_batch(np.random.default_rng(7), 3, "medium")
    assert all(np.array_equal(x, y) for x, y in zip(one, two, strict=True))
    with pytest.raises(ValueError, match="size"):
        generate.make_maze(np.random.default_rng(0), 31)
    with pytest.raises(ValueError, match="no 5x5 maze"):
        generate.make_maze(np.random.default_rng(0), 5, min_path=30)
    with pytest.raises(ValueError, match="unknown maze level"):
        generate.make_batch(np.random.default_rng(0), 1, "minimal")
