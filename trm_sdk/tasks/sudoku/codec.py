"""The Sudoku task's codec: turn what users paste into a grid, grids into tokens, and logits back into grids.

Everything a person can type goes through :func:`parse`, so this is the one place that decides what a
puzzle may look like and the one place that explains, cell by cell, why an input was refused. The
token layout matches the TRM reference data (token = digit + 1, blank = 1, pad = 0) so checkpoints
trained on the reference ``.npy`` files decode correctly here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from trm_sdk.errors import InvalidPuzzleError

__all__ = [
    "BLANK",
    "CELLS",
    "DIGIT_OFFSET",
    "PAD",
    "SIZE",
    "VOCAB_SIZE",
    "are_solutions",
    "cell_name",
    "conflicts",
    "decode",
    "encode",
    "format_grid",
    "have_conflicts",
    "is_solution",
    "parse",
    "to_grid",
    "to_string",
]

SIZE = 9
CELLS = 81
VOCAB_SIZE = 11
PAD = 0
BLANK = 1
DIGIT_OFFSET = 1  # token = digit + DIGIT_OFFSET, so digits 1..9 are tokens 2..10

_MAX_LISTED = 5  # conflicts named in one error message; more would bury the first one
_SEPARATORS = "|+-"  # box rules in pretty-printed grids; only ignored in multi-line input
_FULL_MASK = 0b1111111110  # bits 1..9: a row, column or box holding each digit once


def cell_name(row: int, col: int) -> str:
    """Name a cell the way every message in the SDK does: 1-based ``rRcC``, e.g. ``r3c5``."""
    return f"r{row + 1}c{col + 1}"


def _index_name(index: int) -> str:
    return cell_name(index // SIZE, index % SIZE)


# --------------------------------------------------------------------------------------------------
# parsing


def _parse_string(text: str) -> np.ndarray:
    # A pasted grid spans several lines and may carry box rules; a one-line string never does, so a
    # stray '-' or '|' there is more likely a typo than decoration and is reported, not skipped.
    multiline = "\n" in text or "\r" in text
    cleaned = "".join(ch for ch in text if not ch.isspace() and not (multiline and ch in _SEPARATORS))
    if len(cleaned) != CELLS:
        hint = " (line breaks, spaces and the box rules | + - are ignored)" if multiline else ""
        raise InvalidPuzzleError(
            f"a Sudoku string needs {CELLS} cells, found {len(cleaned)} characters{hint}; "
            "use 1-9 for givens and '.' or '0' for blanks"
        )
    # "surrogatepass": a lone surrogate (json.loads makes them from web input) is a bad character, not a crash
    codes = np.frombuffer(cleaned.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    bad = np.flatnonzero(~(((codes >= ord("0")) & (codes <= ord("9"))) | (codes == ord("."))))
    if bad.size:
        i = int(bad[0])
        extra = f" ({bad.size - 1} more bad characters after it)" if bad.size > 1 else ""
        raise InvalidPuzzleError(
            f"bad character {cleaned[i]!r} at position {i + 1} ({_index_name(i)}){extra}; "
            "use 1-9 for givens and '.' or '0' for blanks"
        )
    digits = np.where(codes == ord("."), 0, codes.astype(np.int64) - ord("0"))
    return digits.astype(np.int8).reshape(SIZE, SIZE)


def _cell_value(value: object, index: int) -> int:
    """One cell of a list-style puzzle as an int, or a message naming the cell and what it held."""
    where = _index_name(index)
    if isinstance(value, (bool, np.bool_)):
        raise InvalidPuzzleError(f"cell {where} holds {bool(value)} (a bool); expected an integer 0-9")
    if isinstance(value, (int, np.integer)):
        number = int(value)
    elif isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            raise InvalidPuzzleError(f"cell {where} holds {float(value)}; expected a whole number 0-9")
        number = int(value)
    else:
        raise InvalidPuzzleError(
            f"cell {where} holds {value!r} (type {type(value).__name__}); expected an integer 0-9"
        )
    if not 0 <= number <= SIZE:
        raise InvalidPuzzleError(f"cell {where} holds {number}; expected 0 (blank) or a digit 1-9")
    return number


def _describe_shape(seq: Sequence[object]) -> str:
    for row in seq:
        if isinstance(row, np.ndarray) and row.ndim != 1:
            return f"{len(seq)} rows, one of them an array of shape {row.shape}"
    lengths = [len(row) if isinstance(row, (list, tuple, np.ndarray)) else None for row in seq]
    if all(n is None for n in lengths):
        return f"a flat sequence of length {len(seq)}"
    if all(n is not None for n in lengths) and len(set(lengths)) == 1:
        return f"a nested sequence of shape ({len(seq)}, {lengths[0]})"
    shown = ", ".join("scalar" if n is None else str(n) for n in lengths[:12])
    return f"a ragged sequence of {len(seq)} items with lengths [{shown}{', ...' if len(seq) > 12 else ''}]"


def _parse_sequence(seq: Sequence[object]) -> np.ndarray:
    # Copied once into plain lists first: a list subclass may report a length its items do not have,
    # and every count below must be the count of what is really there.
    items: list[Any] = list(seq)
    wrong_shape = "a Sudoku grid needs 9 rows of 9 cells (or 81 cells in one list), got "
    flat: list[object]
    if len(items) == CELLS:
        flat = items  # a nested item in here is reported as a bad cell value
    elif len(items) == SIZE and all(isinstance(row, (list, tuple, np.ndarray)) for row in items):
        rows: list[Any] = [
            (row.tolist() if row.ndim == 1 else row) if isinstance(row, np.ndarray) else list(row)
            for row in items
        ]
        if any(isinstance(row, np.ndarray) or len(row) != SIZE for row in rows):
            raise InvalidPuzzleError(wrong_shape + _describe_shape(items))
        flat = [v for row in rows for v in row]
    else:
        raise InvalidPuzzleError(wrong_shape + _describe_shape(items))
    values = [_cell_value(v, i) for i, v in enumerate(flat)]
    return np.array(values, dtype=np.int8).reshape(SIZE, SIZE)


def _parse_array(arr: np.ndarray) -> np.ndarray:
    # A subclass such as np.matrix keeps two axes through every reshape, so it is read as a plain array.
    arr = np.asarray(arr)
    if arr.dtype == object:
        return _parse_sequence(arr.tolist() if arr.ndim else [arr.item()])
    if arr.shape not in ((SIZE, SIZE), (CELLS,)):
        raise InvalidPuzzleError(f"a Sudoku array must have shape (9, 9) or (81,), got shape {arr.shape}")
    flat = arr.reshape(CELLS)
    if arr.dtype.kind == "b":
        raise InvalidPuzzleError("a Sudoku array must hold integers 0-9, got a bool array")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(flat) | (flat != np.round(flat)))
        if bad.size:
            i = int(bad[0])
            value = flat[i].item()
            raise InvalidPuzzleError(f"cell {_index_name(i)} holds {value}; expected a whole number 0-9")
    elif arr.dtype.kind not in "iu":
        raise InvalidPuzzleError(f"a Sudoku array must hold integers 0-9, got dtype {arr.dtype}")
    bad = np.flatnonzero((flat < 0) | (flat > SIZE))
    if bad.size:
        i = int(bad[0])
        raise InvalidPuzzleError(
            f"cell {_index_name(i)} holds {flat[i].item()!r}; expected 0 (blank) or a digit 1-9"
        )
    return flat.astype(np.int8).reshape(SIZE, SIZE)


def to_grid(puzzle: object) -> np.ndarray:
    """Like :func:`parse` but without the duplicate-givens check.

    Solvers and formatters need this: a model's wrong answer or a contradictory puzzle is still a
    grid one wants to print or count solutions of (zero).
    """
    if isinstance(puzzle, str):
        return _parse_string(puzzle)
    if isinstance(puzzle, np.ndarray):
        return _parse_array(puzzle)
    if isinstance(puzzle, (list, tuple)):
        return _parse_sequence(puzzle)
    raise InvalidPuzzleError(
        f"cannot read a Sudoku from {type(puzzle).__name__}; pass an 81-character string, "
        "a 9x9 list or array, or a flat list of 81 numbers (0 = blank)"
    )


def _units() -> list[tuple[str, tuple[int, ...]]]:
    units = []
    for k in range(SIZE):
        units.append((f"row {k + 1}", tuple(k * SIZE + c for c in range(SIZE))))
    for k in range(SIZE):
        units.append((f"column {k + 1}", tuple(r * SIZE + k for r in range(SIZE))))
    for k in range(SIZE):
        r0, c0 = 3 * (k // 3), 3 * (k % 3)
        name = f"box {k + 1} (rows {r0 + 1}-{r0 + 3}, columns {c0 + 1}-{c0 + 3})"
        units.append((name, tuple((r0 + i) * SIZE + c0 + j for i in range(3) for j in range(3))))
    return units


UNITS = _units()  # (name, 81-cell indices) for the 27 rows, columns and boxes


def _join_names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def conflicts(grid: np.ndarray) -> list[str]:
    """Every digit that appears more than once in a row, column or box, one readable line each.

    Returned rather than raised so a UI can show all of them at once; :func:`parse` raises with them.
    """
    flat = np.asarray(grid).reshape(CELLS).tolist()
    found = []
    for name, cells in UNITS:
        seen: dict[int, list[int]] = {}
        for i in cells:
            if flat[i]:
                seen.setdefault(flat[i], []).append(i)
        for digit in sorted(seen):
            where = seen[digit]
            if len(where) > 1:
                times = "twice" if len(where) == 2 else f"{len(where)} times"
                found.append(
                    f"digit {digit} appears {times} in {name}: {_join_names([_index_name(i) for i in where])}"
                )
    return found


def parse(puzzle: object) -> np.ndarray:
    """Read a puzzle in any accepted form into a (9, 9) int8 grid, 0 = blank.

    Accepted: an 81-character string (``1``-``9``, ``.`` or ``0`` for blanks, whitespace ignored; in
    multi-line text the box rules ``|``, ``+`` and ``-`` are ignored too, so :func:`format_grid`
    output reads back), a 9x9 nested list/tuple/array, or a flat 81-element one. Numbers may be
    integer-valued floats. Anything else, and any puzzle whose givens already clash, raises
    :class:`InvalidPuzzleError` naming the cell(s) involved.
    """
    grid = to_grid(puzzle)
    found = conflicts(grid)
    if found:
        more = f"; and {len(found) - _MAX_LISTED} more" if len(found) > _MAX_LISTED else ""
        raise InvalidPuzzleError("the givens contradict each other: " + "; ".join(found[:_MAX_LISTED]) + more)
    return grid


# --------------------------------------------------------------------------------------------------
# tokens


def encode(grids: np.ndarray) -> np.ndarray:
    """(B, 9, 9) or (9, 9) digit grids -> (B, 81) int64 tokens, the model's input layout."""
    g = np.asarray(grids)
    if g.ndim == 2:
        g = g[None]
    if g.ndim != 3 or g.shape[1:] != (SIZE, SIZE):
        raise InvalidPuzzleError(f"encode expects grids of shape (B, 9, 9) or (9, 9), got {np.shape(grids)}")
    if g.dtype.kind not in "iu":
        raise InvalidPuzzleError(f"encode expects integer grids, got dtype {g.dtype}")
    if g.size and (g.min() < 0 or g.max() > SIZE):
        raise InvalidPuzzleError("encode expects digits 0 (blank) to 9")
    flat = g.reshape(g.shape[0], CELLS).astype(np.int64)
    return np.where(flat == 0, BLANK, flat + DIGIT_OFFSET)


