"""Odd inputs, fuzzed (issue 37): whatever a caller passes as a puzzle, the SDK answers with a parsed grid
or an ``InvalidPuzzleError``, never a raw Python error.

The inputs are drawn from a seeded generator (strings of every kind of character, bytes, nested lists of
mixed types, numpy arrays of every dtype and odd shapes, subclasses that lie about their length) and the
run is bounded in time, so it stays in the everyday suite. Every input that parses is also solved, since
a valid but unusual form (a 9x9 ``np.matrix``) once parsed and then broke the Solver.

Run as a script (``python tests/test_fuzz.py``) it prints how many inputs it tried and the typed share.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from trm_sdk import InvalidPuzzleError, Solver
from trm_sdk.tasks import get_task

# np.matrix is one of the forms tried; numpy warns that the class is discouraged, which is the point.
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")

SEED = 37
SECONDS = 3.0  # per task: a few thousand inputs
SOLVED_PER_TASK = 40  # of the inputs that parse, this many are also solved (each solve takes milliseconds)


class _LyingList(list):  # type: ignore[type-arg]
    """A list whose ``__len__`` claims a length its items do not have."""

    def __init__(self, items: list[Any], claimed: int) -> None:
        super().__init__(items)
        self.claimed = claimed

    def __len__(self) -> int:
        return self.claimed


_ALPHABETS = {
    "sudoku": "0123456789.",
    "maze": "# SGo",
}
_ODD_CHARS = "\x00\t\n\r |+-o\u00a0\u200b\udc80\U0001f600é\ufeffxX9.#"


@dataclass
class Stats:
    tried: int = 0
    parsed: int = 0
    typed: int = 0  # refused with InvalidPuzzleError
    raw: Counter[str] = field(default_factory=Counter)  # refused with anything else: the bugs
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def typed_share(self) -> float:
        refused = self.tried - self.parsed
        return self.typed / refused if refused else 1.0


def _text(rng: np.random.Generator, task: str, size: int) -> str:
    good = _ALPHABETS[task]
    chars = [good[rng.integers(len(good))] for _ in range(size)]
    for _ in range(int(rng.integers(0, 4))):  # a few odd characters among good ones
        if chars:
            chars[int(rng.integers(len(chars)))] = _ODD_CHARS[rng.integers(len(_ODD_CHARS))]
    text = "".join(chars)
    if task == "maze" and rng.random() < 0.5 and size >= 25:
        width = int(rng.integers(1, 31))
        text = "\n".join(text[i : i + width] for i in range(0, len(text), width))
    return text


def _scalar(rng: np.random.Generator) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: int(rng.integers(-3, 12)),
        lambda: float(rng.choice([0.0, 1.0, 2.5, np.nan, np.inf, -1.0, 9.0])),
        lambda: bool(rng.integers(2)),
        lambda: np.int64(rng.integers(0, 10)),
        lambda: np.float32(rng.integers(0, 10)),
        lambda: "#" if rng.random() < 0.5 else "5",
        lambda: b"#",
        lambda: None,
        lambda: complex(1, 1),
        lambda: 10**30,
        lambda: [1, 2],
        lambda: {"a": 1},
        lambda: object(),
    ]
    return choices[int(rng.integers(len(choices)))]()


def _array(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    kind = int(rng.integers(9))
    if kind == 0:
        return rng.integers(0, 10, size=shape).astype(rng.choice(["int8", "uint8", "int64", "uint64"]))
    if kind == 1:
        return rng.choice([0.0, 1.0, 4.0, 0.5, np.nan, np.inf], size=shape)
    if kind == 2:
        return rng.integers(0, 2, size=shape).astype(bool)
    if kind == 3:
        return np.array(rng.choice(list("# SGo.5\xff"), size=shape))
    if kind == 4:
        return np.array(rng.choice([b"#", b" ", b"S", b"G", b"\xff", b"ab"], size=shape))
    if kind == 5:
        return rng.integers(0, 6, size=shape).astype(np.complex64)
    if kind == 6:
        return np.zeros(shape, dtype="datetime64[s]")
    if kind == 7:
        out = np.empty(shape, dtype=object)
        for index in np.ndindex(*shape):
            out[index] = _scalar(rng)
        return out
    return rng.integers(-1000, 1000, size=shape).astype(np.int16)


def _shape(rng: np.random.Generator, task: str) -> tuple[int, ...]:
    n = 9 if task == "sudoku" else 30
    return [
        (n, n),
        (n * n,),
        (n, n - 1),
        (1, n * n),
        (n, n, 1),
        (0,),
        (),
        (int(rng.integers(1, 40)), int(rng.integers(1, 40))),
        (3, 3, 3, 3),
    ][int(rng.integers(9))]


def _valid_form(rng: np.random.Generator, task: str, grid: np.ndarray) -> Any:
    """A valid puzzle in one of the forms a caller may pass, some unusual, some slightly damaged."""
    codec = get_task(task)
    text = codec.to_string(grid)
    forms: list[Callable[[], Any]] = [
        lambda: text,
        lambda: codec.format(grid),
        lambda: grid.tolist(),
        lambda: grid.ravel().tolist(),
        lambda: grid.astype(rng.choice(["int8", "int32", "uint16", "float64"])),
        lambda: np.asmatrix(grid),
        lambda: tuple(tuple(row) for row in grid.tolist()),
        lambda: [np.asarray(row) for row in grid],
        lambda: _LyingList(grid.ravel().tolist(), int(rng.choice([grid.size, 9, 30, 0]))),
        lambda: np.array([list(line) for line in text.splitlines() or [text]]),
        lambda: np.array([line.encode("latin-1") for line in (codec.format(grid).splitlines())]),
    ]
    value = forms[int(rng.integers(len(forms)))]()
    if rng.random() < 0.2 and isinstance(value, list) and value:
        value[int(rng.integers(len(value)))] = _scalar(rng)  # one damaged cell or row
    return value


def odd_input(rng: np.random.Generator, task: str, valid: list[np.ndarray] | None = None) -> Any:
    """One input, anywhere from valid to absurd; ``valid`` grids are shown in many forms."""
    n = 81 if task == "sudoku" else 900
    side = 9 if task == "sudoku" else 30
    if valid and rng.random() < 0.3:
        return _valid_form(rng, task, valid[int(rng.integers(len(valid)))])
    kind = int(rng.integers(12))
    if kind == 0:
        return _text(rng, task, int(rng.choice([n, n - 1, n + 1, 0, 5, int(rng.integers(0, 2 * n))])))
    if kind == 1:
        return _text(rng, task, n).encode("utf-8", "surrogatepass")
    if kind == 2:
        return [int(v) for v in rng.integers(-1, 11, size=n)]
    if kind == 3:
        return [[_scalar(rng) for _ in range(side)] for _ in range(side)]
    if kind == 4:
        rows = [
            [int(v) for v in rng.integers(0, 5, size=int(rng.choice([side, side - 1])))] for _ in range(side)
        ]
        return rows if rng.random() < 0.5 else tuple(rows)
    if kind == 5:
        return _array(rng, _shape(rng, task))
    if kind == 6:
        return np.asmatrix(rng.integers(0, 5 if task == "maze" else 10, size=(side, side)))
    if kind == 7:
        items = [int(v) for v in rng.integers(0, 5, size=int(rng.integers(0, 2 * n)))]
        return _LyingList(items, int(rng.choice([n, side, 0, len(items) + 1])))
    if kind == 8:
        rows = [_text(rng, task, side) for _ in range(int(rng.integers(0, 35)))]
        return rows if rng.random() < 0.5 else np.array(rows)
    if kind == 9:
        rows = [_text(rng, task, side).encode("utf-8", "surrogatepass") for _ in range(side)]
        return np.array(rows) if rng.random() < 0.5 else rows
    if kind == 10:
        return _scalar(rng)
    return [_array(rng, (side,)) for _ in range(side)]


def fuzz(
    task_name: str,
    seed: int = SEED,
    seconds: float = SECONDS,
    solver: Solver | None = None,
    limit: int | None = None,
) -> Stats:
    """Parse odd inputs for ``seconds`` (or ``limit`` inputs, whichever ends first); with ``solver``,
    solve the first ``SOLVED_PER_TASK`` that parse."""
    task = get_task(task_name)
    rng = np.random.default_rng(seed)
    levels = task.levels
    valid = [task.generate(np.random.default_rng(seed + k), levels[k % len(levels)])[0] for k in range(4)]
    stats = Stats()
    deadline = time.perf_counter() + seconds
    solved = 0
    while time.perf_counter() < deadline and (limit is None or stats.tried < limit):
        puzzle = odd_input(rng, task_name, valid)
        stats.tried += 1
        try:
            grid = task.parse(puzzle)
            if solver is not None and solved < SOLVED_PER_TASK:
                solved += 1
                solver.solve(puzzle, max_steps=2, views=1, fallback="none")
        except InvalidPuzzleError:
            stats.typed += 1
            continue
        except Exception as exc:  # the finding: anything but the typed error
            key = f"{type(exc).__name__}"
            stats.raw[key] += 1
            stats.examples.setdefault(key, f"{type(puzzle).__name__}: {exc}"[:200])
            continue
        if type(grid) is not np.ndarray or grid.dtype != np.int8:  # parsed, but not into the task's grid
            stats.raw["parsed into the wrong type"] += 1
            stats.examples.setdefault(
                "parsed into the wrong type", f"{type(puzzle).__name__} -> {type(grid)}"
            )
            continue
        stats.parsed += 1
    return stats


@pytest.mark.parametrize("task_name", ["sudoku", "maze"])
def test_odd_inputs_parse_or_raise_the_typed_error(task_name: str) -> None:
    stats = fuzz(task_name, solver=Solver(task_name, backend="cpu"))
    assert stats.tried >= 200, f"only {stats.tried} inputs in {SECONDS} s"
    assert stats.parsed > 0 and stats.typed > 0  # the generator reaches both sides
    assert not stats.raw, f"raw errors: {dict(stats.raw)}; e.g. {stats.examples}"


def test_the_fuzzer_is_seeded() -> None:
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    for _ in range(50):
        a, b = odd_input(rng_a, "sudoku"), odd_input(rng_b, "sudoku")
        assert repr(a) == repr(b) or "object at" in repr(a)


if __name__ == "__main__":  # python tests/test_fuzz.py [COUNT]: that many inputs a task, however long
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else None
    for name in ("sudoku", "maze"):
        s = fuzz(name, seconds=3600 if limit else SECONDS, solver=Solver(name, backend="cpu"), limit=limit)
        print(
            f"{name}: {s.tried} inputs, {s.parsed} parsed, {s.tried - s.parsed} refused, "
            f"typed share {s.typed_share:.1%}; raw: {dict(s.raw)}"
        )
        for key, example in s.examples.items():
            print(f"  {key}: {example}")
