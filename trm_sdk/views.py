"""Verified views: run symmetric copies of a hard puzzle, in growing waves, until one answer verifies.

A view is a symmetry of the task that maps every valid puzzle and its solution to another valid pair
(Sudoku: digit relabelling, transposition, band, stack, row and column shuffles; a maze: the eight
symmetries of the square). The network is not exactly symmetric, so a puzzle it gets wrong as given is
often right in another view. Sudoku and mazes have exact verifiers, so the first view whose answer
verifies is a right answer, never a guess; the network's own confidence only picks the answer reported
when none verifies.

Views act on tokens, as a permutation of the cells and a relabelling of the vocabulary. So a view is
applied to the token batch before the recursion and undone on the logits after it, and decoding and
verification always happen on the puzzle as given. The recursion and the backends see only a larger
batch: every backend gets views for free, and the exported graphs stay one puzzle in, one answer out.

Only puzzles that are still unverified go on, in waves of 1, 3, 12, 48, ... views (so 1, 4, 16, 64 in
all), and all pending views of all puzzles in a batch run as one batch. A puzzle's views are drawn from
its own random stream, :class:`ViewStream`, keyed by ``seed`` and the puzzle itself, so they do not depend
on the batch it came in, and a run with fewer views runs exactly the first views of a run with more.
The stream is a small counter-based generator, specified to the bit (:data:`GENERATOR`, written out in
docs/web-library.md) so that the browser runtime (``web/lib/views.js``) draws the very same views: the
same puzzle, seed and views give the same answer, steps and views count in Python and in a web page.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .recursion import Stop

__all__ = [
    "GENERATOR",
    "ViewRun",
    "ViewStream",
    "Views",
    "apply",
    "puzzle_rng",
    "run_views",
    "undo_logits",
    "waves",
]


@dataclass(frozen=True)
class Views:
    """``n`` views of a task's token layout: view ``k`` shows original cell ``cells[k, i]`` at cell ``i``,
    and original token ``t`` as token ``tokens[k, t]``."""

    cells: np.ndarray  # (n, S) int64
    tokens: np.ndarray  # (n, V) int64

    def __len__(self) -> int:
        return len(self.cells)

    def __getitem__(self, index: np.ndarray | slice) -> Views:
        return Views(self.cells[index], self.tokens[index])


def apply(tokens: np.ndarray, views: Views) -> np.ndarray:
    """(B, S) tokens, one view per row -> the tokens each view shows."""
    rows = np.arange(len(tokens))[:, None]
    return np.take_along_axis(views.tokens, tokens[rows, views.cells], axis=1)


def undo_logits(logits: np.ndarray, views: Views) -> np.ndarray:
    """(B, S, V) logits of the viewed puzzles -> the same beliefs about the puzzles as given."""
    out = np.empty_like(logits)
    rows = np.arange(len(logits))[:, None]
    # Original (cell c_i, token t) is what the view said of (cell i, token tokens[t]).
    out[rows, views.cells] = np.take_along_axis(logits, views.tokens[:, None, :], axis=2)
    return out


def waves(views: int) -> list[int]:
    """How many views each wave runs: 1, then 3, 12, 48, ... (4 times the views so far), capped."""
    sizes, done = [], 0
    while done < views:
        size = min(max(1, 3 * done), views - done)
        sizes.append(size)
        done += size
    return sizes


GENERATOR = "trm-views-1"  # the name of the specification below; web/lib/views.js exports the same
_M32 = 0xFFFFFFFF
_FNV_OFFSET, _FNV_PRIME = 0x811C9DC5, 0x01000193
_GOLDEN = 0x9E3779B9  # the counter's stride before mixing (Weyl sequence)


def _mix32(x: int) -> int:
    """lowbias32 (Wellons): a bijection on 32-bit words whose every output bit depends on every input bit."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & _M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & _M32
    return x ^ (x >> 16)


