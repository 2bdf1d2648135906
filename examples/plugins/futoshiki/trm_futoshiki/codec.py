"""The Futoshiki codec: read what people type, turn grids into tokens and logits back into grids, and check.

A 5x5 Futoshiki is written as a 9x9 grid of characters: cell (r, c) sits at (2r, 2c), the sign between
(r, c) and (r, c+1) at (2r, 2c+1), the sign between (r, c) and (r+1, c) at (2r+1, 2c), and the (odd, odd)
corners hold nothing. Keeping the signs *in* the grid, rather than as a side list, gives the network one
token per position and makes every symmetry of the square a plain permutation of positions (see
:mod:`trm_futoshiki.symmetry`).

Characters: ``1``-``5`` a given, ``.`` (or ``0``, ``_``) a blank, ``<`` / ``>`` left smaller / larger,
``^`` / ``v`` upper smaller / larger, ``-`` no sign. The canonical array is that grid as token ids
(:data:`PAD` .. :data:`DOWN`), (9, 9) int8; an answer is the same grid with every cell a digit.

Everything a person can type goes through :func:`parse`, so this is the one place that decides what a
puzzle may look like and explains, position by position, why an input was refused.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from trm_sdk.errors import InvalidPuzzleError

__all__ = [
    "BLANK",
    "CELLS",
    "CHARS",
    "DIGIT_OFFSET",
    "DOWN",
    "GT",
    "LT",
    "NONE",
    "PAD",
    "SIDE",
    "SIZE",
    "UP",
    "VOCAB_SIZE",
    "are_solutions",
    "cell_name",
    "conflicts",
    "decode",
    "encode",
    "format_grid",
    "parse",
    "split_text",
    "to_grid",
    "to_string",
]

SIZE = 5  # cells per row and column
SIDE = 2 * SIZE - 1  # the text grid's side: cells with the signs between them
CELLS = SIDE * SIDE  # tokens the network sees
PAD, NONE, BLANK = 0, 1, 2
DIGIT_OFFSET = 2  # token = digit + DIGIT_OFFSET, so digits 1..5 are tokens 3..7
LT, GT, UP, DOWN = 8, 9, 10, 11  # '<' left < right, '>' left > right, '^' upper < lower, 'v' upper > lower
VOCAB_SIZE = 12
CHARS = "?-.12345<>^v"  # token -> character; PAD is never part of a puzzle and prints as '?'

_DIGITS = np.arange(1 + DIGIT_OFFSET, SIZE + 1 + DIGIT_OFFSET)  # the five digit tokens
_RELATIONS = np.array([NONE, LT, GT, UP, DOWN])
_MAX_LINE = 2 * SIDE - 1  # the longest line of the multi-line forms (the spaced one)
_HOW = "cells hold 1-5 or '.' (blank); signs are '<' '>' between columns, '^' 'v' between rows, '-' for none"

# Byte -> token, -1 where the character means nothing here. A space is only a sign-less position in the
# multi-line form, where it is turned into '-' before this table is consulted.
_LUT = np.full(256, -1, dtype=np.int8)
for _token, _char in enumerate(CHARS):
    if _token != PAD:
        _LUT[ord(_char)] = _token
_LUT[ord("0")] = _LUT[ord("_")] = BLANK
_LUT[ord("V")] = DOWN


def _kinds() -> np.ndarray:
    kind = np.full((SIDE, SIDE), 3, dtype=np.int8)  # 3: a corner between four cells
    kind[0::2, 0::2] = 0  # a cell
    kind[0::2, 1::2] = 1  # a sign between two cells of a row
    kind[1::2, 0::2] = 2  # a sign between two cells of a column
    return kind


KIND = _kinds()  # (9, 9): 0 cell, 1 horizontal sign, 2 vertical sign, 3 unused corner
_IS_CELL = KIND == 0
_ALLOWED = np.zeros((4, VOCAB_SIZE), dtype=bool)  # [kind, token]: may this token stand here?
_ALLOWED[0, [BLANK, *_DIGITS.tolist()]] = True
_ALLOWED[1, [NONE, LT, GT]] = True
_ALLOWED[2, [NONE, UP, DOWN]] = True
_ALLOWED[3, NONE] = True


def cell_name(row: int, col: int) -> str:
    """Name a cell the way every message in the SDK does: 1-based ``rRcC``, e.g. ``r3c5``."""
    return f"r{row + 1}c{col + 1}"


def _position_name(y: int, x: int) -> str:
    """What text position (y, x) of the 9x9 grid is, in puzzle terms."""
    r, c = y // 2, x // 2
    kind = KIND[y, x]
    if kind == 0:
        return f"cell {cell_name(r, c)}"
    if kind == 1:
        return f"the sign between {cell_name(r, c)} and {cell_name(r, c + 1)}"
    if kind == 2:
        return f"the sign between {cell_name(r, c)} and {cell_name(r + 1, c)}"
    return f"the corner between {cell_name(r, c)} and {cell_name(r + 1, c + 1)}"


def _why_not(token: int, y: int, x: int) -> str:
    """Why a known token may not stand at text position (y, x)."""
    kind = KIND[y, x]
    char = CHARS[token]
    if token == PAD:
        return "holds the padding token 0, which is never part of a puzzle"
    if kind == 0:
        what = "'-' (no sign)" if token == NONE else f"the sign {char!r}"
        return f"holds {what}; a cell holds a digit 1-5 or '.' for a blank"
    if kind == 3:
        return f"holds {char!r}; the corners between four cells hold nothing ('-' or a space)"
    if token == BLANK or DIGIT_OFFSET < token <= SIZE + DIGIT_OFFSET:
        what = "a blank" if token == BLANK else f"the digit {char}"
        return f"holds {what}; a sign position holds '<', '>', '^', 'v' or '-' (no sign)"
    if kind == 1:
        return f"holds {char!r}, a sign between rows; between two cells of a row use '<', '>' or '-'"
    return f"holds {char!r}, a sign between columns; between two cells of a column use '^', 'v' or '-'"


# --------------------------------------------------------------------------------------------------
# reading

Locate = Callable[[int, int], str]  # text position (y, x) -> where the user typed it


def _check_tokens(grid: np.ndarray, locate: Locate) -> np.ndarray:
    """(9, 9) token ids -> the same as int8, or an error naming the first token out of place."""
    bad = np.argwhere(~_ALLOWED[KIND, grid])
    if bad.size:
        y, x = (int(v) for v in bad[0])
        extra = f" ({len(bad) - 1} more misplaced after it)" if len(bad) > 1 else ""
        raise InvalidPuzzleError(
            f"{_position_name(y, x)} ({locate(y, x)}) {_why_not(int(grid[y, x]), y, x)}{extra}"
        )
    return grid.astype(np.int8)


def _from_rows(rows: list[str], locate: Locate) -> np.ndarray:
    """Nine strings of nine characters -> checked (9, 9) tokens."""
    text = "".join(rows)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    tokens = np.where(codes < 256, _LUT[np.minimum(codes, 255)], -1)
    bad = np.flatnonzero(tokens < 0)
    if bad.size:
        y, x = divmod(int(bad[0]), SIDE)
        extra = f" ({bad.size - 1} more unknown after it)" if bad.size > 1 else ""
        raise InvalidPuzzleError(
            f"unknown character {text[int(bad[0])]!r} at {locate(y, x)} ({_position_name(y, x)}){extra}; "
            + _HOW
        )
    return _check_tokens(tokens.reshape(SIDE, SIDE), locate)


def _parse_one_line(text: str) -> np.ndarray:
    if len(text) != CELLS:
        raise InvalidPuzzleError(
            f"a one-line Futoshiki needs {CELLS} characters (9 rows of 9: cells with the signs between "
            f"them), found {len(text)}; {_HOW}"
        )
    rows = [text[k : k + SIDE] for k in range(0, CELLS, SIDE)]
    return _from_rows(rows, lambda y, x: f"character {y * SIDE + x + 1}")


def _parse_lines(text: str) -> np.ndarray:
    # Indentation common to every line is dropped (a grid pasted from an indented block), but a line's own
    # leading spaces are kept: they are the sign-less positions at the start of a row of vertical signs.
    lines = [
        ln.rstrip() for ln in textwrap.dedent(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    ]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if len(lines) != SIDE:
        raise InvalidPuzzleError(
            f"a Futoshiki written over several lines has {SIDE} lines (5 rows of cells and the 4 rows of "
            f"signs between them, an empty line where a row has no sign), found {len(lines)}"
        )
    longest = max(len(ln) for ln in lines)
    # The spaced form (format_grid's) puts a space between every two positions; reading every second
    # character undoes it. A dense line is at most 9 characters, so a longer one tells the forms apart.
    spaced = longest > SIDE and all(ch == " " for ln in lines for ch in ln[1::2])
    if spaced:
        lines = [ln[0::2] for ln in lines]
    for k, ln in enumerate(lines):
        if len(ln) > SIDE:
            raise InvalidPuzzleError(
                f"line {k + 1} has {len(ln)} characters; a line holds at most {SIDE} positions "
                f"(or {_MAX_LINE} in the spaced form, a space between every two)"
            )
    rows = [ln.ljust(SIDE, "-").replace(" ", "-") for ln in lines]
    if spaced:
        return _from_rows(rows, lambda y, x: f"line {y + 1}, column {2 * x + 1}")
    return _from_rows(rows, lambda y, x: f"line {y + 1}, column {x + 1}")


def _parse_string(text: str) -> np.ndarray:
    stripped = text.strip()
    if "\n" in stripped or "\r" in stripped:
        return _parse_lines(text)
    return _parse_one_line(stripped)


def _parse_array(arr: np.ndarray) -> np.ndarray:
    arr = np.asarray(arr)  # a subclass (np.matrix) keeps two axes through reshapes; read it plainly
    if arr.dtype.kind in "US":
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "latin-1")
        if arr.ndim == 1:  # row strings
            return _parse_string("\n".join(arr.tolist()))
        if arr.ndim == 2 and all(len(v) == 1 for v in arr.reshape(-1).tolist()):
            return _parse_string("\n".join("".join(row) for row in arr.tolist()))
        raise InvalidPuzzleError(
            f"a Futoshiki array of strings must be row strings or one character per position, got {arr.shape}"
        )
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InvalidPuzzleError("a Futoshiki array of numbers must hold whole token ids 1-11")
    elif arr.dtype.kind not in "iu":
        raise InvalidPuzzleError(f"a Futoshiki array must hold integer token ids 1-11, got dtype {arr.dtype}")
    if arr.shape == (CELLS,):
        arr = arr.reshape(SIDE, SIDE)
    if arr.shape != (SIDE, SIDE):
        raise InvalidPuzzleError(
            f"a Futoshiki array must have shape ({SIDE}, {SIDE}) or ({CELLS},) (cells and the signs "
            f"between them), got {arr.shape}"
        )
    bad = np.argwhere((arr < 0) | (arr >= VOCAB_SIZE))
    if bad.size:
        y, x = (int(v) for v in bad[0])
        raise InvalidPuzzleError(
            f"{_position_name(y, x)} (index [{y}, {x}]) holds {arr[y, x].item()}, not a token id "
            f"(1 '-', 2 blank, 3-7 digits 1-5, 8 '<', 9 '>', 10 '^', 11 'v')"
        )
    return _check_tokens(arr.astype(np.int64), lambda y, x: f"index [{y}, {x}]")


def _leaves(seq: Any) -> list[Any]:
    """The non-list items of a nested list, in order (iteratively: no recursion limit to hit)."""
    out: list[Any] = []
    stack = [seq]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def _parse_sequence(seq: Sequence[Any]) -> np.ndarray:
    leaves = _leaves(seq)
    if leaves and all(isinstance(v, str) for v in leaves):
        # Row strings, or rows of one-character strings: either way the rows' text, one line each.
        rows = [v if isinstance(v, str) else "".join(_leaves(v)) for v in seq]
        return _parse_string(rows[0] if len(rows) == 1 else "\n".join(rows))
    if any(isinstance(v, (str, bytes, bool, np.bool_)) for v in leaves) or not all(
        isinstance(v, (int, float, np.integer, np.floating)) for v in leaves
    ):
        raise InvalidPuzzleError(
            "a Futoshiki list must hold token ids (integers 1-11) or characters, not a mix or other values"
        )
    try:
        arr = np.array(seq)
    except ValueError:
        raise InvalidPuzzleError(
            f"a Futoshiki list must be {SIDE} rows of {SIDE} token ids (or {CELLS} in one list); it is ragged"
        ) from None
    return _parse_array(arr)


def to_grid(puzzle: object) -> np.ndarray:
    """Like :func:`parse` but without the check that the givens agree with each other and the signs.

    Solvers and formatters need this: a contradictory puzzle is still a grid one wants to print or count
    the solutions of (zero).
    """
    if isinstance(puzzle, str):
        return _parse_string(puzzle)
    if isinstance(puzzle, np.ndarray):
        return _parse_array(puzzle)
    if isinstance(puzzle, (list, tuple)):
        return _parse_sequence(puzzle)
    raise InvalidPuzzleError(
        f"cannot read a Futoshiki from {type(puzzle).__name__}; pass an {CELLS}-character string, "
        f"{SIDE} lines of text, or a ({SIDE}, {SIDE}) array of token ids"
    )


def _digits(grid: np.ndarray) -> np.ndarray:
    """(..., 9, 9) tokens -> (..., 5, 5) digits, 0 where a cell holds no digit."""
    cells = grid[..., 0::2, 0::2].astype(np.int64) - DIGIT_OFFSET
    return np.where((cells >= 1) & (cells <= SIZE), cells, 0)


def conflicts(grid: np.ndarray) -> list[str]:
    """Every repeated given and every sign its two given cells break, one readable line each.

    Returned rather than raised so a UI can show all of them; :func:`parse` raises with them.
    """
    g = np.asarray(grid)
    d = _digits(g).tolist()
    found = []
    for k in range(SIZE):
        for name, cells in (
            (f"row {k + 1}", [(k, j) for j in range(SIZE)]),
            (f"column {k + 1}", [(j, k) for j in range(SIZE)]),
        ):
            seen: dict[int, list[str]] = {}
            for r, c in cells:
                if d[r][c]:
                    seen.setdefault(d[r][c], []).append(cell_name(r, c))
            for digit, where in sorted(seen.items()):
                if len(where) > 1:
                    times = "twice" if len(where) == 2 else f"{len(where)} times"
                    found.append(f"digit {digit} appears {times} in {name}: {', '.join(where)}")
    for y, x in np.argwhere(np.isin(g, [LT, GT, UP, DOWN]) & (KIND > 0)).tolist():
        a = (y // 2, x // 2)
        b = (a[0], a[1] + 1) if KIND[y, x] == 1 else (a[0] + 1, a[1])
        da, db = d[a[0]][a[1]], d[b[0]][b[1]]
        if da and db and not (da < db if g[y, x] in (LT, UP) else da > db):
            found.append(
                f"{cell_name(*a)} = {da} and {cell_name(*b)} = {db} "
                f"break the sign {CHARS[g[y, x]]!r} between them"
            )
    return found


def parse(puzzle: object) -> np.ndarray:
    """Read a puzzle in any accepted form into the canonical (9, 9) int8 grid of token ids.

    Accepted: an 81-character string (row after row of the 9x9 text grid), the same over 9 lines (a
    space also means no sign, short lines are padded; :func:`format_grid`'s spaced output reads back),
    a (9, 9) or (81,) array or nested list of token ids, or a list of row strings. Anything else, a
    character in the wrong kind of position, a repeated given, or two givens that break the sign
    between them raises :class:`InvalidPuzzleError` saying what and where.
    """
    grid = to_grid(puzzle)
    found = conflicts(grid)
    if found:
        more = f"; and {len(found) - 3} more" if len(found) > 3 else ""
        raise InvalidPuzzleError("the puzzle contradicts itself: " + "; ".join(found[:3]) + more)
    return grid


# --------------------------------------------------------------------------------------------------
# tokens


def encode(parsed: np.ndarray) -> np.ndarray:
    """(B, 9, 9) or (9, 9) canonical grids -> (B, 81) int64 tokens, the model's input layout."""
    g = np.asarray(parsed)
    if g.ndim == 2:
        g = g[None]
    if g.ndim != 3 or g.shape[1:] != (SIDE, SIDE):
        raise InvalidPuzzleError(f"encode expects grids of shape (B, 9, 9) or (9, 9), got {np.shape(parsed)}")
    if g.dtype.kind not in "iu" or (g.size and (g.min() < 1 or g.max() >= VOCAB_SIZE)):
        raise InvalidPuzzleError("encode expects integer token ids 1-11 (parse's output)")
    return g.reshape(len(g), CELLS).astype(np.int64)


def decode(logits: np.ndarray) -> np.ndarray:
    """(B, 81, 12) logits -> (B, 9, 9) int8 answers.

    Each kind of position chooses among its own tokens only: a cell among the five digits (so an answer
    is always filled in), a sign position among no-sign and the four signs, a corner is always no-sign.
    """
    x = np.asarray(logits)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (CELLS, VOCAB_SIZE):
        raise ValueError(f"decode expects logits of shape (B, {CELLS}, {VOCAB_SIZE}), got {np.shape(logits)}")
    x = x.reshape(len(x), SIDE, SIDE, VOCAB_SIZE)
    digits = _DIGITS[x[..., _DIGITS].argmax(axis=-1)]
    signs = _RELATIONS[x[..., _RELATIONS].argmax(axis=-1)]
    out = np.where(_IS_CELL, digits, np.where((KIND == 1) | (KIND == 2), signs, NONE))
    return out.astype(np.int8)


# --------------------------------------------------------------------------------------------------
# checking


def _holds(small: np.ndarray, large: np.ndarray, sign: np.ndarray, less: int, more: int) -> np.ndarray:
    """(B,) True where every sign between these cell pairs holds (no-sign always does)."""
    ok = np.where(sign == less, small < large, np.where(sign == more, small > large, sign == NONE))
    return np.asarray(ok.all(axis=(1, 2)))


def are_solutions(answers: np.ndarray, puzzles: np.ndarray) -> np.ndarray:
    """(B,) bool: answer i fills every cell with a digit, keeps puzzle i's givens, signs and corners,
    holds each digit once per row and column, and keeps every sign.

    Vectorised because it scores every evaluation batch; junk is simply not a solution, never an error.
    """
    a = np.asarray(answers)
    p = np.asarray(puzzles)
    if a.ndim == 2:
        a = a[None]
    if p.ndim == 2:
        p = p[None]
    if a.shape[1:] != (SIDE, SIDE) or p.shape[1:] != (SIDE, SIDE) or len(a) != len(p):
        raise ValueError(f"are_solutions expects two (B, 9, 9) arrays, got {a.shape} and {p.shape}")
    a = a.astype(np.int64)
    p = p.astype(np.int64)
    cells_a, cells_p = a[:, 0::2, 0::2], p[:, 0::2, 0::2]
    filled = ((cells_a > DIGIT_OFFSET) & (cells_a <= SIZE + DIGIT_OFFSET)).all(axis=(1, 2))
    keeps = ((cells_p == BLANK) | (cells_p == cells_a)).all(axis=(1, 2))
    copied = ((a == p) | _IS_CELL).all(axis=(1, 2))
    bits = np.left_shift(1, np.clip(cells_a - DIGIT_OFFSET, 0, SIZE))  # digit d -> bit d; junk -> bit 0
    full = (1 << (SIZE + 1)) - 2  # bits 1..5
    rows = np.bitwise_or.reduce(bits, axis=2) == full
    cols = np.bitwise_or.reduce(bits, axis=1) == full
    latin = rows.all(axis=1) & cols.all(axis=1)
    across = _holds(cells_a[:, :, :-1], cells_a[:, :, 1:], a[:, 0::2, 1::2], LT, GT)
    down = _holds(cells_a[:, :-1, :], cells_a[:, 1:, :], a[:, 1::2, 0::2], UP, DOWN)
    corners = (a[:, 1::2, 1::2] == NONE).all(axis=(1, 2))
    return filled & keeps & copied & latin & across & down & corners


# --------------------------------------------------------------------------------------------------
# text


def _tokens_for_text(grid: object) -> np.ndarray:
    """Any grid as (9, 9) tokens for printing: an answer with a sign in the wrong place still prints."""
    if isinstance(grid, np.ndarray) and grid.dtype.kind in "iu" and grid.shape in ((SIDE, SIDE), (CELLS,)):
        if grid.size and (grid.min() < 0 or grid.max() >= VOCAB_SIZE):
            raise InvalidPuzzleError(f"a Futoshiki grid holds token ids 0-{VOCAB_SIZE - 1}")
        return grid.reshape(SIDE, SIDE)
    return to_grid(grid)


def to_string(grid: object) -> str:
    """The 81-character one-line form: what data files and command lines exchange."""
    return "".join(CHARS[t] for t in _tokens_for_text(grid).reshape(CELLS).tolist())


def format_grid(grid: object) -> str:
    """Nine lines for people, a space between positions and no-sign left blank; :func:`parse` reads it back::

    1 < 2   3   4   5
    ^               v
    2   3 > .   5   4
    """
    text = to_string(grid)
    lines = []
    for y in range(SIDE):
        row = text[y * SIDE : (y + 1) * SIDE].replace("-", " ")
        lines.append(" ".join(row).rstrip())
    return "\n".join(lines)


def split_text(text: str) -> list[str]:
    """Text holding puzzles -> one string per puzzle.

    A line longer than any line of a grid is a one-line puzzle by itself (a wrong length is reported when
    it is parsed). Other lines gather into blocks of 9, the multi-line form; a block ends after its 9th
    line or at an empty line where a row of cells should come (an empty line where a row of signs comes
    is that row, with no signs). Lines starting with ``#`` are comments.
    """
    out: list[str] = []
    block: list[str] = []

    def flush() -> None:
        if block:
            out.append("\n".join(block))
            block.clear()

    for line in text.splitlines():
        s = line.strip()
        if s.startswith("#"):
            continue
        if len(s) > _MAX_LINE:
            flush()
            out.append(s)
        elif block and not s and len(block) % 2 == 0:
            flush()
        elif block or s:
            block.append(line.rstrip())
            if len(block) == SIDE:
                flush()
    flush()
    return out
