"""The checks a task passes when it is loaded: its declared shapes, and its codec and verifier on a few
pairs of its own generator.

A plugin's bug found here is one line naming the plugin and what is wrong; found at solve time it would be
a traceback from deep inside numpy, or worse, an answer reported as verified that is not. The checks cost
a few generated puzzles of the easiest level, once per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import limits
from ..errors import TRMError
from ..views import ViewStream
from .base import Task

__all__ = ["check_task"]

_PAIRS = 3  # generated pairs the codec and the verifier are tried on


def check_task(task: Task, where: str, expected: str | None = None) -> None:
    """Raise TRMError, starting with ``where``, at the first thing ``task`` gets wrong."""

    def fail(problem: str) -> TRMError:
        return TRMError(f"{where}: {problem}")

    def call(member: str, *args: Any) -> Any:
        try:
            return getattr(task, member)(*args)
        except Exception as exc:  # the plugin's own exception, reported with where it came from
            raise fail(f"{member}() raised {type(exc).__name__}: {exc}") from exc

    name = getattr(task, "name", None)
    if not isinstance(name, str) or not name.isidentifier():
        raise fail(f"name must be an identifier such as 'futoshiki', not {name!r}")
    if expected is not None and name != expected:
        raise fail(f"is registered as {expected!r} but its name is {name!r}; the two must agree")
    _check_int(task, "seq_len", limits.MAX_SEQ_LEN, fail)
    _check_int(task, "vocab_size", 1 << 16, fail, low=2)
    levels = getattr(task, "levels", None)
    if not (isinstance(levels, tuple) and levels and all(isinstance(v, str) and v for v in levels)):
        raise fail(f"levels must be a non-empty tuple of level names, easiest first, not {levels!r}")

    rng = np.random.default_rng(0)
    pairs = [call("generate", rng, levels[0]) for _ in range(_PAIRS)]
    if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
        raise fail("generate() must return a (puzzle, answer) pair of arrays")
    try:
        puzzles = np.stack([np.asarray(p) for p, _ in pairs])
        answers = np.stack([np.asarray(s) for _, s in pairs])
    except ValueError as exc:
        raise fail(f"generate() returned arrays of differing shapes: {exc}") from exc
    questions = _tokens(call("encode", puzzles), task, "encode(puzzles)", fail)
    # Read back from its text, a puzzle must be the one the network saw (a maze's padding reads back as
    # walls, which it is fed as: the tokens are compared, not the arrays).
    again = np.stack([np.asarray(call("parse", call("to_string", p))) for p in puzzles])
    same = np.asarray(call("encode", again)) == questions
    if not same.all():
        raise fail(
            f"parse(to_string(puzzle)) does not give back generated puzzle {int(np.argmin(same.all(1)))}"
        )
    solved = _tokens(call("encode", answers), task, "encode(answers)", fail)

    decoded = call("decode", _one_hot(solved, task.vocab_size))
    accepted = _flags(call("verify", decoded, puzzles), "verify", fail)
    if not accepted.all():
        raise fail("verify() rejects the generator's own answers (decoded from their tokens)")
    wrong = _corrupted(task, solved, questions)
    if wrong is not None:
        accepted = _flags(
            call("verify", call("decode", _one_hot(wrong, task.vocab_size)), puzzles), "verify", fail
        )
        if accepted.any():
            raise fail("verify() accepts a wrong answer (a generated answer with one filled cell changed)")
    _check_views(task, questions, fail)


def _check_int(task: Task, attr: str, bound: int, fail: Callable[[str], TRMError], low: int = 1) -> None:
    value = getattr(task, attr, None)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= bound:
        raise fail(f"{attr} must be an integer from {low} to {bound}, not {value!r}")


def _tokens(value: Any, task: Task, what: str, fail: Callable[[str], TRMError]) -> np.ndarray:
    tokens = np.asarray(value)
    if tokens.shape != (_PAIRS, task.seq_len) or tokens.dtype.kind not in "iu":
        raise fail(
            f"{what} must be integer tokens of shape ({_PAIRS}, {task.seq_len}), "
            f"got {tokens.dtype} {tokens.shape}"
        )
    if tokens.min() < 0 or tokens.max() >= task.vocab_size:
        raise fail(f"{what} holds tokens outside 0..{task.vocab_size - 1} (vocab_size)")
    return tokens.astype(np.int64)


def _flags(value: Any, what: str, fail: Callable[[str], TRMError]) -> np.ndarray:
    flags = np.asarray(value)
    if flags.shape != (_PAIRS,) or flags.dtype != np.bool_:
        raise fail(
            f"{what}() must return one bool per puzzle, shape ({_PAIRS},), got {flags.dtype} {flags.shape}"
        )
    return flags


def _one_hot(tokens: np.ndarray, vocab: int) -> np.ndarray:
    """Logits that decode to ``tokens``: what a network certain of them would give."""
    return np.eye(vocab, dtype=np.float32)[tokens]


def _corrupted(task: Task, solved: np.ndarray, questions: np.ndarray) -> np.ndarray | None:
    """Each answer with its first filled-in cell (where it differs from the puzzle) set to another token
    that decodes differently; None when some answer has no such cell, so there is nothing to try."""
    out = solved.copy()
    for row, (a, q) in enumerate(zip(solved, questions, strict=True)):
        filled = np.flatnonzero(a != q)
        if not len(filled):
            return None
        pos, original = filled[0], np.asarray(task.decode(_one_hot(a[None], task.vocab_size)))
        for token in range(task.vocab_size):
            out[row, pos] = token
            changed = np.asarray(task.decode(_one_hot(out[row][None], task.vocab_size)))
            if token != a[pos] and not np.array_equal(changed, original):
                break
        else:
            return None
    return out


def _check_views(task: Task, questions: np.ndarray, fail: Callable[[str], TRMError]) -> None:
    """Views the task draws must be permutations of its cells and tokens, as many as it says it has."""
    views = task.max_views
    if isinstance(views, bool) or not isinstance(views, int) or views < 1:
        raise fail(f"max_views must be a positive integer, not {views!r}")
    if views == 1:
        return
    n = min(views - 1, 3)
    try:
        drawn = task.draw_views(ViewStream(0, questions[0]), n)
    except Exception as exc:
        raise fail(f"draw_views() raised {type(exc).__name__}: {exc}") from exc
    cells, tokens = np.asarray(drawn.cells), np.asarray(drawn.tokens)
    if cells.shape != (n, task.seq_len) or tokens.shape != (n, task.vocab_size):
        raise fail(
            f"views must be ({n}, seq_len) cells and ({n}, vocab_size) tokens, "
            f"got {cells.shape}, {tokens.shape}"
        )
    for table, size, what in ((cells, task.seq_len, "cells"), (tokens, task.vocab_size, "tokens")):
        if not (np.sort(table, axis=1) == np.arange(size)).all():
            raise fail(f"every view's {what} must be a permutation of 0..{size - 1}")
