"""The Futoshiki plugin: parsing and its refusals, tokens, the verifier, search, generation, symmetries."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from trm_futoshiki import codec, generate, solve, symmetry
from trm_futoshiki.task import FutoshikiTask

from trm_sdk.errors import InvalidPuzzleError

# A cyclic Latin square (row r is 1..5 shifted left by r) and a puzzle over it written by hand, with
# signs of all kinds: r1c1 < r1c2 (1 < 2), r1c5 v r2c5 (5 > 1), r2c1 ^ r3c1 (2 < 3), r3c2 < r3c3 (4 < 5)
# and r3c4 < r3c5 (1 < 2); givens 1 and 5 in row 1, 5 at r2c4, 4 at r5c5.
SQUARE = [[(r + c) % 5 + 1 for c in range(5)] for r in range(5)]
HAND = [
    "1<.-.-.-5",
    "--------v",
    ".-.-.-5-.",
    "^--------",
    ".-.<.-.<.",
    "---------",
    ".-.-.-.-.",
    "---------",
    ".-.-.-.-4",
]


def hand_puzzle() -> str:
    return "\n".join(HAND)


def answer_of(puzzle: np.ndarray, square: list[list[int]]) -> np.ndarray:
    out = puzzle.copy()
    out[0::2, 0::2] = np.array(square) + codec.DIGIT_OFFSET
    return out


def one_line(lines: list[str]) -> str:
    return "".join(lines)


def empty_lines() -> list[str]:
    return [".-.-.-.-." if y % 2 == 0 else "-" * 9 for y in range(9)]


def with_char(lines: list[str], y: int, x: int, ch: str) -> list[str]:
    out = list(lines)
    out[y] = out[y][:x] + ch + out[y][x + 1 :]
    return out


@pytest.fixture(scope="module")
def pairs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(2024)
    return {level: generate.make_batch(rng, 8, level) for level in generate.LEVELS}


# --------------------------------------------------------------------------------------------------
# parsing


def test_hand_puzzle_reads_and_its_square_solves_it() -> None:
    grid = codec.parse(hand_puzzle())
    assert grid.shape == (9, 9) and grid.dtype == np.int8
    assert grid[0, 0] == 1 + codec.DIGIT_OFFSET and grid[0, 2] == codec.BLANK
    assert grid[0, 1] == codec.LT and grid[1, 8] == codec.DOWN and grid[3, 0] == codec.UP
    assert grid[1, 1] == codec.NONE
    assert codec.are_solutions(answer_of(grid, SQUARE), grid).all()
    assert solve.count_solutions(grid) == 2  # few clues: the square is one of several solutions


def test_every_form_reads_the_same_grid(pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    puzzle = pairs["medium"][0][0]
    text = codec.to_string(puzzle)
    assert len(text) == 81
    dense = [text[k : k + 9] for k in range(0, 81, 9)]
    spaced = codec.format_grid(puzzle)
    forms: list[object] = [
        text,
        "  " + text + "\n",
        "\n".join(dense),
        "\n".join(dense).replace("-", " "),  # spaces for no sign, trailing ones dropped by editors
        "\n".join(ln.rstrip("-") for ln in dense),  # short lines are padded
        spaced,
        "\n" + "\n".join("    " + ln for ln in spaced.splitlines()) + "\n",  # indented as in a docstring
        spaced.replace("\n", "\r\n"),
        dense,
        [list(ln) for ln in dense],
        puzzle,
        puzzle.reshape(81),
        puzzle.astype(np.int64).tolist(),
        puzzle.reshape(81).tolist(),
        puzzle.astype(np.float32),
    ]
    for form in forms:
        assert np.array_equal(codec.parse(form), puzzle), repr(form)
    assert np.array_equal(codec.parse(codec.format_grid(pairs["easy"][1][0])), pairs["easy"][1][0])


def test_alternative_characters() -> None:
    lines = with_char(with_char(empty_lines(), 0, 0, "0"), 0, 2, "_")
    lines = with_char(with_char(lines, 1, 0, "V"), 2, 0, "3")
    grid = codec.parse(one_line(lines))
    assert grid[0, 0] == grid[0, 2] == codec.BLANK
    assert grid[1, 0] == codec.DOWN and grid[2, 0] == 3 + codec.DIGIT_OFFSET


BAD_INPUTS = {
    "one line too short": (one_line(empty_lines())[:-1], "81 characters"),
    "one line too long": (one_line(empty_lines()) + ".", "found 82"),
    "eight lines": ("\n".join(empty_lines()[:8]), "found 8"),
    "ten lines": ("\n".join([*empty_lines(), "."]), "found 10"),
    "long line": ("\n".join(with_char(empty_lines(), 4, 9, "-")), "line 5 has 10"),
    "unknown character": (one_line(with_char(empty_lines(), 2, 4, "x")), "'x' at character 23"),
    "unknown character in lines": ("\n".join(with_char(empty_lines(), 2, 4, "7")), "line 3, column 5"),
    "sign in a cell": (one_line(with_char(empty_lines(), 4, 4, "<")), "cell r3c3"),
    "no-sign in a cell": (one_line(with_char(empty_lines(), 0, 8, "-")), "cell r1c5"),
    "digit between cells": (one_line(with_char(empty_lines(), 0, 1, "3")), "between r1c1 and r1c2"),
    "blank between rows": (one_line(with_char(empty_lines(), 1, 2, ".")), "between r1c2 and r2c2"),
    "vertical sign across": (one_line(with_char(empty_lines(), 0, 3, "^")), "a sign between rows"),
    "horizontal sign down": (one_line(with_char(empty_lines(), 7, 8, ">")), "a sign between columns"),
    "sign in a corner": (one_line(with_char(empty_lines(), 3, 3, "v")), "corner between r2c2 and r3c3"),
    "repeated in a row": (one_line(with_char(with_char(empty_lines(), 2, 0, "4"), 2, 6, "4")), "row 2"),
    "repeated in a column": (one_line(with_char(with_char(empty_lines(), 0, 4, "2"), 8, 4, "2")), "column 3"),
    "broken sign across": (
        one_line(with_char(with_char(with_char(empty_lines(), 0, 0, "4"), 0, 1, "<"), 0, 2, "2")),
        "r1c1 = 4 and r1c2 = 2 break the sign '<'",
    ),
    "broken sign down": (
        one_line(with_char(with_char(with_char(empty_lines(), 6, 8, "1"), 7, 8, "v"), 8, 8, "5")),
        "r4c5 = 1 and r5c5 = 5 break the sign 'v'",
    ),
    "padding token": (np.zeros((9, 9), dtype=np.int64), "padding"),
    "token out of range": (np.full((9, 9), 12), "not a token id"),
    "wrong shape": (np.ones((5, 5), dtype=np.int64), "shape"),
    "fractional tokens": (np.full(81, 1.5), "whole token ids"),
    "bool array": (np.ones((9, 9), dtype=bool), "dtype bool"),
    "ragged list": ([[1, 2], [3]], "ragged"),
    "mixed list": ([1, "<"] * 40 + [1], "not a mix"),
    "a number": (7, "cannot read"),
    "empty string": ("", "found 0"),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_input_is_refused_saying_what_and_where(name: str) -> None:
    value, expected = BAD_INPUTS[name]
    with pytest.raises(InvalidPuzzleError) as info:
        codec.parse(value)
    assert expected in str(info.value)


def test_to_grid_keeps_contradictions_that_parse_refuses() -> None:
    text = one_line(with_char(with_char(empty_lines(), 2, 0, "4"), 2, 6, "4"))
    grid = codec.to_grid(text)
    assert solve.count_solutions(grid) == 0
    assert codec.to_string(grid) == text


# --------------------------------------------------------------------------------------------------
# tokens and checking


def test_encode_then_one_hot_decode_round_trips(pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    answers = pairs["hard"][1]
    tokens = codec.encode(answers)
    assert tokens.shape == (len(answers), 81) and tokens.dtype == np.int64
    assert np.array_equal(codec.encode(answers[0]), tokens[:1])
    logits = np.eye(codec.VOCAB_SIZE, dtype=np.float32)[tokens]
    assert np.array_equal(codec.decode(logits), answers)
    # A cell never decodes to a blank, a corner never to anything but no-sign.
    logits[:, 0, codec.BLANK] = 10.0
    logits[:, 10, codec.LT] = 10.0
    decoded = codec.decode(logits)
    assert np.array_equal(decoded, answers)
    with pytest.raises(InvalidPuzzleError):
        codec.encode(np.zeros((2, 9, 9), dtype=np.int8))  # padding is never a puzzle


def test_verifier_accepts_answers_and_rejects_each_kind_of_mistake() -> None:
    puzzle = codec.parse(hand_puzzle())
    answer = answer_of(puzzle, SQUARE)
    assert codec.are_solutions(answer, puzzle).all()

    wrong_digit = answer.copy()
    wrong_digit[2, 2] = 5 + codec.DIGIT_OFFSET  # r2c2 3 -> 5: row 2 now holds 5 twice
    changed_sign = answer.copy()
    changed_sign[5, 4] = codec.DOWN  # r3c3 = 5 > r4c3 = 1 holds, but the puzzle has no sign there
    dropped_sign = answer.copy()
    dropped_sign[0, 1] = codec.NONE
    blank_cell = answer.copy()
    blank_cell[8, 0] = codec.BLANK
    corner = answer.copy()
    corner[1, 1] = codec.LT
    batch = np.stack([answer, wrong_digit, changed_sign, dropped_sign, blank_cell, corner])
    assert codec.are_solutions(batch, np.stack([puzzle] * len(batch))).tolist() == [True] + [False] * 5

    # A given the answer does not keep: the same answer is fine for the puzzle without that given.
    given = puzzle.copy()
    given[4, 4] = 2 + codec.DIGIT_OFFSET  # the square has 5 at r3c3
    assert not codec.are_solutions(answer_of(given, SQUARE), given).any()
    assert codec.are_solutions(answer_of(given, SQUARE), puzzle).all()

    # A sign the answer's digits break: r3c2 = 4 < r3c3 = 5 turned round in puzzle and answer alike.
    turned = puzzle.copy()
    turned[4, 3] = codec.GT
    assert not codec.are_solutions(answer_of(turned, SQUARE), turned).any()


# --------------------------------------------------------------------------------------------------
# search and generation


def test_generated_puzzles_are_unique_and_their_answers_verify(
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    clues = {}
    for level, (puzzles, answers) in pairs.items():
        assert puzzles.shape == answers.shape == (8, 9, 9) and puzzles.dtype == np.int8
        assert codec.are_solutions(answers, puzzles).all()
        for p in puzzles:
            assert solve.count_solutions(p) == 1
            codec.parse(p)  # a generated puzzle is a valid input
        clues[level] = float(
            (puzzles != codec.BLANK)[:, 0::2, 0::2].sum() + np.isin(puzzles, [8, 9, 10, 11]).sum()
        )
    assert clues["easy"] > clues["medium"] > clues["hard"]


def test_hard_puzzles_are_minimal(pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    for puzzle in pairs["hard"][0][:3]:
        positions = np.argwhere((puzzle != codec.BLANK) & (puzzle != codec.NONE))
        assert len(positions) > 0
        for y, x in positions.tolist():
            fewer = puzzle.copy()
            fewer[y, x] = codec.BLANK if y % 2 == 0 and x % 2 == 0 else codec.NONE
            assert solve.count_solutions(fewer) == 2, (codec.to_string(puzzle), y, x)


def test_levels_and_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown level"):
        generate.make(rng, "extreme")
    puzzles, answers = generate.make_batch(rng, 0, "easy")
    assert puzzles.shape == answers.shape == (0, 9, 9)
    square = generate.random_square(rng)
    assert sorted(square.sum(axis=0).tolist()) == sorted(square.sum(axis=1).tolist()) == [15] * 5
    assert all(sorted(row) == [1, 2, 3, 4, 5] for row in (square.tolist() + square.T.tolist()))


def brute_force_count(puzzle: np.ndarray, squares: np.ndarray) -> int:
    """Solutions by checking every Latin square: slow, and too simple to share the solver's mistakes."""
    digits = puzzle[0::2, 0::2].astype(np.int64) - codec.DIGIT_OFFSET
    ok = np.ones(len(squares), dtype=bool)
    for r, c in np.argwhere((digits >= 1) & (digits <= 5)).tolist():
        ok &= squares[:, r, c] == digits[r, c]
    for y, x in np.argwhere(np.isin(puzzle, [codec.LT, codec.GT, codec.UP, codec.DOWN])).tolist():
        a = squares[:, y // 2, x // 2]
        b = squares[:, y // 2, x // 2 + 1] if x % 2 else squares[:, y // 2 + 1, x // 2]
        ok &= (a < b) if puzzle[y, x] in (codec.LT, codec.UP) else (a > b)
    return int(ok.sum())


def test_solver_counts_agree_with_brute_force() -> None:
    # All 161,280 Latin squares of order 5, from the generator's reduced squares: that there are exactly
    # that many distinct ones also backs the uniform-sampling argument of random_square.
    reduced = generate._reduced_squares()
    assert len(reduced) == 56
    perms = np.array(list(itertools.permutations(range(5))))
    every = reduced[:, perms][..., perms].transpose(0, 1, 3, 2, 4).reshape(-1, 25)
    keys, first = np.unique(every.astype(np.int64) @ (5 ** np.arange(25, dtype=np.int64)), return_index=True)
    assert len(keys) == 161_280
    squares = (every[first] + 1).reshape(-1, 5, 5)
    rng = np.random.default_rng(7)
    for _ in range(40):
        grid = codec.parse(one_line(empty_lines()))
        cells = np.where(rng.random((5, 5)) < 0.25, squares[rng.integers(len(squares))], 0)
        grid[0::2, 0::2] = np.where(cells > 0, cells + codec.DIGIT_OFFSET, codec.BLANK)
        grid[0::2, 1::2] = np.array([codec.NONE, codec.NONE, codec.LT, codec.GT])[rng.integers(0, 4, (5, 4))]
        grid[1::2, 0::2] = np.array([codec.NONE, codec.NONE, codec.UP, codec.DOWN])[
            rng.integers(0, 4, (4, 5))
        ]
        expected = brute_force_count(grid, squares)
        assert solve.count_solutions(grid, limit=100_000) == expected


def test_search_solves_hard_puzzles(pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    for puzzle, answer in zip(*pairs["hard"], strict=True):
        found, status, nodes = solve.search(puzzle)
        assert status == "solved" and nodes >= 0
        assert found is not None and np.array_equal(found, answer)


def test_search_reports_ambiguity_and_contradiction() -> None:
    empty = one_line(empty_lines())
    found, status, _ = solve.search(empty)
    assert status == "multiple_solutions"
    assert found is not None and codec.are_solutions(found, codec.parse(empty)).all()
    # r1c1 < r1c2 ^ r2c2 (so r1c2 < r2c2), r2c1 > r2c2, r1c1 v r2c1: a cycle r1c1 < r1c2 < r2c2 < r2c1 < r1c1.
    cycle = with_char(
        with_char(with_char(with_char(empty_lines(), 0, 1, "<"), 1, 2, "^"), 2, 1, ">"), 1, 0, "v"
    )
    assert (
        codec.parse(one_line(cycle)) is not None
    )  # no two givens clash: only search finds the contradiction
    assert solve.search(one_line(cycle)) == (None, "no_solution", 0)
    assert solve.count_solutions(one_line(cycle)) == 0
    assert solve.search(empty, time_limit=0.0)[1] == "search_timeout"
    with pytest.raises(ValueError):
        solve.count_solutions(empty, limit=0)


def test_search_tries_the_likeliest_digits_first() -> None:
    # On the empty grid every Latin square is a solution: scores that favour one square make it the one found.
    empty = codec.parse(one_line(empty_lines()))
    target = answer_of(empty, SQUARE)
    scores = np.eye(codec.VOCAB_SIZE)[target.astype(np.int64)]  # (9, 9, 12), the square's tokens hot
    found, status, nodes = solve.search(empty, order=scores)
    assert status == "multiple_solutions" and found is not None
    assert np.array_equal(found, target)
    assert nodes <= 25
    reverse = answer_of(empty, [[6 - d for d in row] for row in SQUARE])
    found_r, _, _ = solve.search(
        empty, order=np.eye(codec.VOCAB_SIZE)[reverse.astype(np.int64)].reshape(81, 12)
    )
    assert found_r is not None and np.array_equal(found_r, reverse)
    with pytest.raises(ValueError):
        solve.search(empty, order=np.zeros((9, 9)))


# --------------------------------------------------------------------------------------------------
# symmetries


def test_sixteen_distinct_symmetries_identity_first() -> None:
    cells, tokens = symmetry.symmetries()
    assert cells.shape == (16, 81) and tokens.shape == (16, 12)
    assert cells.dtype == tokens.dtype == np.int64
    assert np.array_equal(cells[0], np.arange(81)) and np.array_equal(tokens[0], np.arange(12))
    assert len({c.tobytes() + t.tobytes() for c, t in zip(cells, tokens, strict=True)}) == 16
    for c, t in zip(cells, tokens, strict=True):
        assert sorted(c.tolist()) == list(range(81)) and sorted(t.tolist()) == list(range(12))
        assert t[codec.PAD] == codec.PAD and t[codec.NONE] == codec.NONE and t[codec.BLANK] == codec.BLANK
    # Transposing turns '<' into '^'; reversing the digits alone turns '<' into '>' and 1 into 5.
    assert tokens[4, codec.LT] == codec.UP
    assert tokens[8, codec.LT] == codec.GT and tokens[8, 1 + codec.DIGIT_OFFSET] == 5 + codec.DIGIT_OFFSET


def test_every_symmetry_maps_valid_pairs_to_valid_pairs(
    pairs: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    cells, tokens = symmetry.symmetries()
    puzzles = np.concatenate([p for p, _ in pairs.values()])
    answers = np.concatenate([a for _, a in pairs.values()])
    flat_p, flat_a = puzzles.reshape(len(puzzles), 81), answers.reshape(len(answers), 81)
    seen = set()
    for k in range(16):
        view_p = tokens[k][flat_p[:, cells[k]]].reshape(puzzles.shape)
        view_a = tokens[k][flat_a[:, cells[k]]].reshape(answers.shape)
        assert codec.are_solutions(view_a, view_p).all(), k
        assert solve.count_solutions(view_p[0]) == 1
        seen.add(view_p.tobytes())
    assert len(seen) == 16
    # training shows each pair in a random one of them (the SDK's default, from symmetries())
    questions, solved = FutoshikiTask().training_tokens(puzzles, answers, np.random.default_rng(1))
    shown_p, shown_a = questions.reshape(puzzles.shape), solved.reshape(answers.shape)
    assert codec.are_solutions(shown_a.astype(np.int8), shown_p.astype(np.int8)).all()
    assert (shown_p != puzzles).reshape(len(puzzles), -1).any(axis=1).mean() > 0.8


# --------------------------------------------------------------------------------------------------
# text and files


def test_format_and_split_text(pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    puzzles = pairs["hard"][0][:3]
    pretty = codec.format_grid(puzzles[0])
    assert len(pretty.splitlines()) <= 9 and "-" not in pretty
    text = "\n".join(
        [
            "# three puzzles, two forms",
            pretty,
            "",
            codec.to_string(puzzles[1]),
            "",
            codec.format_grid(puzzles[2]),
            "",
        ]
    )
    parts = codec.split_text(text)
    assert len(parts) == 3
    assert all(np.array_equal(codec.parse(t), p) for t, p in zip(parts, puzzles, strict=True))
    assert codec.split_text("\n".join(codec.to_string(p) for p in puzzles)) == [
        codec.to_string(p) for p in puzzles
    ]
    assert codec.split_text("# nothing\n\n") == []


def test_files_are_the_sdk_default_csv_and_errors_name_file_and_line(
    pairs: dict[str, tuple[np.ndarray, np.ndarray]], tmp_path: Path
) -> None:
    task = FutoshikiTask()
    puzzles, answers = pairs["medium"]
    path = tmp_path / "set.csv"
    path.write_text(task.to_csv(puzzles, answers))
    data = task.load(path)
    assert data.name == "set" and len(data) == len(puzzles)
    assert np.array_equal(data.puzzles, puzzles) and data.solutions is not None
    assert np.array_equal(data.solutions, answers)
    assert len(task.load(path, limit=3)) == 3

    only = tmp_path / "only.csv"
    only.write_text("puzzle\n" + "\n".join(codec.to_string(p) for p in puzzles) + "\n")
    assert task.load(only).solutions is None

    lines = task.to_csv(puzzles, answers).splitlines()
    wrong_answer = f"{codec.to_string(puzzles[0])},{codec.to_string(answers[1])}"
    bad_char = lines[2].replace(".", "x", 1)
    for rows, where in (
        ([lines[0], lines[1], wrong_answer], "line 3: the answer does not solve"),
        ([lines[0], bad_char], "line 2: .*'x'"),
        (["foo,bar", lines[1]], "line 1: a header 'puzzle,answer'"),
    ):
        path.write_text("\n".join(rows) + "\n")
        with pytest.raises(InvalidPuzzleError, match=f"set.csv, {where}"):
            task.load(path)
