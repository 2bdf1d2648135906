"""The Sudoku codec: every accepted input form, every refusal and its message, tokens and checks."""

from __future__ import annotations

import numpy as np
import pytest

from trm_sdk.errors import InvalidPuzzleError
from trm_sdk.tasks.sudoku import codec

# The classic puzzle from Wikipedia's Sudoku article, with its solution typed in by hand.
PUZZLE = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79"
SOLUTION = "534678912672195348198342567859761423426853791713924856961537284287419635345286179"
GRID = np.array([0 if ch == "." else int(ch) for ch in PUZZLE], dtype=np.int8).reshape(9, 9)
SOLVED = np.array([int(ch) for ch in SOLUTION], dtype=np.int8).reshape(9, 9)

PRETTY = """\
5 3 . | . 7 . | . . .
6 . . | 1 9 5 | . . .
. 9 8 | . . . | . 6 .
------+-------+------
8 . . | . 6 . | . . 3
4 . . | 8 . 3 | . . 1
7 . . | . 2 . | . . 6
------+-------+------
. 6 . | . . . | 2 8 .
. . . | 4 1 9 | . . 5
. . . | . 8 . | . 7 9"""


def refused(puzzle: object) -> str:
    with pytest.raises(InvalidPuzzleError) as info:
        codec.parse(puzzle)
    assert isinstance(info.value, ValueError)  # callers guarding with `except ValueError` still work
    return str(info.value)


# --------------------------------------------------------------------------------------------------
# accepted forms


@pytest.mark.parametrize(
    "text",
    [
        PUZZLE,
        PUZZLE.replace(".", "0"),
        "  " + " ".join(PUZZLE) + "\t\n",
        "\n".join(PUZZLE[i : i + 9] for i in range(0, 81, 9)),
        "\r\n".join(PUZZLE[i : i + 9] for i in range(0, 81, 9)) + "\r\n",
        PRETTY,
        "+-------+-------+-------+\n" + "\n".join("| " + line + " |" for line in PRETTY.splitlines()),
    ],
    ids=["dots", "zeros", "spaced", "nine-lines", "crlf", "pretty", "boxed"],
)
def test_parse_strings(text: str) -> None:
    grid = codec.parse(text)
    assert grid.dtype == np.int8 and grid.shape == (9, 9)
    np.testing.assert_array_equal(grid, GRID)


@pytest.mark.parametrize(
    "make",
    [
        lambda g: g.tolist(),
        lambda g: tuple(tuple(row) for row in g.tolist()),
        lambda g: g.reshape(81).tolist(),
        lambda g: tuple(g.reshape(81).tolist()),
        lambda g: g.astype(np.int64),
        lambda g: g.astype(np.uint8).reshape(81),
        lambda g: g.astype(np.float32),
        lambda g: [float(v) for v in g.reshape(81)],
        lambda g: [np.int16(v) for v in g.reshape(81)],
        lambda g: list(g),  # a list of numpy rows
        lambda g: g.astype(object),
    ],
    ids=["nested-list", "nested-tuple", "flat-list", "flat-tuple", "int64", "flat-uint8", "float32",
         "float-list", "numpy-scalars", "list-of-arrays", "object-array"],
)  # fmt: skip
def test_parse_sequences_and_arrays(make) -> None:
    grid = codec.parse(make(GRID))
    assert grid.dtype == np.int8 and grid.shape == (9, 9)
    np.testing.assert_array_equal(grid, GRID)


def test_parse_accepts_empty_and_full_grids() -> None:
    assert codec.parse("." * 81).sum() == 0
    np.testing.assert_array_equal(codec.parse(SOLUTION), SOLVED)


def test_parse_returns_a_copy() -> None:
    source = GRID.copy()
    grid = codec.parse(source)
    grid[0, 0] = 9
    assert source[0, 0] == 5


# --------------------------------------------------------------------------------------------------
# refusals


def test_wrong_length_says_what_was_found() -> None:
    message = refused(PUZZLE[:-1])
    assert "81" in message and "80" in message
    assert "82" in refused(PUZZLE + "1")
    assert "0 characters" in refused("")


def test_bad_character_names_position_and_cell() -> None:
    text = PUZZLE[:22] + "x" + PUZZLE[23:]  # index 22 -> position 23 -> row 3, column 5
    message = refused(text)
    assert "'x'" in message and "position 23" in message and "r3c5" in message


def test_bad_character_position_counts_cleaned_string() -> None:
    spaced = " ".join(PUZZLE[:40]) + " ? " + PUZZLE[41:]  # whitespace is not counted
    message = refused(spaced)
    assert "'?'" in message and "position 41" in message and "r5c5" in message


def test_separators_only_ignored_in_multiline_text() -> None:
    one_line = PUZZLE[:3] + "|" + PUZZLE[4:]
    message = refused(one_line)
    assert "'|'" in message and "position 4" in message and "r1c4" in message


def test_multiline_length_error_mentions_ignored_rules() -> None:
    message = refused(PRETTY.replace("7 9", "7"))
    assert "80" in message and "ignored" in message