class ViewStream:
    """The random stream a puzzle's views are drawn from: ``trm-views-1``, the same in every runtime.

    Key: 32-bit word-wise FNV-1a over the words ``seed mod 2**32``, ``seed // 2**32 mod 2**32``, then
    each token of the puzzle as given (none for a stream without a puzzle). Draw ``k`` (k = 1, 2, ...)
    is the word ``mix32(key + k * 0x9E3779B9 mod 2**32)``. Integer choices use one word each:
    ``below(n) = (word * n) >> 32``; a coin is ``word >> 31``; a permutation of 0..n-1 is Fisher-Yates
    from the identity, ``i`` from n-1 down to 1 swapping ``i`` with ``below(i + 1)``. Being a counter
    hash, it needs no state but the count, and its every word is pinned by tests in both languages.
    """

    def __init__(self, seed: int, tokens: np.ndarray | None = None) -> None:
        if seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        words = [seed & _M32, (seed >> 32) & _M32]
        if tokens is not None:
            words += np.asarray(tokens, np.int64).ravel().tolist()
        key = _FNV_OFFSET
        for word in words:
            key = ((key ^ (word & _M32)) * _FNV_PRIME) & _M32
        self.key = key
        self.count = 0  # draws made so far

    def word(self) -> int:
        """The next 32-bit word."""
        self.count += 1
        return _mix32((self.key + self.count * _GOLDEN) & _M32)

    def below(self, n: int) -> int:
        """An integer in 0..n-1 (multiply-shift: bias under n / 2**32, and exactly one word per draw)."""
        return (self.word() * n) >> 32

    def coin(self) -> bool:
        return self.word() >> 31 == 1

    def permutation(self, n: int) -> list[int]:
        """0..n-1 shuffled (Fisher-Yates, from the top)."""
        p = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.below(i + 1)
            p[i], p[j] = p[j], p[i]
        return p


def puzzle_rng(seed: int, tokens: np.ndarray) -> ViewStream:
    """A puzzle's own random stream: the same puzzle and seed give the same views in any batch."""
    return ViewStream(seed, tokens)


@dataclass
class ViewRun:
    """What running views made of a batch: per puzzle, the answer kept and how it was found."""

    logits: np.ndarray  # (B, S, V) of the kept view, about the puzzle as given
    q_halt: np.ndarray  # (B,) halting logit of the kept view at its halting step
    steps: np.ndarray  # (B,) steps the kept view ran
    verified: np.ndarray  # (B,) bool: the kept answer verifies
    view: np.ndarray  # (B,) 0-based index of the kept view (0: the puzzle as given)
    views_run: np.ndarray  # (B,) views run for each puzzle
    pooled: np.ndarray  # (B, S, V) log of the probabilities averaged over every view run, per puzzle


# (tokens (N, S), stop) -> (logits (N, S, V), q_halt (N,), steps (N,)): one batch through the recursion,
# ``stop`` (or None) ending rows early as in :func:`trm_sdk.recursion.run`.
Recurse = Callable[[np.ndarray, "Stop | None"], tuple[np.ndarray, np.ndarray, np.ndarray]]
# (logits (N, S, V) about the puzzles as given, puzzle rows (N,)) -> (N,) bool: which answers verify.
Verify = Callable[[np.ndarray, np.ndarray], np.ndarray]
# (stream, n) -> n distinct views, none of them the identity, drawn from the stream in order.
Draw = Callable[[ViewStream, int], Views]


