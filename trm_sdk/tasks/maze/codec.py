"""The Maze task's codec: read a maze, turn it into tokens, read the network's answer back, and check it.

A maze is a 30x30 grid of ``#`` (wall), space (open), one ``S`` (start) and one ``G`` (goal); an answer
is the same grid with the cells of a shortest S-to-G path marked ``o``, as in Maze-Hard. Smaller mazes
sit in the top-left corner of the frame and the rest is padding that the network sees as walls, so a
cell's (row, col) is the same in the user's maze and in the frame.

Cells are int8 codes that equal the Maze-Hard tokens (HRM's charset ``"# SGo"`` -> 1..5, 0 = pad), so
checkpoints trained on the reference data decode correctly here. The pad code never reaches the
network: :func:`encode` turns it into a wall.

Verification is the one thing the runtime promises, so it is strict: an answer counts only if it keeps
every wall, the start and the goal, marks nothing but open cells, and its marked cells form one
4-connected chain from S to G exactly as long as a breadth-first search says the shortest path is.
A goal that cannot be reached has no answer, and nothing is guessed for it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

import numpy as np

from trm_sdk.errors import InvalidPuzzleError

__all__ = [
    "CELLS",
    "CHARSET",
    "GOAL",
    "OPEN",
    "PAD",
    "PATH",
    "SIZE",
    "START",
    "VOCAB_SIZE",
    "WALL",
    "are_solutions",
    "decode",
    "distances",
    "encode",
    "format_grid",
    "mark_path",
    "maze_size",
    "parse",
    "read_path",
    "shortest_path",
    "split_text",
    "to_cells",
    "to_rows",
    "to_string",
]

SIZE = 30
CELLS = SIZE * SIZE
PAD, WALL, OPEN, START, GOAL, PATH = 0, 1, 2, 3, 4, 5
CHARSET = "# SGo"  # character of code k is CHARSET[k - 1]; the reference (HRM) order
VOCAB_SIZE = 6  # pad + the five characters

_LUT = np.full(256, -1, dtype=np.int8)  # byte -> code, -1 = not a maze character
for _code, _char in enumerate(CHARSET, start=1):
    _LUT[ord(_char)] = _code
_CHARS = np.frombuffer(("#" + CHARSET).encode("ascii"), dtype=np.uint8)  # code -> byte; pad prints as wall
_HOW = "use '#' for walls, spaces for open cells, one 'S' (start) and one 'G' (goal)"


def _cell(index: int, width: int = SIZE) -> str:
    return f"row {index // width + 1}, column {index % width + 1}"


# --------------------------------------------------------------------------------------------------
# reading


def _from_lines(lines: list[str], allow_path: bool) -> np.ndarray:
    h = len(lines)
    if h == 0:
        raise InvalidPuzzleError(f"an empty maze; {_HOW}")
    if h > SIZE:
        raise InvalidPuzzleError(f"a maze has at most {SIZE} rows, got {h}")
    w = len(lines[0])
    for k, line in enumerate(lines):
        if len(line) != len(lines[0]):
            raise InvalidPuzzleError(
                f"maze row {k + 1} has {len(line)} characters but row 1 has {w}; every row needs the same "
                "width (an editor that strips trailing spaces shortens rows: keep them)"
            )
    if not 1 <= w <= SIZE:
        raise InvalidPuzzleError(f"a maze has 1 to {SIZE} columns, got {w}")
    text = "".join(lines)
    raw = text.encode("utf-32-le", "surrogatepass")  # a lone surrogate is reported as a bad character
    codes = np.frombuffer(raw, dtype="<u4")
    ok = codes < 256
    cells = np.where(ok, _LUT[np.minimum(codes, 255)], -1)
    allowed = cells >= 1 if allow_path else (cells >= 1) & (cells != PATH)
    bad = np.flatnonzero(~allowed)
    if bad.size:
        i = int(bad[0])
        extra = f" ({bad.size - 1} more bad characters after it)" if bad.size > 1 else ""
        why = (
            "'o' marks the path in an answer, a maze to solve has none"
            if text[i] == "o"
            else f"unknown character {text[i]!r}"
        )
        raise InvalidPuzzleError(f"{why} at {_cell(i, w)}{extra}; {_HOW}")
    out = np.zeros((SIZE, SIZE), dtype=np.int8)  # pad everywhere outside the user's maze
    out[:h, :w] = cells.reshape(h, w)
    return out


def split_text(text: str) -> list[str]:
    """Text holding mazes -> one string per maze: lines of 900 characters are one maze each, anything
    else is one maze of several lines. Only line ends are removed: spaces are open cells, and a line
    starting with ``#`` is a row of walls, not a comment."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    if lines and all(len(ln) == CELLS for ln in lines):
        return lines
    return ["\n".join(lines)] if lines else []