@pytest.mark.parametrize(
    ("puzzle", "needle"),
    [
        ([[0] * 9] * 8 + [[0] * 8], "lengths [9, 9, 9, 9, 9, 9, 9, 9, 8]"),
        ([0] * 80, "length 80"),
        ([[0] * 9] * 9 + [[0] * 9], "shape (10, 9)"),
        ([[0] * 9] * 8 + [[0] * 10], "10"),
        ([[0] * 9] * 8 + [0], "scalar"),
        (np.zeros((9, 8)), "shape (9, 8)"),
        (np.zeros((3, 9, 9)), "shape (3, 9, 9)"),
        (np.zeros(80, dtype=np.int8), "shape (80,)"),
        ([[0] * 9] * 8 + [np.zeros((9, 1))], "shape (9, 1)"),
        (np.array([[0] * 9] * 8 + [[0] * 8], dtype=object), "lengths"),
    ],
    ids=["ragged", "flat-80", "ten-rows", "long-row", "mixed", "array-9x8", "array-3d", "array-80",
         "2d-row", "ragged-object-array"],
)  # fmt: skip
def test_wrong_shapes(puzzle: object, needle: str) -> None:
    message = refused(puzzle)
    assert needle in message
    assert "9" in message


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (10, "10"),
        (-1, "-1"),
        (2.5, "2.5"),
        (float("nan"), "nan"),
        (float("inf"), "inf"),
        (True, "bool"),
        (np.bool_(True), "bool"),
        ("5", "str"),
        (None, "None"),
        ([1, 2], "list"),
        (3 + 0j, "complex"),
    ],
)
def test_bad_cell_values_name_the_cell(value: object, needle: str) -> None:
    cells: list[object] = [0] * 81
    cells[40] = value  # r5c5
    message = refused(cells)
    assert "r5c5" in message and needle in message
    nested = [cells[r * 9 : r * 9 + 9] for r in range(9)]
    assert "r5c5" in refused(nested)


def test_bad_array_values() -> None:
    grid = np.zeros((9, 9), dtype=np.int64)
    grid[1, 3] = 12
    message = refused(grid)
    assert "r2c4" in message and "12" in message
    floats = np.zeros((9, 9))
    floats[8, 8] = 0.5
    assert "r9c9" in refused(floats)
    floats[8, 8] = np.nan
    assert "r9c9" in refused(floats)
    assert "bool" in refused(np.zeros((9, 9), dtype=bool))
    assert "dtype" in refused(np.full((9, 9), "1"))


@pytest.mark.parametrize("puzzle", [None, 5, 3.0, b"." * 81, {"a": 1}, object()])
def test_unsupported_types(puzzle: object) -> None:
    message = refused(puzzle)
    assert type(puzzle).__name__ in message and "81-character string" in message


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ((0, 6, 5), "digit 5 appears twice in row 1: r1c1 and r1c7"),
        ((8, 0, 5), "digit 5 appears twice in column 1: r1c1 and r9c1"),
        ((2, 0, 3), "digit 3 appears twice in box 1 (rows 1-3, columns 1-3): r1c2 and r3c1"),
    ],
)
def test_duplicate_givens_name_unit_and_cells(edit: tuple[int, int, int], expected: str) -> None:
    r, c, d = edit
    grid = GRID.copy()
    assert grid[r, c] == 0
    grid[r, c] = d
    assert expected in refused(grid)
    assert expected in codec.conflicts(grid)


def test_duplicate_in_row_and_box_lists_both() -> None:
    grid = GRID.copy()
    grid[0, 2] = 3  # r1c2 holds 3 already: same row and same box
    found = codec.conflicts(grid)
    assert "digit 3 appears twice in row 1: r1c2 and r1c3" in found
    assert "digit 3 appears twice in box 1 (rows 1-3, columns 1-3): r1c2 and r1c3" in found
    assert len(found) == 2


def test_many_conflicts_are_capped() -> None:
    message = refused([[1] * 9] * 9)
    assert "digit 1 appears 9 times in row 1" in message
    assert "more" in message
    assert len(codec.conflicts(np.ones((9, 9), dtype=np.int8))) == 27


def test_conflicts_empty_for_valid_grids() -> None:
    assert codec.conflicts(GRID) == []
    assert codec.conflicts(SOLVED) == []


def test_have_conflicts_vectorised() -> None:
    bad = GRID.copy()
    bad[0, 6] = 5
    flags = codec.have_conflicts(np.stack([GRID, bad, SOLVED, np.zeros((9, 9), np.int8)]))
    np.testing.assert_array_equal(flags, [False, True, False, False])


# --------------------------------------------------------------------------------------------------
# tokens


def test_constants_match_reference_encoding() -> None:
    assert (codec.SIZE, codec.CELLS, codec.VOCAB_SIZE) == (9, 81, 11)
    assert (codec.PAD, codec.BLANK, codec.DIGIT_OFFSET) == (0, 1, 1)


