"""Maze codec: every accepted input form, every refusal message, tokens, and the strict verifier."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks.maze import codec, generate

# A 5x7 maze with a unique shortest path of 8 moves around the wall block, plus a dead end.
SMALL = [
    "S   # ",
    "### # ",
    "    # ",
    " ####G",
    "      ",
]
SMALL_ANSWER = [
    "Sooo# ",
    "###o# ",
    "oooo# ",
    "o####G",
    "oooooo",
]


def full(rows: list[str]) -> list[str]:
    """The same maze in the 30x30 frame, padded with walls as the network sees it."""
    return [r.ljust(30, "#") for r in rows] + ["#" * 30] * (30 - len(rows))


def test_every_form_reads_the_same_cells() -> None:
    rows = full(SMALL)
    base = codec.parse(rows)
    assert base.shape == (30, 30) and base.dtype == np.int8
    assert base[0, 0] == codec.START and base[3, 5] == codec.GOAL and base[0, 4] == codec.WALL
    assert np.array_equal(codec.parse("".join(rows)), base)
    assert np.array_equal(codec.parse("\n".join(rows) + "\n"), base)
    assert np.array_equal(codec.parse(np.array(rows)), base)
    assert np.array_equal(codec.parse(base.copy()), base)
    assert np.array_equal(codec.parse(base.reshape(900).tolist()), base)


def test_a_smaller_maze_is_padded_and_keeps_its_coordinates() -> None:
    cells = codec.parse(SMALL)
    assert codec.maze_size(cells) == (5, 6)
    assert (cells[5:] == codec.PAD).all() and (cells[:, 6:] == codec.PAD).all()
    assert np.array_equal(codec.encode(cells)[0], codec.encode(codec.parse(full(SMALL)))[0])  # pad = wall
    assert codec.format_grid(cells, codec.maze_size(cells)) == "\n".join(SMALL)


@pytest.mark.parametrize(
    ("maze", "message"),
    [
        ("S" + " " * 898 + "G" + " ", "900 characters"),
        (["S  ", "  ", " G "], "row 2 has 2 characters"),
        (["S x", "  G"], "unknown character 'x' at row 1, column 3"),
        (["S o", "  G"], "'o' marks the path"),
        (["   ", "  G"], "no start 'S'"),
        (["S G", "  G"], "2 of goal 'G', at row 1, column 3 and row 2, column 3"),
        (["S" + " " * 30, "G" + " " * 30], "1 to 30 columns, got 31"),
        ([" "] * 31, "at most 30 rows"),
        (np.zeros((30, 31), np.int8), "shape"),
        (np.full((30, 30), 7, np.int8), "holds 7"),
        (3.5, "cannot read a maze from float"),
    ],
)
def test_bad_input_says_what_and_where(maze: object, message: str) -> None:
    with pytest.raises(InvalidPuzzleError, match=None) as info:
        codec.parse(maze)
    assert message in str(info.value)


def test_tokens_round_trip_and_decode_never_answers_pad() -> None:
    cells = codec.parse(SMALL)
    tokens = codec.encode(cells)
    assert tokens.shape == (1, 900) and tokens.dtype == np.int64
    assert set(np.unique(tokens).tolist()) == {codec.WALL, codec.OPEN, codec.START, codec.GOAL}
    logits = np.zeros((1, 900, codec.VOCAB_SIZE), np.float32)
    logits[0, np.arange(900), tokens[0]] = 1.0
    logits[0, :, codec.PAD] = 5.0  # the pad token must never win
    assert np.array_equal(codec.decode(logits)[0], np.where(cells == codec.PAD, codec.WALL, cells))
    rows = codec.to_rows(codec.decode(logits))[0]
    assert rows.shape == (30,) and rows[0] == "S   # " + "#" * 24


def test_shortest_path_and_marked_answer_match_maze_hard_form() -> None:
    cells = codec.parse(SMALL)
    path = codec.shortest_path(cells)
    assert path is not None and path[0] == (0, 0) and path[-1] == (3, 5)
    assert len(path) - 1 == 16 == codec.distances(cells)[3, 5]
    answer = codec.mark_path(cells, path)
    assert codec.format_grid(answer, (5, 6)) == "\n".join(SMALL_ANSWER)
    assert codec.are_solutions(answer, cells).tolist() == [True]
    assert codec.read_path(answer, cells) == path


def test_the_trained_path_follows_a_local_rule() -> None:
    # Among the six shortest paths of an open 3x3 room, the one drawn walks back from G to the first
    # neighbour one move nearer S in the order up, down, left, right: up, up, then left, left.
    maze = codec.parse(["S  ", "   ", "  G"])
    assert codec.shortest_path(maze) == [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2)]
    rng = np.random.default_rng(5)
    for _ in range(20):
        cells, _ = generate.make_level(rng, "medium")
        path = codec.shortest_path(cells)
        assert path is not None
        dist = codec.distances(cells)
        for here, before in zip(path[:0:-1], path[-2::-1], strict=True):
            r, c = here
            nearer = [
                (r + dr, c + dc)
                for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                if 0 <= r + dr < 30 and 0 <= c + dc < 30 and dist[r + dr, c + dc] == dist[r, c] - 1
            ]
            assert before == nearer[0]


def test_verifier_accepts_any_shortest_path_and_nothing_else() -> None:
    maze = codec.parse(["S  ", "   ", "  G"])  # six shortest paths of 4 moves
    right = codec.to_cells(["Soo", "  o", "  G"])
    other = codec.to_cells(["S  ", "o  ", "ooG"])
    blob = codec.to_cells(["Soo", " oo", "  G"])  # a 2x2 block of marks: no single chain
    zigzag = codec.to_cells(["So ", " oo", "  G"])
    extra = codec.to_cells(["Soo", "o o", "  G"])  # a shortest path plus one stray mark
    wall_changed = codec.to_cells(["Soo", "  o", "# G"])
    goal_moved = codec.to_cells(["Soo", "  G", "   "])
    checks = [right, other, blob, zigzag, extra, wall_changed, goal_moved]
    got = codec.are_solutions(np.stack(checks), np.stack([maze] * len(checks)))
    assert got.tolist() == [True, True, False, True, False, False, False]
    # a path through a wall is refused even when it is the right length
    walled = codec.parse(["S# ", " # ", "  G"])
    through = codec.to_cells(["S#o", " #o", "  G"])
    assert not codec.are_solutions(through, walled)[0]


def test_a_longer_route_is_read_but_not_solved() -> None:
    maze = codec.parse(["S G", "   "])
    around = codec.to_cells(["S G", "ooo"])  # 4 moves where 2 would do
    assert codec.read_path(around, maze) == [(0, 0), (1, 0), (1, 1), (1, 2), (0, 2)]
    assert codec.solved_path(around, maze) is None
    assert not codec.are_solutions(around, maze)[0]


def test_unreachable_goal_has_no_solution() -> None:
    maze = codec.parse(["S #  ", "  # G", "  #  "])
    assert codec.shortest_path(maze) is None
    assert codec.distances(maze)[1, 4] == -1
    attempt = codec.to_cells(["Sooo ", "  # G", "  #  "])
    assert not codec.are_solutions(attempt, maze)[0]
    assert not codec.are_solutions(maze, maze)[0]  # the unchanged maze is no answer either


def test_split_text_keeps_spaces_and_wall_rows() -> None:
    rows = full(SMALL)
    one = "".join(rows)
    assert codec.split_text(one + "\n" + one + "\n") == [one, one]
    text = "\r\n".join(SMALL) + "\r\n"
    assert codec.split_text(text) == ["\n".join(SMALL)]