def decode(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(B, 81, VOCAB_SIZE) logits -> (digits (B, 9, 9) int8, probs (B, 9, 9, 9) float32).

    Only the nine digit tokens compete: the model can never "answer" blank or pad, so the prediction
    is always a filled grid and ``probs[..., d - 1]`` is the probability of digit d.
    """
    x = np.asarray(logits)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (CELLS, VOCAB_SIZE):
        raise ValueError(f"decode expects logits of shape (B, {CELLS}, {VOCAB_SIZE}), got {np.shape(logits)}")
    digit_logits = x[..., 1 + DIGIT_OFFSET : SIZE + 1 + DIGIT_OFFSET].astype(np.float32)
    shifted = digit_logits - digit_logits.max(axis=-1, keepdims=True)  # exp never overflows
    e = np.exp(shifted)
    probs = e / e.sum(axis=-1, keepdims=True)
    digits = (digit_logits.argmax(axis=-1) + 1).astype(np.int8)
    b = x.shape[0]
    return digits.reshape(b, SIZE, SIZE), probs.reshape(b, SIZE, SIZE, SIZE)


# --------------------------------------------------------------------------------------------------
# checking


def _or9(bits: np.ndarray, axis: int) -> np.ndarray:
    # Nine in-place ORs over strided views beat ``np.bitwise_or.reduce`` on short axes by about 2x.
    x = np.moveaxis(bits, axis, 0)
    out = x[0].copy()
    for k in range(1, SIZE):
        out |= x[k]
    return out


def _unit_ok(g: np.ndarray) -> np.ndarray:
    """(B, 9, 9) digits 1..9 -> (B,) True where every row, column and box holds each digit once."""
    bits = np.left_shift(np.uint16(1), g.astype(np.uint16))
    boxes = bits.reshape(-1, 3, 3, 3, 3).transpose(0, 1, 3, 2, 4).reshape(-1, SIZE, SIZE)
    ok = (_or9(bits, 2) == _FULL_MASK).all(axis=1)
    ok &= (_or9(bits, 1) == _FULL_MASK).all(axis=1)
    ok &= (_or9(boxes, 2) == _FULL_MASK).all(axis=1)
    return ok


def have_conflicts(grids: np.ndarray) -> np.ndarray:
    """(B,) bool, vectorised :func:`conflicts`: True where two givens repeat a digit in a unit.

    A sum of distinct powers of two equals their OR and any repeat makes the sum carry, so one sum
    and one OR per unit find every repeat; data loaders check whole files this way.
    """
    g = np.asarray(grids)
    if g.ndim == 2:
        g = g[None]
    bits = np.where(g > 0, np.left_shift(np.uint16(1), g.astype(np.uint16)), np.uint16(0))
    boxes = bits.reshape(-1, 3, 3, 3, 3).transpose(0, 1, 3, 2, 4).reshape(-1, SIZE, SIZE)
    bad = np.zeros(len(g), dtype=bool)
    for units, axis in ((bits, 2), (bits, 1), (boxes, 2)):
        bad |= (units.sum(axis=axis, dtype=np.uint16) != _or9(units, axis)).any(axis=1)
    return bad


def are_solutions(grids: np.ndarray, puzzles: np.ndarray) -> np.ndarray:
    """(B,) bool: grid i is a complete valid Sudoku that keeps every given of puzzle i.

    Vectorised because it scores every evaluation batch; a grid with blanks or other junk is simply
    not a solution, never an error.
    """
    g = np.asarray(grids)
    p = np.asarray(puzzles)
    if g.ndim == 2:
        g = g[None]
    if p.ndim == 2:
        p = p[None]
    if g.shape[1:] != (SIZE, SIZE) or p.shape[1:] != (SIZE, SIZE) or len(g) != len(p):
        raise ValueError(f"are_solutions expects two (B, 9, 9) arrays, got {g.shape} and {p.shape}")
    in_range = ((g >= 1) & (g <= SIZE)).all(axis=(1, 2))
    keeps = ((p == 0) | (p == g)).all(axis=(1, 2))
    valid = _unit_ok(np.where((g >= 1) & (g <= SIZE), g, 0))
    return in_range & keeps & valid


def is_solution(grid: object, puzzle: object) -> bool:
    """True if ``grid`` is a complete valid Sudoku that agrees with every given of ``puzzle``."""
    try:
        g = to_grid(grid)
    except InvalidPuzzleError:
        return False
    return bool(are_solutions(g, to_grid(puzzle))[0])


# --------------------------------------------------------------------------------------------------
# text


def to_string(grid: object) -> str:
    """The 81-character one-line form, ``.`` for blanks: what the data files and CLIs exchange."""
    flat = to_grid(grid).reshape(CELLS)
    return "".join("." if v == 0 else str(v) for v in flat.tolist())


def format_grid(grid: object) -> str:
    """A 9-line grid with box rules, for people; :func:`parse` reads it back."""
    text = to_string(grid)
    lines = []
    for r in range(SIZE):
        if r and r % 3 == 0:
            lines.append("------+-------+------")
        row = text[r * SIZE : (r + 1) * SIZE]
        lines.append(" | ".join(" ".join(row[c : c + 3]) for c in range(0, SIZE, 3)))
    return "\n".join(lines)