def test_encode() -> None:
    tokens = codec.encode(GRID)
    assert tokens.shape == (1, 81) and tokens.dtype == np.int64
    flat = GRID.reshape(81)
    np.testing.assert_array_equal(tokens[0][flat == 0], codec.BLANK)
    np.testing.assert_array_equal(tokens[0][flat > 0], flat[flat > 0] + 1)
    assert tokens.min() >= 1 and tokens.max() <= 10
    batch = codec.encode(np.stack([GRID, SOLVED]))
    assert batch.shape == (2, 81)
    np.testing.assert_array_equal(batch[1], SOLVED.reshape(81) + 1)


def test_encode_rejects_bad_input() -> None:
    with pytest.raises(InvalidPuzzleError, match="shape"):
        codec.encode(np.zeros((2, 81), dtype=np.int8))
    with pytest.raises(InvalidPuzzleError, match="0"):
        codec.encode(np.full((9, 9), 10))


def _one_hot_logits(tokens: np.ndarray, scale: float = 5.0) -> np.ndarray:
    logits = np.zeros((*tokens.shape, codec.VOCAB_SIZE), dtype=np.float32)
    np.put_along_axis(logits, tokens[..., None], scale, axis=-1)
    return logits


def test_decode_round_trip() -> None:
    grids = np.stack([SOLVED, SOLVED.T])
    digits, probs = codec.decode(_one_hot_logits(codec.encode(grids)))
    assert digits.dtype == np.int8 and digits.shape == (2, 9, 9)
    assert probs.dtype == np.float32 and probs.shape == (2, 9, 9, 9)
    np.testing.assert_array_equal(digits, grids)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(probs.argmax(-1) + 1, grids)


def test_decode_ignores_blank_and_pad_tokens() -> None:
    logits = _one_hot_logits(codec.encode(SOLVED))
    logits[..., codec.PAD] = 100.0
    logits[..., codec.BLANK] = 100.0
    digits, probs = codec.decode(logits[0])  # (81, V) is taken as a batch of one
    np.testing.assert_array_equal(digits[0], SOLVED)
    assert probs.shape == (1, 9, 9, 9)


def test_decode_is_numerically_stable() -> None:
    logits = _one_hot_logits(codec.encode(SOLVED), scale=1e4) - 5e3
    digits, probs = codec.decode(logits.astype(np.float64))
    assert np.isfinite(probs).all()
    np.testing.assert_array_equal(digits[0], SOLVED)
    np.testing.assert_allclose(probs.max(-1), 1.0)


def test_decode_rejects_wrong_shape() -> None:
    with pytest.raises(ValueError, match="81"):
        codec.decode(np.zeros((2, 80, 11)))
    with pytest.raises(ValueError, match="11"):
        codec.decode(np.zeros((2, 81, 10)))


# --------------------------------------------------------------------------------------------------
# checking and text


def test_is_solution() -> None:
    assert codec.is_solution(SOLVED, GRID)
    assert codec.is_solution(SOLUTION, PUZZLE)
    assert codec.is_solution(SOLVED, np.zeros((9, 9), np.int8))
    swapped = SOLVED.copy()
    swapped[0, [0, 1]] = swapped[0, [1, 0]]  # rows still fine, columns broken
    assert not codec.is_solution(swapped, np.zeros((9, 9), np.int8))
    holed = SOLVED.copy()
    holed[4, 4] = 0
    assert not codec.is_solution(holed, GRID)
    relabelled = (SOLVED % 9) + 1  # a valid grid that ignores the givens
    assert codec.is_solution(relabelled, np.zeros((9, 9), np.int8))
    assert not codec.is_solution(relabelled, GRID)
    assert not codec.is_solution("not a grid", GRID)


def test_are_solutions_vectorised() -> None:
    swapped = SOLVED.copy()
    swapped[[0, 1], 0] = swapped[[1, 0], 0]
    junk = np.full((9, 9), 12, dtype=np.int8)
    grids = np.stack([SOLVED, swapped, junk, SOLVED])
    puzzles = np.stack([GRID, np.zeros_like(GRID), GRID, (SOLVED % 9) + 1])
    np.testing.assert_array_equal(codec.are_solutions(grids, puzzles), [True, False, False, False])
    with pytest.raises(ValueError):
        codec.are_solutions(grids, puzzles[:2])


def test_are_solutions_catches_box_only_errors() -> None:
    # Rows and columns are permutations (a cyclic Latin square) but the boxes are not.
    latin = ((np.arange(9)[:, None] + np.arange(9)[None, :]) % 9 + 1).astype(np.int8)
    assert not codec.are_solutions(latin, np.zeros_like(latin))[0]


def test_to_string_and_format_grid() -> None:
    assert codec.to_string(GRID) == PUZZLE
    assert codec.to_string(SOLUTION) == SOLUTION
    assert codec.format_grid(GRID) == PRETTY
    assert len(codec.format_grid(SOLVED).splitlines()) == 11
    np.testing.assert_array_equal(codec.parse(codec.format_grid(SOLVED)), SOLVED)


def test_cell_name() -> None:
    assert codec.cell_name(0, 0) == "r1c1"
    assert codec.cell_name(2, 4) == "r3c5"