def _from_array(arr: np.ndarray, allow_path: bool) -> np.ndarray:
    arr = np.asarray(arr)  # a subclass (np.matrix) keeps two axes through reshapes; read it plainly
    if arr.dtype.kind == "S":
        # Bytes are read one character per byte (latin-1 maps every byte), so a byte that is not a maze
        # character is reported as one, and b"#S" is the row "#S", not the text "b'#S'".
        arr = np.asarray(np.char.decode(arr, "latin-1"), dtype=str)
    if arr.dtype.kind == "U":
        if arr.ndim == 2:  # a grid of characters (a list of character lists): one row string per row
            cells = arr.astype(str)
            if any(len(v) != 1 for v in cells.reshape(-1).tolist()):
                raise InvalidPuzzleError(f"a maze grid of strings must hold one character per cell; {_HOW}")
            return _from_lines(["".join(row) for row in cells.tolist()], allow_path)
        if arr.ndim != 1:
            raise InvalidPuzzleError(
                f"a maze array of strings must be 1-D (rows) or 2-D (cells), got {arr.shape}"
            )
        return _from_sequence([str(v) for v in arr.tolist()], allow_path)
    if arr.dtype.kind not in "iu":
        raise InvalidPuzzleError(
            f"a maze array must hold integer cell codes (1 '#', 2 ' ', 3 'S', 4 'G') or strings, "
            f"got dtype {arr.dtype}"
        )
    if arr.shape == (CELLS,):
        arr = arr.reshape(SIZE, SIZE)
    if arr.ndim != 2 or not (1 <= arr.shape[0] <= SIZE and 1 <= arr.shape[1] <= SIZE):
        raise InvalidPuzzleError(
            f"a maze array must have shape (30, 30), (900,) or smaller 2-D, got {arr.shape}"
        )
    top = PATH if allow_path else GOAL
    bad = np.argwhere((arr < PAD) | (arr > top))
    if bad.size:
        r, c = (int(v) for v in bad[0])
        raise InvalidPuzzleError(
            f"cell row {r + 1}, column {c + 1} holds {arr[r, c].item()}; expected a code "
            f"0 (pad) to {top} ({', '.join(f'{k} {ch!r}' for k, ch in enumerate(CHARSET[:top], start=1))})"
        )
    out = np.zeros((SIZE, SIZE), dtype=np.int8)
    out[: arr.shape[0], : arr.shape[1]] = arr
    return out


def _from_sequence(seq: Sequence[Any], allow_path: bool) -> np.ndarray:
    if all(isinstance(v, str) for v in seq):
        if len(seq) == 1:
            return _from_string(seq[0], allow_path)
        return _from_lines(list(seq), allow_path)
    try:
        arr = np.asarray(seq)
    except ValueError as exc:
        raise InvalidPuzzleError(
            f"a maze must be a string, a list of row strings or a grid of codes: {exc}"
        ) from None
    if arr.dtype == object:
        raise InvalidPuzzleError("a maze list must hold row strings or integer cell codes, not a mix")
    return _from_array(arr, allow_path)


def _from_string(text: str, allow_path: bool) -> np.ndarray:
    if "\n" in text or "\r" in text:
        parts = split_text(text)
        if len(parts) != 1:
            raise InvalidPuzzleError(f"the text holds {len(parts)} mazes of {CELLS} characters; pass one")
        return _from_lines(parts[0].split("\n"), allow_path)
    if len(text) == CELLS:
        return _from_lines([text[r * SIZE : (r + 1) * SIZE] for r in range(SIZE)], allow_path)
    raise InvalidPuzzleError(
        f"a one-line maze needs {CELLS} characters (30 rows of 30), found {len(text)}; "
        "pass smaller mazes as several lines or a list of row strings"
    )


def to_cells(maze: object, *, allow_path: bool = True) -> np.ndarray:
    """Any accepted form -> (30, 30) int8 codes, pad 0 outside a smaller maze; no S/G count check.

    Accepted: a 900-character string, text of up to 30 equal-width lines, a list of row strings, or an
    integer array of codes. With ``allow_path`` (the default) ``o`` cells are read too, so answers can
    be read back; :func:`parse` is the strict reader for mazes to solve.
    """
    if isinstance(maze, str):
        return _from_string(maze, allow_path)
    if isinstance(maze, np.ndarray):
        return _from_array(maze, allow_path)
    if isinstance(maze, (list, tuple)):
        return _from_sequence(maze, allow_path)
    raise InvalidPuzzleError(
        f"cannot read a maze from {type(maze).__name__}; pass a 900-character string, 30 strings of 30 "
        f"characters (or a smaller rectangle), or a (30, 30) array of codes; {_HOW}"
    )