def run_views(
    tokens: np.ndarray,
    views: int,
    seed: int,
    recurse: Recurse,
    verify: Verify,
    draw: Draw,
    stop_on_verified: bool = False,
    deadline: float | None = None,
) -> ViewRun:
    """Run up to ``views`` views of each puzzle in waves, stopping each puzzle at its first verified view.

    A puzzle with no verified view keeps the view whose halting head was surest (highest q_halt).
    Within a wave, every view of a puzzle ends at the first step where one of them verifies: an answer
    that verifies is final, so its siblings' further steps could only cost time. View 1 runs as the
    single pass does, to its halting step, or with ``stop_on_verified`` until its answer verifies, for
    a model whose halting head is not to be trusted where it runs (a maze model trained on small mazes).

    ``deadline`` (a :func:`time.perf_counter` time, or None) bounds the run: every row ends at the first
    step that finishes past it, keeping its answer so far, and a wave starts only if its first step is
    expected to end before it (one step of the last wave, scaled by rows: an overestimate for small
    batches, so a wave that would overrun does not start). View 1's first step always runs.
    """
    B = len(tokens)
    first_stop = _stop_when_verified(verify) if stop_on_verified else None
    started = time.perf_counter()
    first_logits, first_q, first_steps = recurse(tokens, _until(deadline, first_stop))  # view 1: as given
    # Seconds per step of the last wave and its rows, for the next wave's estimate.
    step_time, step_rows = (time.perf_counter() - started) / max(1, int(first_steps.max())), B
    out = ViewRun(
        logits=first_logits,
        q_halt=first_q.astype(np.float32),
        steps=first_steps.astype(np.int64),
        verified=np.asarray(verify(first_logits, np.arange(B)), bool),
        view=np.zeros(B, np.int64),
        views_run=np.ones(B, np.int64),
        pooled=_softmax(first_logits),  # a sum of probabilities until the end
    )
    if views == 1:
        return _pool(out)
    drawn: dict[int, Views] = {}  # puzzle -> its views 2..views, drawn when first needed
    pending = np.flatnonzero(~out.verified)
    done = 1
    for size in waves(views)[1:]:
        if not len(pending):
            break
        for b in pending:
            if b not in drawn:
                drawn[int(b)] = draw(puzzle_rng(seed, tokens[b]), views - 1)
        rows = np.repeat(pending, size)  # puzzle of each viewed row
        if deadline is not None and time.perf_counter() + step_time * len(rows) / step_rows > deadline:
            break  # not even this wave's first step would end within the budget
        index = np.tile(np.arange(done - 1, done - 1 + size), len(pending))  # its view among 2..views
        batch_views = Views(
            np.stack([drawn[int(b)].cells[k] for b, k in zip(rows, index, strict=True)]),
            np.stack([drawn[int(b)].tokens[k] for b, k in zip(rows, index, strict=True)]),
        )
        started = time.perf_counter()
        logits, q, steps = recurse(
            apply(tokens[rows], batch_views), _until(deadline, _stop_on_verified(rows, batch_views, verify))
        )
        step_time, step_rows = (time.perf_counter() - started) / max(1, int(steps.max())), len(rows)
        logits = undo_logits(logits, batch_views)
        ok = np.asarray(verify(logits, rows), bool).reshape(len(pending), size)
        q = q.reshape(len(pending), size)
        out.pooled[pending] += _softmax(logits).reshape(len(pending), size, *logits.shape[1:]).sum(axis=1)
        for i, b in enumerate(pending):
            hits = np.flatnonzero(ok[i])
            pick = hits[0] if len(hits) else int(np.argmax(q[i]))
            if len(hits) or q[i, pick] > out.q_halt[b]:  # a verified view, or a surer unverified one
                row = i * size + pick
                out.logits[b], out.q_halt[b], out.steps[b] = logits[row], q[i, pick], steps[row]
                out.view[b] = done + pick
                out.verified[b] = bool(len(hits))
            out.views_run[b] = done + size
        done += size
        pending = pending[~out.verified[pending]]
    return _pool(out)


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _pool(run: ViewRun) -> ViewRun:
    """Sums of probabilities -> log of their mean: logits again, for a search to order its guesses by."""
    mean = run.pooled / run.views_run[:, None, None]
    run.pooled = np.log(np.maximum(mean, np.finfo(np.float32).tiny)).astype(np.float32)
    return run


def _until(deadline: float | None, stop: Stop | None) -> Stop | None:
    """``stop``, and also every row once the clock passes ``deadline`` (None: no deadline)."""
    if deadline is None:
        return stop

    def until(rows: np.ndarray, logits: np.ndarray) -> np.ndarray:
        if time.perf_counter() >= deadline:
            return np.ones(len(rows), bool)
        return np.zeros(len(rows), bool) if stop is None else np.asarray(stop(rows, logits), bool)

    return until


def _stop_when_verified(verify: Verify) -> Stop:
    """A ``stop`` for the puzzles as given (row i is puzzle i): end a row once its answer verifies."""

    def stop(rows: np.ndarray, logits: np.ndarray) -> np.ndarray:
        return np.asarray(verify(logits, rows), bool)

    return stop


def _stop_on_verified(puzzle_of: np.ndarray, batch_views: Views, verify: Verify) -> Stop:
    """A ``stop`` for one wave: end every row of a puzzle once any of its rows' answers verifies."""

    def stop(rows: np.ndarray, logits: np.ndarray) -> np.ndarray:
        puzzles = puzzle_of[rows]
        ok = np.asarray(verify(undo_logits(logits, batch_views[rows]), puzzles), bool)
        return np.isin(puzzles, puzzles[ok])

    return stop
