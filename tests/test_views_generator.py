"""The view generator (``trm-views-1``): pinned to the bit, and drawn identically by Python and the browser.

Python (trm_sdk/views.py, the tasks' augment.py) and the web library (web/lib/views.js, sudoku.js, maze.js)
must draw the same views for the same puzzle and seed, or the two runtimes give different answers. The
words are pinned here against their specification, and the JavaScript is run under node on the same
puzzles as the Python (node alone, no browser).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from trm_sdk import views
from trm_sdk.tasks import get_task

SUDOKU, MAZE = get_task("sudoku"), get_task("maze")


def _spec_words(seed: int, tokens: list[int], n: int) -> list[int]:
    """The specification written out again, independently of ViewStream: FNV-1a key, Weyl counter, mixer."""
    m = 2**32
    key = 0x811C9DC5
    for w in [seed % m, (seed // m) % m, *tokens]:
        key = ((key ^ w) * 0x01000193) % m
    out = []
    for k in range(1, n + 1):
        x = (key + k * 0x9E3779B9) % m
        x ^= x >> 16
        x = (x * 0x7FEB352D) % m
        x ^= x >> 15
        x = (x * 0x846CA68B) % m
        out.append(x ^ (x >> 16))
    return out


def test_the_stream_keeps_its_specification() -> None:
    for seed, tokens in [(0, []), (7, [1, 2, 3]), (2**32 + 5, [10] * 81), (2**40 - 1, [0, 5, 4])]:
        stream = views.ViewStream(seed, np.array(tokens, np.int64))
        assert [stream.word() for _ in range(6)] == _spec_words(seed, tokens, 6)
    # Pinned: a change to the generator changes which views every puzzle gets in both runtimes.
    stream = views.ViewStream(0)
    assert [stream.word() for _ in range(4)] == [3554244616, 1116884426, 592816830, 1222670609]
    assert views.GENERATOR == "trm-views-1"
    with pytest.raises(ValueError, match="non-negative"):
        views.ViewStream(-1)


def test_below_and_permutations_are_fair_enough() -> None:
    stream = views.ViewStream(3)
    counts = np.bincount([stream.below(9) for _ in range(18_000)], minlength=9)
    assert counts.min() > 1_800 and counts.max() < 2_200  # 2,000 each expected; 4.5 sigma is ~200
    firsts = np.bincount([stream.permutation(3)[0] for _ in range(3_000)], minlength=3)
    assert firsts.min() > 880
    assert sorted(views.ViewStream(1).permutation(9)) == list(range(9))


def test_fewer_views_are_the_first_of_more() -> None:
    tokens = SUDOKU.encode(SUDOKU.generate(np.random.default_rng(1), "minimal")[0][None])[0]
    few = SUDOKU.draw_views(views.puzzle_rng(5, tokens), 3)
    many = SUDOKU.draw_views(views.puzzle_rng(5, tokens), 63)
    assert np.array_equal(few.cells, many.cells[:3]) and np.array_equal(few.tokens, many.tokens[:3])


_NODE_DRAW = """
import { readFileSync } from 'node:fs';
const [dir, inputPath] = process.argv.slice(2);
const v = await import(new URL('lib/views.js', dir));
const sudoku = await import(new URL('lib/sudoku.js', dir));
const maze = await import(new URL('lib/maze.js', dir));
const input = JSON.parse(readFileSync(inputPath, 'utf8'));
const codecs = {
  sudoku: new sudoku.Codec(input.encodings.sudoku),
  maze: new maze.Codec(input.encodings.maze),
};
const out = input.cases.map(({ task, seed, tokens, n }) => {
  const drawn = codecs[task].drawViews(new v.ViewStream(seed, tokens), n);
  return drawn.map((view) => [Array.from(view.cells), Array.from(view.tokens)]);
});
const words = input.words.map(({ seed, tokens }) => {
  const s = new v.ViewStream(seed, tokens);
  return Array.from({ length: 5 }, () => s.word());
});
console.log(JSON.stringify({ generator: v.GENERATOR, out, words }));
"""


def test_python_and_the_web_library_draw_the_same_views(run_node: Callable[..., Any]) -> None:
    """25 Sudoku puzzles (63 views each: the default 64 less the puzzle as given) and 10 mazes (7 each)."""
    rng = np.random.default_rng(36)
    cases = []
    for k in range(25):
        tokens = SUDOKU.encode(SUDOKU.generate(rng, "minimal")[0][None])[0]
        cases.append(("sudoku", k * 977, tokens, 63))
    maze_rng = np.random.default_rng(37)
    for k in range(10):
        tokens = MAZE.encode(MAZE.generate(maze_rng, "easy")[0][None])[0]
        cases.append(("maze", k, tokens, 7))
    word_cases = [(0, []), (2**33 + 17, [3, 1, 4, 1, 5]), (9_007_199_254_740_991, [2] * 900)]
    out = run_node(
        _NODE_DRAW,
        {
            "encodings": {"sudoku": SUDOKU.encoding(), "maze": MAZE.encoding()},
            "cases": [{"task": t, "seed": s, "tokens": tok.tolist(), "n": n} for t, s, tok, n in cases],
            "words": [{"seed": s, "tokens": tok} for s, tok in word_cases],
        },
    )
    assert out["generator"] == views.GENERATOR
    for (seed, tokens), js in zip(word_cases, out["words"], strict=True):
        assert js == _spec_words(seed, tokens, 5)
    for (task_name, seed, tokens, n), js in zip(cases, out["out"], strict=True):
        task = SUDOKU if task_name == "sudoku" else MAZE
        drawn = task.draw_views(views.puzzle_rng(seed, tokens), n)
        assert np.array_equal(np.array([c for c, _ in js]), drawn.cells), (task_name, seed)
        assert np.array_equal(np.array([t for _, t in js]), drawn.tokens), (task_name, seed)