def parse(maze: object) -> np.ndarray:
    """Read a maze to solve into (30, 30) int8 codes; raises InvalidPuzzleError saying what and where.

    Besides the characters and the shape, a maze needs exactly one ``S`` and one ``G``.
    """
    cells = to_cells(maze, allow_path=False)
    for code, name in ((START, "start 'S'"), (GOAL, "goal 'G'")):
        where = np.argwhere(cells == code)
        if len(where) == 0:
            raise InvalidPuzzleError(f"the maze has no {name}; {_HOW}")
        if len(where) > 1:
            places = " and ".join(f"row {r + 1}, column {c + 1}" for r, c in where[:2].tolist())
            more = f" (and {len(where) - 2} more)" if len(where) > 2 else ""
            raise InvalidPuzzleError(f"the maze has {len(where)} of {name}, at {places}{more}; it needs one")
    return cells


def maze_size(cells: np.ndarray) -> tuple[int, int]:
    """(rows, cols) of the user's maze inside the frame: everything up to the last non-pad row/column."""
    used = np.asarray(cells) != PAD
    rows, cols = np.flatnonzero(used.any(1)), np.flatnonzero(used.any(0))
    return (int(rows[-1]) + 1 if rows.size else 0, int(cols[-1]) + 1 if cols.size else 0)


# --------------------------------------------------------------------------------------------------
# tokens


def encode(cells: np.ndarray) -> np.ndarray:
    """(B, 30, 30) or (30, 30) codes -> (B, 900) int64 tokens; padding becomes wall, as in training.
    A smaller square frame (B, k, k) gives (B, k * k) tokens."""
    g = np.asarray(cells)
    if g.ndim == 2:
        g = g[None]
    if g.ndim != 3 or g.shape[1] != g.shape[2] or g.shape[1] > SIZE or g.dtype.kind not in "iu":
        raise InvalidPuzzleError(
            f"encode expects integer codes of shape (B, 30, 30), got {g.dtype} {g.shape}"
        )
    if g.size and (g.min() < PAD or g.max() > PATH):
        raise InvalidPuzzleError("encode expects codes 0 (pad) to 5")
    # A training frame may be a smaller square (the top-left corner that holds a small maze): a conv
    # network runs on any square, and a small frame costs a fraction of the full one.
    flat = g.reshape(len(g), -1).astype(np.int64)
    return np.where(flat == PAD, WALL, flat)


def decode(logits: np.ndarray) -> np.ndarray:
    """(B, 900, 6) logits -> (B, 30, 30) int8 codes 1..5: the five characters compete, never pad."""
    x = np.asarray(logits)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[1:] != (CELLS, VOCAB_SIZE):
        raise ValueError(f"decode expects logits of shape (B, {CELLS}, {VOCAB_SIZE}), got {np.shape(logits)}")
    codes = x[..., WALL:].argmax(-1) + WALL
    return codes.astype(np.int8).reshape(len(x), SIZE, SIZE)


# --------------------------------------------------------------------------------------------------
# paths


def _passable(cells: np.ndarray) -> np.ndarray:
    c = np.asarray(cells).reshape(CELLS)
    return (c == OPEN) | (c == START) | (c == GOAL) | (c == PATH)


def _neighbours(i: int) -> list[int]:
    r, c = divmod(i, SIZE)
    out = []
    if r > 0:
        out.append(i - SIZE)
    if r < SIZE - 1:
        out.append(i + SIZE)
    if c > 0:
        out.append(i - 1)
    if c < SIZE - 1:
        out.append(i + 1)
    return out


_NEIGHBOURS = [_neighbours(i) for i in range(CELLS)]  # 4-connected, up/down/left/right order


def _bfs(passable: list[bool], source: int) -> tuple[list[int], list[int]]:
    dist = [-1] * CELLS
    parent = [-1] * CELLS
    dist[source] = 0
    queue = deque([source])
    while queue:
        u = queue.popleft()
        du = dist[u] + 1
        for v in _NEIGHBOURS[u]:
            if passable[v] and dist[v] < 0:
                dist[v] = du
                parent[v] = u
                queue.append(v)
    return dist, parent


def _find(cells: np.ndarray, code: int) -> int:
    where = np.flatnonzero(np.asarray(cells).reshape(CELLS) == code)
    if len(where) != 1:
        raise ValueError(f"expected exactly one cell of code {code}, found {len(where)}")
    return int(where[0])


def distances(cells: np.ndarray, source: tuple[int, int] | None = None) -> np.ndarray:
    """(30, 30) int32 moves from ``source`` (default: S) through open cells; -1 where unreachable."""
    src = _find(cells, START) if source is None else source[0] * SIZE + source[1]
    dist, _ = _bfs(_passable(cells).tolist(), src)
    return np.array(dist, dtype=np.int32).reshape(SIZE, SIZE)


def shortest_path(cells: np.ndarray) -> list[tuple[int, int]] | None:
    """One shortest S-to-G path (S and G included) by breadth-first search, or None if G is unreachable.

    Mazes have millions of equally short paths, so the one returned follows a rule a local network can
    learn: walk back from G, each time to the first neighbour one move nearer S, trying up, down, left,
    right. It depends only on the distances around each cell, not on the order a queue visited them,
    so it is what the maze network is trained to draw (see :mod:`trm_sdk.tasks.maze.training`).
    """
    s, g = _find(cells, START), _find(cells, GOAL)
    dist, _ = _bfs(_passable(cells).tolist(), s)
    if dist[g] < 0:
        return None
    path = [g]
    while path[-1] != s:
        u = path[-1]
        path.append(next(v for v in _NEIGHBOURS[u] if dist[v] == dist[u] - 1))
    return [divmod(i, SIZE) for i in reversed(path)]


def mark_path(cells: np.ndarray, path: Sequence[tuple[int, int]]) -> np.ndarray:
    """The answer grid: ``cells`` with the path's cells between S and G set to ``o``."""
    out = np.array(cells, dtype=np.int8, copy=True)
    for r, c in path[1:-1]:
        out[r, c] = PATH
    return out


def read_path(answer: np.ndarray, puzzle: np.ndarray) -> list[tuple[int, int]] | None:
    """The S-to-G route an answer marks, or None if it marks none cleanly.

    A clean route: the answer keeps every cell of the puzzle except open ones, marks ``o`` only on open
    cells, and its ``o`` cells form one chain from S to G that uses every one of them (at each cell of
    the walk exactly one unvisited marked neighbour, or G). Length is not checked here.
    """
    a, p = (np.asarray(g).reshape(CELLS) for g in (answer, puzzle))
    a, p = np.where(a == PAD, WALL, a), np.where(p == PAD, WALL, p)  # padding is wall, on either side
    if not (((a == p) | ((p == OPEN) & (a == PATH))).all()):
        return None
    marked = (a == PATH).tolist()
    s, g = _find(p, START), _find(p, GOAL)
    walk, seen, n_marked = [s], {s}, int((a == PATH).sum())
    while True:
        here = walk[-1]
        if g in _NEIGHBOURS[here] and len(walk) - 1 == n_marked:
            walk.append(g)
            return [divmod(i, SIZE) for i in walk]
        nxt = [v for v in _NEIGHBOURS[here] if marked[v] and v not in seen]
        if len(nxt) != 1:
            return None
        walk.append(nxt[0])
        seen.add(nxt[0])


def solved_path(answer: np.ndarray, puzzle: np.ndarray) -> list[tuple[int, int]] | None:
    """The answer's route if it is a shortest S-to-G path (the only kind that counts), else None."""
    path = read_path(answer, puzzle)
    if path is None:
        return None
    p = np.asarray(puzzle)
    dist, _ = _bfs(_passable(p).tolist(), _find(p, START))
    return path if dist[_find(p, GOAL)] == len(path) - 1 else None


def are_solutions(answers: np.ndarray, puzzles: np.ndarray) -> np.ndarray:
    """(B,) bool: answer i marks a shortest S-to-G path of puzzle i and nothing else.

    Any shortest path counts (Maze-Hard mazes have many), and an unreachable goal has no solution.
    """
    a, p = np.asarray(answers), np.asarray(puzzles)
    if a.ndim == 2:
        a = a[None]
    if p.ndim == 2:
        p = p[None]
    if a.shape[1:] != (SIZE, SIZE) or p.shape[1:] != (SIZE, SIZE) or len(a) != len(p):
        raise ValueError(f"are_solutions expects two (B, 30, 30) arrays, got {a.shape} and {p.shape}")
    return np.array([solved_path(a[i], p[i]) is not None for i in range(len(a))], dtype=bool)


# --------------------------------------------------------------------------------------------------
# text


def to_rows(cells: np.ndarray) -> np.ndarray:
    """(..., 30, 30) codes -> (..., 30) strings of 30 characters (pad shown as wall)."""
    c = np.asarray(cells)
    chars = _CHARS[np.clip(c, PAD, PATH).astype(np.intp)]  # (..., 30, 30) uint8
    rows = np.ascontiguousarray(chars).view(f"S{SIZE}")[..., 0]  # (..., 30) bytes
    return rows.astype(f"U{SIZE}")


def to_string(cells: np.ndarray) -> str:
    """The 900-character one-line form that Maze-Hard CSVs use."""
    return "".join(to_rows(cells).tolist())


def format_grid(grid: object, size: tuple[int, int] | None = None) -> str:
    """The maze as lines, cropped to ``size`` (rows, cols) if given; :func:`to_cells` reads it back."""
    rows = [str(r) for r in (to_rows(to_cells(grid)).tolist())]
    if size is not None:
        h, w = size
        rows = [r[:w] for r in rows[:h]]
    return "\n".join(rows)
